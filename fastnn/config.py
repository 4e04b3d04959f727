"""Runtime configuration: threads, SIMD path, and a build/runtime report."""
import os
import platform
import sys

from fastnn import _core
from fastnn._version import __version__

__all__ = ["get_num_threads", "set_num_threads", "get_isa", "show_config",
           "set_flush_denormal", "get_flush_denormal"]

MAX_THREADS = 1024


def get_num_threads():
    """Number of threads fastnn's parallel kernels use.

    Defaults to ``OMP_NUM_THREADS`` when set, else the cores this process may use.
    ``threadpoolctl.threadpool_limits`` changes it, like any OpenMP library.
    """
    return _core.get_num_threads()


def set_num_threads(n):
    """Set the number of threads fastnn's parallel kernels use.

    Parameters
    ----------
    n : int
        Thread count, ``1 <= n <= MAX_THREADS`` (1024). Results do not depend on it
        (bit-identical).
    """
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError(f"set_num_threads expects an integer, got n={n!r}")
    n = int(n)
    if not 1 <= n <= MAX_THREADS:  # each thread gets packing buffers; OpenMP aborts the
        raise ValueError(         # process when it cannot start the threads asked for
            f"set_num_threads expects 1 <= n <= {MAX_THREADS}, got n={n} (this machine "
            f"has {_usable_cores()} usable cores)")
    _core.set_num_threads(n)


def set_flush_denormal(mode):
    """Whether optimizer steps flush denormal numbers to zero (on by default).

    While an optimizer step runs, results and inputs below the smallest normal number
    (1.2e-38 in float32, 2.2e-308 in float64) count as zero (x86's FTZ and DAZ, set on
    the threads doing the step and restored after it), as in TensorFlow's CPU kernels.
    A state that only decays, such as Adam's first moment under zero gradients (the
    weights of pixels that are zero in a whole batch, of dead ReLU units), goes through
    that range, where Intel cores take a slow microcode assist for each vector op: the
    MNIST net's epoch slowed from 1.98 s to 2.45 s over six epochs unflushed and stayed
    at 1.9 s flushed. The weights are the same either way unless a weight is itself
    within a denormal of zero. Adam, AdamW, RMSProp and Adagrad steps with ``eps`` below
    1e-12 never flush: a gradient of 1e-20 squares to a denormal, and flushed, the step
    would be the gradient over eps alone. ``False`` gives IEEE's gradual underflow (the
    steps clear the two flags even on a thread that had them set), as PyTorch's default
    (``torch.set_flush_denormal(False)``) and the NumPy reference do.

    Parameters
    ----------
    mode : bool

    Returns
    -------
    bool
        Whether this CPU supports flushing (x86); elsewhere steps never flush.
    """
    if not isinstance(mode, (bool, __import__("numpy").bool_)):
        raise TypeError(f"set_flush_denormal expects True or False, got mode={mode!r}")
    return _core.set_flush_denormal(bool(mode))


def get_flush_denormal():
    """Whether optimizer steps flush denormals now (``set_flush_denormal``)."""
    return _core.get_flush_denormal()


def get_isa():
    """The SIMD path in use: ``'generic'``, ``'avx2'`` or ``'avx512'``.

    Chosen once at import from the CPU's features; ``FASTNN_ISA`` forces one.
    """
    return _core.get_isa()


def _openmp_library():
    """Path of the OpenMP runtime mapped into this process (Linux), else None."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.rsplit(None, 1)[-1]
                base = os.path.basename(path)
                if base.startswith(("libgomp", "libomp", "libiomp")):
                    return path
    except OSError:
        pass
    return None


def _config_lines():
    omp = _core.openmp_version()
    lib = _openmp_library()
    return [
        f"fastnn {__version__}",
        f"python: {sys.version.split()[0]} ({platform.python_implementation()})",
        f"platform: {platform.platform()} [{platform.machine()}]",
        f"numpy: {__import__('numpy').__version__}",
        f"isa: {get_isa()} (compiled: {', '.join(_core.compiled_isas())}; "
        f"cpu supports: {', '.join(_core.supported_isas())}; "
        f"FASTNN_ISA={os.environ.get('FASTNN_ISA', '<unset>')})",
        f"openmp: {'OpenMP ' + str(omp) if omp else 'none (sequential build)'}"
        + (f" via {lib}" if lib else ""),
        f"optimizer steps flush denormals: {get_flush_denormal()}",
        f"threads: {get_num_threads()} "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '<unset>')}, "
        f"usable cores={_usable_cores()})",
    ]


def _usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def show_config(file=None):
    """Print fastnn's version, SIMD path, OpenMP runtime and thread count."""
    print("\n".join(_config_lines()), file=file if file is not None else sys.stdout)
