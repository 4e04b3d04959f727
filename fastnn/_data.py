"""Validation and conversion of user arrays before any kernel sees them."""
import math
import mmap
import numbers

import numpy as np

__all__ = ["check_x", "check_y", "check_sample_weight", "check_positive_int"]


HUGE_PAGE = 2 << 20


def _zeros_huge(nbytes):
    """``nbytes`` zero bytes starting at a 2 MiB boundary, the whole 2 MiB blocks among them
    marked for transparent huge pages (Linux; None elsewhere or if the kernel refuses).
    The rest of the mapping is never touched, so it costs address space, not memory."""
    flags = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0)
    if not hasattr(mmap, "MADV_HUGEPAGE") or not flags or nbytes < HUGE_PAGE:
        return None
    try:
        mm = mmap.mmap(-1, nbytes + HUGE_PAGE, flags=flags)   # private: shared memory has
        buf = np.frombuffer(mm, np.uint8)                     # its own huge page setting
        off = -buf.ctypes.data % HUGE_PAGE
        mm.madvise(mmap.MADV_HUGEPAGE, off, nbytes // HUGE_PAGE * HUGE_PAGE)
    except (OSError, ValueError):
        return None
    return buf[off:off + nbytes]


def zeros_aligned(shape, dtype, align=64, huge=False):
    """``np.zeros(shape, dtype)`` starting at an ``align``-byte boundary (NumPy gives 16):
    the kernels' 64-byte vectors then never split a cache line on rows whose length is a
    multiple of 64 bytes (a 784-512 layer's weights: one load in 33 rather than 32 per row
    of the batch-1 GEMV, and every load of the optimizer's streams).

    ``huge``: from 2 MiB on, start at a 2 MiB boundary on transparent huge pages where the
    system has them. A 4 KiB page lands in any of the L2's page colours, so a matrix that
    nearly fills the L2 overfills some of its sets; a 2 MiB page maps its bytes to the
    sets in order. The model's parameter arena takes them (batch-1 predict streams it)."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    if huge and HUGE_PAGE % align == 0:
        buf = _zeros_huge(n * dtype.itemsize)
        if buf is not None:
            return buf.view(dtype).reshape(shape)
    buf = np.zeros(n * dtype.itemsize + align, np.uint8)
    off = -buf.ctypes.data % align
    return buf[off:off + n * dtype.itemsize].view(dtype).reshape(shape)


def _as_numeric(a, name):
    try:
        arr = np.asarray(a)
    except Exception as e:  # ragged lists and the like
        raise TypeError(f"{name} must be array-like of numbers ({e})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}"
                        + (" (object arrays are refused)" if arr.dtype.kind == "O" else ""))
    return arr


def all_finite(arr):
    """``np.isfinite(arr).all()`` for a C-contiguous float array, in one C pass without a
    temporary (split over threads when large: MNIST's 47M pixels at each fit)."""
    from fastnn import _reduce
    return _reduce.all_finite(arr.reshape(-1))


def _first_nonfinite(arr):
    bad = np.argwhere(~np.isfinite(arr))[0]
    return tuple(int(i) for i in bad), arr[tuple(bad)]


def keras_x(X, x, where):
    """The inputs, passed positionally or as ``X=`` (scikit-learn's name) or ``x=``
    (Keras's)."""
    if x is None:
        if X is None:
            raise TypeError(f"{where}() needs the inputs X")
        return X
    if X is not None:
        raise TypeError(f"{where}(): pass the inputs once, as X or as x")
    return x


def check_x(X, dtype, input_shape=None, name="X", allow_nonfinite=False):
    """A C-contiguous ``dtype`` array ``[n, *input_shape]`` with n >= 1, finite by default."""
    arr = _as_numeric(X, name)
    if arr.ndim < 2:
        raise ValueError(f"{name} must have a batch axis and features, i.e. at least 2 "
                         f"dimensions; got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if input_shape is not None and tuple(arr.shape[1:]) != tuple(input_shape):
        raise ValueError(f"{name} has samples of shape {arr.shape[1:]}; the model expects "
                         f"{tuple(input_shape)}")
    if math.prod(arr.shape[1:]) == 0:
        raise ValueError(f"{name} has no features (shape {arr.shape})")
    out = _c_array(arr, dtype)
    if not allow_nonfinite and arr.dtype.kind == "f" and not all_finite(out):
        where, val = _first_nonfinite(out)
        raise ValueError(f"{name} contains non-finite values ({val} at index {where}); clean "
                         "the data or pass allow_nonfinite=True")
    return out


def _c_array(arr, dtype):
    """arr as a C-contiguous, aligned ndarray of dtype (copied only when it is not): the
    kernels' element loads assume alignment (UBSan aborts on a misaligned one)."""
    return np.require(arr, dtype=dtype, requirements=["C", "A", "E"])


def check_y(y, n, loss, n_outputs, dtype, name="y"):
    """Targets for ``loss``: int64 labels ``[n]`` or ``dtype`` ``[n, n_outputs]``."""
    arr = _as_numeric(y, name)
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0] if arr.ndim else 0} samples but X has {n}")
    if loss.name == "softmax_cross_entropy" and arr.ndim == 2 and arr.shape[1] == 1 and \
            n_outputs > 1:
        arr = arr.reshape(n)  # a column of labels, as Keras takes them
    if loss.name == "softmax_cross_entropy" and arr.ndim == 1:
        if arr.dtype.kind == "f":
            if not np.isfinite(arr).all() or np.any(arr != np.round(arr)):
                raise ValueError(f"{name}: class labels must be integers; got non-integral "
                                 "floats (pass one-hot targets of shape [n, classes] instead)")
        labels = arr.astype(np.int64)
        lo, hi = (int(labels.min()), int(labels.max())) if n else (0, 0)
        if lo < 0 or hi >= n_outputs:
            raise ValueError(f"{name}: labels must be in [0, {n_outputs - 1}] for a model with "
                             f"{n_outputs} outputs; got values from {lo} to {hi}")
        return labels
    if arr.ndim == 1 and n_outputs == 1:
        arr = arr.reshape(n, 1)
    if arr.shape != (n, n_outputs):
        raise ValueError(f"{name} must have shape ({n}, {n_outputs})"
                         + (f" or ({n},) integer labels" if loss.classification else "")
                         + f" for this model; got {arr.shape}")
    out = _c_array(arr, dtype)
    if not np.isfinite(out).all():
        where, val = _first_nonfinite(out)
        raise ValueError(f"{name} contains non-finite values ({val} at index {where})")
    if loss.name == "binary_cross_entropy" and (out.min() < 0 or out.max() > 1):
        raise ValueError(f"{name}: binary cross-entropy targets must be in [0, 1]; got values "
                         f"from {out.min()} to {out.max()}")
    return out


def check_sample_weight(sw, n, dtype, name="sample_weight"):
    if sw is None:
        return None
    arr = _as_numeric(sw, name).reshape(-1) if np.ndim(sw) else None
    if arr is None or arr.shape[0] != n:
        raise ValueError(f"{name} must have one weight per sample ({n}); got shape {np.shape(sw)}")
    if not np.isfinite(arr).all() or arr.min() < 0:
        raise ValueError(f"{name} must be finite and >= 0")
    return _c_array(arr, dtype)


def check_positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return int(value)
