"""Argument validation shared by fastnn.ops: clear TypeError/ValueError naming the bad
argument and echoing its value, before any C kernel runs.

Inputs that are not C-contiguous or not aligned are copied (np.require); arrays written
in place (``out=``, optimizer parameters and state) must already be C-contiguous,
aligned and writeable, because a copy would silently drop the update.
"""
import contextlib
import contextvars
import math
import numbers

import numpy as np

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# NaN/inf in an input array is an error unless the caller opted in (ops.allow_nonfinite);
# the model's own calls opt in, because it validates user data once at the entry point
# and must see a diverging loss as NaN rather than as an exception.
_ALLOW_NONFINITE = contextvars.ContextVar("fastnn_allow_nonfinite", default=False)


@contextlib.contextmanager
def allow_nonfinite(allow=True):
    """Within the block, fastnn.ops lets NaN and inf in inputs propagate (as NumPy does)."""
    token = _ALLOW_NONFINITE.set(bool(allow))
    try:
        yield
    finally:
        _ALLOW_NONFINITE.reset(token)


def nonfinite_allowed():
    """True inside ``allow_nonfinite()``."""
    return _ALLOW_NONFINITE.get()


def finite(name, a):
    """Raise ValueError naming ``name`` if ``a`` holds NaN or inf (unless allowed)."""
    if _ALLOW_NONFINITE.get() or a.size == 0:
        return a
    flat = a.reshape(-1)
    for i in range(0, flat.size, 1 << 20):
        part = flat[i:i + (1 << 20)]
        if not np.isfinite(part).all():
            j = i + int(np.flatnonzero(~np.isfinite(part))[0])
            raise ValueError(f"{name} contains {flat[j]} at flat index {j}; pass finite values "
                             "or wrap the call in fastnn.ops.allow_nonfinite()")
    return a


def array(name, a, dtype=None):
    """A C-contiguous, aligned float32/float64 array (copied if needed); dtype must match
    if given."""
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if a.dtype not in FLOATS:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype={a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} has dtype={a.dtype} but the other arrays are {dtype}")
    if not (a.flags.c_contiguous and a.flags.aligned):  # the kernels assume both
        a = np.require(a, requirements=["C", "A"])
    return finite(name, a)


def inout(name, a, dtype, shape):
    """An array written in place: same dtype and shape, C-contiguous and writeable."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype={a.dtype}, expected {dtype}")
    if a.shape != tuple(shape):
        raise ValueError(f"{name} has shape {a.shape}, expected {tuple(shape)}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (it is written in place)")
    if not a.flags.writeable:
        raise ValueError(f"{name} is read-only (it is written in place)")
    if not a.flags.aligned:
        raise ValueError(f"{name} is not aligned to its item size (a view at an odd offset of "
                         "a byte buffer?); it is written in place, so pass an aligned array")
    return a


def out_or_new(name, out, dtype, shape, reads=None, apart=False):
    """``out`` checked like ``inout``, or a new array. ``reads`` ({name: array}): the
    inputs, which ``out`` may be exactly (in place) but must not partly overlap: the
    kernels would read elements they have already written. ``apart``: the kernel reads
    its inputs again after writing ``out``, so it may not even be one of them."""
    if out is None:
        return np.empty(shape, dtype)
    out = inout(name, out, dtype, shape)
    for k, a in (reads or {}).items():
        if a is None or not np.may_share_memory(out, a):
            continue
        if apart:
            raise ValueError(f"{name} shares memory with {k}, which this operation reads "
                             "after writing out: pass memory apart from its inputs")
        if not (a.__array_interface__["data"][0] == out.__array_interface__["data"][0]
                and a.shape == out.shape):
            raise ValueError(f"{name} partly overlaps {k}: pass {k} itself to work in place, "
                             "or memory apart from it")
    return out


def same_shape(name, a, shape):
    if a.shape != tuple(shape):
        raise ValueError(f"{name} has shape {a.shape}, expected {tuple(shape)}")
    return a


def number(name, v, lo=None, hi=None, lo_open=False, hi_open=False):
    """A finite real hyperparameter within [lo, hi] (open ends where asked)."""
    if type(v) is not float:  # fast path for the common case; ABC checks cost ~0.3 us
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {name}={v!r}")
        v = float(v)
    bad = not math.isfinite(v)
    bad = bad or (lo is not None and (v < lo or (lo_open and v == lo)))
    bad = bad or (hi is not None and (v > hi or (hi_open and v == hi)))
    if bad:
        rng = f"{'(' if lo_open else '['}{lo if lo is not None else '-inf'}, " \
              f"{hi if hi is not None else 'inf'}{')' if hi_open else ']'}"
        raise ValueError(f"{name} must be finite and in {rng}, got {name}={v!r}")
    return v


def integer(name, v, lo=None):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {name}={v!r}")
    v = int(v)
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be >= {lo}, got {name}={v}")
    return v


def reduction(r):
    if r not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got reduction={r!r}")
    return 0 if r == "mean" else 1
