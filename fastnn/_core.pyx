"""Build and runtime configuration: ISA selection and OpenMP threads."""
import os
import sys

from fastnn._kernels cimport (
    FNN_ISA_COUNT, fnn_best_isa, fnn_cpu_supports, fnn_get_isa, fnn_get_max_threads,
    fnn_isa_compiled, fnn_isa_name, fnn_openmp_version, fnn_probe_avx2, fnn_probe_avx512,
    fnn_probe_generic, fnn_set_isa, fnn_set_num_threads, fnn_set_flush_denormal,
    fnn_get_flush_denormal, fnn_flush_denormal_supported,
)

ISA_NAMES = tuple(fnn_isa_name(i).decode() for i in range(FNN_ISA_COUNT))


def compiled_isas():
    """Names of the SIMD paths this build contains."""
    return [ISA_NAMES[i] for i in range(FNN_ISA_COUNT) if fnn_isa_compiled(i)]


def supported_isas():
    """Names of the SIMD paths this build contains and this CPU can run."""
    return [ISA_NAMES[i] for i in range(FNN_ISA_COUNT)
            if fnn_isa_compiled(i) and fnn_cpu_supports(i)]


def _isa_id(name):
    name = str(name).strip().lower()
    if name not in ISA_NAMES:
        raise ValueError(
            f"unknown ISA {name!r}; expected one of {', '.join(ISA_NAMES)}")
    isa = ISA_NAMES.index(name)
    if not fnn_isa_compiled(isa):
        raise ValueError(f"ISA {name!r} is not compiled into this build of fastnn "
                         f"(compiled: {', '.join(compiled_isas())})")
    if not fnn_cpu_supports(isa):
        raise ValueError(f"ISA {name!r} is not supported by this CPU "
                         f"(supported: {', '.join(supported_isas())})")
    return isa


def _initial_isa():
    forced = os.environ.get("FASTNN_ISA", "").strip()
    if forced and forced.lower() != "auto":
        try:
            return _isa_id(forced)
        except ValueError as e:
            raise ImportError(f"FASTNN_ISA={forced!r}: {e}") from None
    return fnn_best_isa()


_selected = _initial_isa()
fnn_set_isa(_selected)


def selected_isa_id():
    """Kernel-table row that extensions select when imported."""
    return _selected


def get_isa():
    """Name of the SIMD path in use: 'generic', 'avx2' or 'avx512'."""
    return ISA_NAMES[fnn_get_isa()]


def set_isa(name):
    """Switch every loaded fastnn extension to SIMD path ``name`` (for testing).

    Prefer the ``FASTNN_ISA`` environment variable, read once at import.
    """
    global _selected
    isa = _isa_id(name)
    _selected = isa
    fnn_set_isa(isa)
    for mod_name, mod in list(sys.modules.items()):
        if mod_name.startswith("fastnn._") and hasattr(mod, "_set_isa"):
            mod._set_isa(isa)
    return ISA_NAMES[isa]


_flush = True
fnn_set_flush_denormal(_flush)


def selected_flush_denormal():
    """Whether optimizer steps flush denormals; extensions take it when imported."""
    return _flush


def set_flush_denormal(bint mode):
    """Set it in every loaded fastnn extension; True if the CPU supports flushing."""
    global _flush
    _flush = mode
    fnn_set_flush_denormal(mode)
    for mod_name, mod in list(sys.modules.items()):
        if mod_name.startswith("fastnn._") and hasattr(mod, "_set_flush_denormal"):
            mod._set_flush_denormal(mode)
    return bool(fnn_flush_denormal_supported())


def get_flush_denormal():
    """Whether optimizer steps flush denormals now (False where unsupported)."""
    return bool(fnn_get_flush_denormal())


def isa_probe():
    """Vector width in bits that the selected path was compiled for (0: generic)."""
    isa = fnn_get_isa()
    if isa == 1:
        return fnn_probe_avx2()
    if isa == 2:
        return fnn_probe_avx512()
    return fnn_probe_generic()


def openmp_version():
    """The ``_OPENMP`` date the kernels were built with (0: built without OpenMP)."""
    return fnn_openmp_version()


def get_num_threads():
    """Threads the next parallel kernel may use (OpenMP's max threads)."""
    return fnn_get_max_threads()


def set_num_threads(int n):
    """Set the threads used by fastnn's kernels (OpenMP's ``omp_set_num_threads``)."""
    if n < 1:
        raise ValueError(f"set_num_threads expects n >= 1, got n={n}")
    fnn_set_num_threads(n)
