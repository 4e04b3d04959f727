"""GEMM on NumPy arrays: C := act(alpha * op(A) op(B) + beta * C + bias).

A thin validated wrapper over ``fnn_sgemm``/``fnn_dgemm`` (src_c/gemm.c). Every array
is checked (dtype, shape, row layout, overlap) before the C call, so the kernel can
trust its pointers; the GIL is released around the call.
"""
include "_isa.pxi"

import threading

import numpy as np

cimport numpy as cnp
from libc.string cimport memset

from fastnn._kernels cimport (
    FNN_ACT_IDENTITY, FNN_ACT_LEAKY_RELU, FNN_ACT_RELU, FNN_ACT_SIGMOID, FNN_ACT_TANH,
    fnn_dgemm, fnn_epilogue, fnn_gemm_ws_bytes, fnn_get_max_threads, fnn_sgemm,
)

cnp.import_array()

#: activation name -> FNN_ACT_* id understood by the GEMM epilogue
ACTIVATIONS = {"identity": FNN_ACT_IDENTITY, "relu": FNN_ACT_RELU,
               "leaky_relu": FNN_ACT_LEAKY_RELU, "sigmoid": FNN_ACT_SIGMOID,
               "tanh": FNN_ACT_TANH}
LEAKY_RELU_SLOPE = 0.01

_tls = threading.local()  # one packing workspace per Python thread, grown on demand


def parse_activation(activation):
    """``None | name | (name, param)`` -> (name, id, param); leaky_relu's param is its slope."""
    name, param = activation, None
    if activation is None:
        return "identity", FNN_ACT_IDENTITY, 0.0
    if isinstance(activation, tuple):
        if len(activation) != 2:
            raise TypeError("activation tuple must be (name, param); "
                            f"got activation={activation!r}")
        name, param = activation
    if not isinstance(name, str):
        raise TypeError("activation must be None, a name or a (name, param) tuple; "
                        f"got activation={activation!r}")
    key = name.lower()
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected None or one of "
                         f"{', '.join(repr(k) for k in ACTIVATIONS)}")
    if param is not None and key != "leaky_relu":
        raise ValueError(f"activation {name!r} takes no parameter; got activation={activation!r}")
    if key == "leaky_relu":
        param = LEAKY_RELU_SLOPE if param is None else float(param)
        if not np.isfinite(param):
            raise ValueError(f"leaky_relu slope must be finite; got {param!r}")
    return key, ACTIVATIONS[key], (0.0 if param is None else param)


def _matrix(x, str name, dtype=None):
    if not isinstance(x, np.ndarray):
        x = np.asarray(x) if dtype is None else np.asarray(x, dtype=dtype)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array; got {name}.ndim={x.ndim} "
                         f"(shape {x.shape})")
    return x


def _check_dtype(x, str name, dtype):
    if x.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} like a; got {name}.dtype={x.dtype}")


def _row_stride(x, str name):
    """Leading dimension in elements; rows must be contiguous and not overlap."""
    item, (rows, cols) = x.itemsize, x.shape
    if rows == 0 or cols == 0:  # nothing is read or written
        return max(cols, 1)
    if cols > 1 and x.strides[1] != item:
        raise ValueError(f"{name} must have contiguous rows (stride {item} along axis 1); got "
                         f"{name}.strides={x.strides}. Use np.ascontiguousarray({name}) or "
                         "trans_a/trans_b for transposed views")
    if rows <= 1 or cols == 0:
        return max(cols, 1)
    if x.strides[0] % item or x.strides[0] // item < cols:
        raise ValueError(f"{name} has an unsupported row stride: {name}.strides={x.strides} "
                         f"for shape {x.shape} (rows must not overlap or run backwards)")
    return x.strides[0] // item


def _output(x, str name, shape, dtype):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray; got {type(x).__name__}")
    _check_dtype(x, name, dtype)
    if x.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {name}.shape={x.shape}")
    if not x.flags.writeable:
        raise ValueError(f"{name} is read-only")
    return x


def _no_overlap(x, str name, others):
    for y, yname in others:
        if y is not None and np.may_share_memory(x, y):
            raise ValueError(f"{name} must not share memory with {yname}")


def workspace_bytes(dtype, m, n, k, nthreads):
    """Packing workspace fnn_<s|d>gemm needs for ``nthreads`` threads (selected ISA)."""
    return fnn_gemm_ws_bytes(np.dtype(dtype).itemsize, m, n, k, nthreads)


cdef char *_workspace(size_t nbytes):
    buf = getattr(_tls, "ws", None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(max(nbytes, 1), dtype=np.uint8)
        _tls.ws = buf
    return <char *>cnp.PyArray_DATA(buf)


def matmul(a, b, *, trans_a=False, trans_b=False, bias=None, activation=None, alpha=1.0,
           beta=0.0, out=None, preact=None, dact_y=None):
    """C := act(alpha * op(a) @ op(b) + beta * C + bias); see ``fastnn.ops.matmul``."""
    return _matmul(a, b, trans_a, trans_b, bias, activation, alpha, beta, out, preact, dact_y)


def _matmul(a, b, trans_a=False, trans_b=False, bias=None, activation=None, alpha=1.0,
            beta=0.0, out=None, preact=None, dact_y=None, ws_limit=None):
    """matmul with a test hook: ``ws_limit`` caps the workspace bytes handed to C
    (0 passes NULL), to exercise the unpacked fallback and the thread cap."""
    cdef fnn_epilogue epi
    cdef int ta = bool(trans_a), tb = bool(trans_b), nt
    cdef ptrdiff_t m, n, k, lda, ldb, ldc
    cdef double al = float(alpha), be = float(beta)
    cdef char *pa
    cdef char *pb
    cdef char *pc
    cdef char *ws
    cdef size_t ws_bytes
    cdef bint plain, single
    cdef fnn_epilogue *pe
    a = _matrix(a, "a")
    if a.dtype != np.float32 and a.dtype != np.float64:
        raise TypeError(f"a must have dtype float32 or float64; got a.dtype={a.dtype}")
    dtype = a.dtype
    b = _matrix(b, "b", dtype)
    _check_dtype(b, "b", dtype)
    m, k = (a.shape[1], a.shape[0]) if ta else (a.shape[0], a.shape[1])
    kb, n = (b.shape[1], b.shape[0]) if tb else (b.shape[0], b.shape[1])
    if k != kb:
        raise ValueError(f"inner dimensions differ: op(a) is {m}x{k} (a.shape={a.shape}, "
                         f"trans_a={bool(trans_a)}), op(b) is {kb}x{n} (b.shape={b.shape}, "
                         f"trans_b={bool(trans_b)})")
    lda, ldb = _row_stride(a, "a"), _row_stride(b, "b")
    name, epi.act, epi.act_param = parse_activation(activation)
    epi.bias = NULL
    epi.preact = NULL
    epi.dact_y = NULL
    epi.ld_preact = epi.ld_dact_y = 0
    if be != 0 and out is None:
        raise ValueError(f"beta={beta!r} accumulates into C: pass out= holding C")
    if out is None:
        out = np.empty((m, n), dtype=dtype)
    else:
        _output(out, "out", (m, n), dtype)
        _no_overlap(out, "out", [(a, "a"), (b, "b"), (bias, "bias")])
    ldc = _row_stride(out, "out")
    if bias is not None:
        if not isinstance(bias, np.ndarray):
            bias = np.asarray(bias, dtype=dtype)
        _check_dtype(bias, "bias", dtype)
        if bias.shape != (n,):
            raise ValueError(f"bias must have shape ({n},); got bias.shape={bias.shape}")
        if n > 1 and bias.strides[0] != bias.itemsize:
            raise ValueError(f"bias must be contiguous; got bias.strides={bias.strides}")
        epi.bias = cnp.PyArray_DATA(bias)
    if preact is not None:
        _output(preact, "preact", (m, n), dtype)
        _no_overlap(preact, "preact", [(a, "a"), (b, "b"), (out, "out"), (bias, "bias")])
        epi.ld_preact = _row_stride(preact, "preact")
        epi.preact = cnp.PyArray_DATA(preact)
    if dact_y is not None:
        dact_y = _matrix(dact_y, "dact_y")
        _check_dtype(dact_y, "dact_y", dtype)
        if dact_y.shape != (m, n):
            raise ValueError(f"dact_y must have shape {(m, n)}; got dact_y.shape={dact_y.shape}")
        same = (dact_y.__array_interface__["data"][0] == out.__array_interface__["data"][0]
                and dact_y.strides == out.strides)
        if not same:  # Y read and C written element by element: only exact aliasing is safe
            _no_overlap(dact_y, "dact_y", [(out, "out"), (preact, "preact")])
        epi.ld_dact_y = _row_stride(dact_y, "dact_y")
        epi.dact_y = cnp.PyArray_DATA(dact_y)
    plain = (epi.act == FNN_ACT_IDENTITY and epi.bias == NULL and epi.preact == NULL
             and epi.dact_y == NULL)
    nt = fnn_get_max_threads()
    ws_bytes = fnn_gemm_ws_bytes(dtype.itemsize, m, n, k, nt)
    if ws_limit is not None:
        ws_bytes = min(ws_bytes, <size_t>ws_limit)
    ws = _workspace(ws_bytes) if ws_bytes else NULL
    pa = <char *>cnp.PyArray_DATA(a)
    pb = <char *>cnp.PyArray_DATA(b)
    pc = <char *>cnp.PyArray_DATA(out)
    pe = NULL if plain else &epi
    single = dtype.itemsize == 4
    with nogil:
        if single:
            fnn_sgemm(ta, tb, m, n, k, <float>al, <float *>pa, lda, <float *>pb, ldb, <float>be,
                      <float *>pc, ldc, pe, ws, ws_bytes)
        else:
            fnn_dgemm(ta, tb, m, n, k, al, <double *>pa, lda, <double *>pb, ldb, be,
                      <double *>pc, ldc, pe, ws, ws_bytes)
    return out
