"""GEMM on NumPy arrays: C := act(alpha * op(A) op(B) + beta * C + bias).

A thin validated wrapper over ``fnn_sgemm``/``fnn_dgemm`` (src_c/gemm.c). Every array
is checked (dtype, shape, row layout, overlap) before the C call, so the kernel can
trust its pointers; the GIL is released around the call. The checks read the array
structs directly: on batch-1 problems Python overhead is a visible share of the time.
"""
include "_isa.pxi"

import threading

import numpy as np

from fastnn import _checks

cimport numpy as cnp

from fastnn._kernels cimport (
    FNN_ACT_IDENTITY, FNN_ACT_LEAKY_RELU, FNN_ACT_RELU, FNN_ACT_SIGMOID, FNN_ACT_TANH,
    fnn_dall_finite, fnn_dgemm, fnn_dnonzero_bits, fnn_dsparse_product, fnn_epilogue,
    fnn_gemm_ws_bytes, fnn_sparse_bytes, fnn_ssparse_product,
    fnn_get_max_threads, fnn_sall_finite, fnn_sgemm, fnn_snonzero_bits,
)
from libc.math cimport isfinite
from libc.stdint cimport int32_t, uint64_t

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


cdef cnp.ndarray _matrix(x, str name, int typenum):
    """x as a 2-D ndarray; lists are converted (to the dtype of a when typenum >= 0), and
    arrays not in the machine's byte order or not aligned to their item size (views of
byte buffers) are copied."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x) if typenum < 0 else np.asarray(x, dtype=cnp.PyArray_DescrFromType(typenum))
    if not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>x):  # the kernels read native floats
        x = x.astype(x.dtype.newbyteorder("="))
    elif not cnp.PyArray_ISALIGNED(<cnp.ndarray>x):  # and aligned ones (C's rule)
        x = np.require(x, requirements=["A"])
    if cnp.PyArray_NDIM(<cnp.ndarray>x) != 2:
        raise ValueError(f"{name} must be a 2-D array; got {name}.ndim={x.ndim} "
                         f"(shape {x.shape})")
    return <cnp.ndarray>x


cdef int _check_dtype(cnp.ndarray x, str name, int typenum) except -1:
    if cnp.PyArray_TYPE(x) != typenum:
        raise TypeError(f"{name} must have dtype {cnp.PyArray_DescrFromType(typenum)} like a; "
                        f"got {name}.dtype={(<object>x).dtype}")
    if not cnp.PyArray_ISNOTSWAPPED(x):
        raise ValueError(f"{name} must be in the machine's byte order; got "
                         f"{name}.dtype={(<object>x).dtype.str!r}")
    return 0


cdef ptrdiff_t _row_stride(cnp.ndarray x, str name) except -1:
    """Leading dimension in elements; rows must be contiguous and not overlap."""
    cdef cnp.npy_intp item = cnp.PyArray_ITEMSIZE(x)
    cdef cnp.npy_intp rows = cnp.PyArray_DIM(x, 0), cols = cnp.PyArray_DIM(x, 1)
    cdef cnp.npy_intp s0 = cnp.PyArray_STRIDE(x, 0), s1 = cnp.PyArray_STRIDE(x, 1)
    if rows == 0 or cols == 0:  # nothing is read or written
        return max(cols, 1)
    if cols > 1 and s1 != item:
        raise ValueError(f"{name} must have contiguous rows (stride {item} along axis 1); got "
                         f"{name}.strides={(<object>x).strides}. Use np.ascontiguousarray({name}) or "
                         "trans_a/trans_b for transposed views")
    if rows == 1:
        return cols
    if s0 % item or s0 // item < cols:
        raise ValueError(f"{name} has an unsupported row stride: {name}.strides={(<object>x).strides} "
                         f"for shape {(<object>x).shape} (rows must not overlap or run backwards)")
    return s0 // item


cdef int _output(cnp.ndarray x, str name, cnp.npy_intp m, cnp.npy_intp n, int typenum) except -1:
    _check_dtype(x, name, typenum)
    if cnp.PyArray_NDIM(x) != 2 or cnp.PyArray_DIM(x, 0) != m or cnp.PyArray_DIM(x, 1) != n:
        raise ValueError(f"{name} must have shape {(m, n)}; got {name}.shape={(<object>x).shape}")
    if not cnp.PyArray_ISWRITEABLE(x):
        raise ValueError(f"{name} is read-only")
    if not cnp.PyArray_ISALIGNED(x):
        raise ValueError(f"{name} is not aligned to its item size (a view at an odd offset "
                         f"of a byte buffer?); it is written in place, so pass an aligned array")
    return 0


cdef bint _extent(cnp.ndarray x, char **lo, char **hi):
    """Byte range [lo, hi) that x spans (the bounds np.may_share_memory checks); 0 if empty."""
    cdef int d
    cdef cnp.npy_intp s, span
    lo[0] = hi[0] = <char *>cnp.PyArray_DATA(x)
    for d in range(cnp.PyArray_NDIM(x)):
        if cnp.PyArray_DIM(x, d) == 0:
            return 0
        s = cnp.PyArray_STRIDE(x, d)
        span = s * (cnp.PyArray_DIM(x, d) - 1)
        if span < 0:
            lo[0] += span
        else:
            hi[0] += span
    hi[0] += cnp.PyArray_ITEMSIZE(x)
    return 1


cdef int _no_overlap(cnp.ndarray x, str name, y, str yname) except -1:
    cdef char *xl
    cdef char *xh
    cdef char *yl
    cdef char *yh
    if y is None or not _extent(x, &xl, &xh) or not _extent(<cnp.ndarray>y, &yl, &yh):
        return 0
    if xl < yh and yl < xh:
        raise ValueError(f"{name} must not share memory with {yname}")
    return 0


def workspace_bytes(dtype, m, n, k, nthreads):
    """Packing workspace fnn_<s|d>gemm needs for ``nthreads`` threads (selected ISA)."""
    return fnn_gemm_ws_bytes(np.dtype(dtype).itemsize, m, n, k, nthreads)


cdef char *_workspace(size_t nbytes) except? NULL:
    buf = getattr(_tls, "ws", None)
    if buf is None or <size_t>cnp.PyArray_NBYTES(<cnp.ndarray>buf) < nbytes:
        buf = np.empty(max(nbytes, 1), dtype=np.uint8)
        _tls.ws = buf
    return <char *>cnp.PyArray_DATA(<cnp.ndarray>buf)


cdef int _set_epilogue(fnn_epilogue *epi, activation, bias, preact, dact_y, cnp.ndarray out,
                       cnp.ndarray a, cnp.ndarray b, cnp.npy_intp m, cnp.npy_intp n,
                       int typenum) except -1:
    """Fill *epi from the keyword arguments after checking every array they name."""
    cdef cnp.ndarray arr
    if activation is None:
        epi.act, epi.act_param = FNN_ACT_IDENTITY, 0.0
    else:
        _, epi.act, epi.act_param = parse_activation(activation)
    epi.bias = epi.preact = epi.dact_y = NULL
    epi.nonfinite = NULL
    epi.ld_preact = epi.ld_dact_y = 0
    if bias is not None:
        if not isinstance(bias, np.ndarray):
            bias = np.asarray(bias, dtype=(<object>out).dtype)
        arr = bias
        _check_dtype(arr, "bias", typenum)
        if not cnp.PyArray_ISALIGNED(arr):
            arr = bias = np.require(bias, requirements=["A"])
        if cnp.PyArray_NDIM(arr) != 1 or cnp.PyArray_DIM(arr, 0) != n:
            raise ValueError(f"bias must have shape ({n},); got bias.shape={(<object>arr).shape}")
        if n > 1 and cnp.PyArray_STRIDE(arr, 0) != cnp.PyArray_ITEMSIZE(arr):
            raise ValueError(f"bias must be contiguous; got bias.strides={(<object>arr).strides}")
        _no_overlap(out, "out", arr, "bias")
        epi.bias = cnp.PyArray_DATA(arr)
    if preact is not None:
        if not isinstance(preact, np.ndarray):
            raise TypeError(f"preact must be a numpy.ndarray; got {type(preact).__name__}")
        arr = preact
        _output(arr, "preact", m, n, typenum)
        for other, oname in ((a, "a"), (b, "b"), (out, "out"), (bias, "bias")):
            _no_overlap(arr, "preact", other, oname)
        epi.ld_preact = _row_stride(arr, "preact")
        epi.preact = cnp.PyArray_DATA(arr)
    if dact_y is not None:
        arr = _matrix(dact_y, "dact_y", typenum)
        _check_dtype(arr, "dact_y", typenum)
        if cnp.PyArray_DIM(arr, 0) != m or cnp.PyArray_DIM(arr, 1) != n:
            raise ValueError(f"dact_y must have shape {(m, n)}; got dact_y.shape={(<object>arr).shape}")
        # not even exactly: over several K panels C holds partial sums before the
        # epilogue reads Y at the same place
        _no_overlap(arr, "dact_y", out, "out")
        _no_overlap(arr, "dact_y", preact, "preact")
        epi.ld_dact_y = _row_stride(arr, "dact_y")
        epi.dact_y = cnp.PyArray_DATA(arr)
    return 0


cdef bint _finite_rows(const void *p, cnp.npy_intp rows, cnp.npy_intp cols, ptrdiff_t ld,
                       int typenum) noexcept nogil:
    """Whether a rows x cols block (row stride ld elements) holds no NaN or inf."""
    cdef cnp.npy_intp i
    if ld == cols:
        cols, rows = cols * rows, 1
    for i in range(rows):
        if typenum == cnp.NPY_FLOAT32:
            if not fnn_sall_finite(<const float *>p + i * ld, cols):
                return 0
        elif not fnn_dall_finite(<const double *>p + i * ld, cols):
            return 0
    return 1


cdef _gemm(a, b, bint ta, bint tb, bias, activation, double alpha, double beta, out,
           preact, dact_y, Py_ssize_t ws_limit, int check):
    """The GEMM; with ``check``, NaN/inf in a, b, bias or (beta != 0) out raise ValueError.

    A NaN or inf anywhere in a or b reaches z = alpha op(a) op(b) + beta C + bias: a NaN
    spreads along its row or column and inf * x is inf or (x = 0) NaN. So when z (m x n)
    is smaller than a and b together, which is most MLP shapes (a batch-1 product scans
    512 outputs instead of 400k weights), this checks z after the call and scans a and b
    only to name the culprit (or when a finite z overflowed). z is C itself without an
    epilogue; with one, the epilogue checks each z tile before the activation, while it
    is in L1 (sigmoid(inf) would read as 1 afterwards). Otherwise (the weight gradient
    784x128x512 TN: 165k operand elements, 401k outputs) a and b are scanned first.
    """
    cdef fnn_epilogue epi
    cdef fnn_epilogue *pe = NULL
    cdef int nonfinite = 0
    cdef cnp.ndarray A = _matrix(a, "a", -1)
    cdef cnp.ndarray B, C
    cdef int typenum = cnp.PyArray_TYPE(A)
    cdef cnp.npy_intp m, n, k, kb
    cdef cnp.npy_intp dims[2]
    cdef ptrdiff_t lda, ldb, ldc
    cdef size_t ws_bytes
    cdef char *ws
    cdef void *pa
    cdef void *pb
    cdef void *pc
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        raise TypeError(f"a must have dtype float32 or float64; got a.dtype={(<object>A).dtype}")
    B = _matrix(b, "b", typenum)
    _check_dtype(B, "b", typenum)
    m, k = cnp.PyArray_DIM(A, 1 if ta else 0), cnp.PyArray_DIM(A, 0 if ta else 1)
    kb, n = cnp.PyArray_DIM(B, 1 if tb else 0), cnp.PyArray_DIM(B, 0 if tb else 1)
    if k != kb:
        raise ValueError(f"inner dimensions differ: op(a) is {m}x{k} (a.shape={(<object>A).shape}, "
                         f"trans_a={ta}), op(b) is {kb}x{n} (b.shape={(<object>B).shape}, trans_b={tb})")
    lda, ldb = _row_stride(A, "a"), _row_stride(B, "b")
    if not (isfinite(alpha) and isfinite(beta)):
        raise ValueError(f"alpha and beta must be finite; got alpha={alpha!r}, beta={beta!r}")
    if beta != 0 and out is None:
        raise ValueError(f"beta={beta!r} accumulates into C: pass out= holding C")
    if out is None:
        dims[0], dims[1] = m, n
        C = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray; got {type(out).__name__}")
        C = out
        _output(C, "out", m, n, typenum)
        _no_overlap(C, "out", A, "a")
        _no_overlap(C, "out", B, "b")
    ldc = _row_stride(C, "out")
    if check and (m == 0 or n == 0 or alpha == 0 or <double>k * (m + n) <= <double>m * n):
        if not _finite_rows(cnp.PyArray_DATA(A), cnp.PyArray_DIM(A, 0), cnp.PyArray_DIM(A, 1),
                            lda, typenum):
            _checks.finite("a", A)
        if not _finite_rows(cnp.PyArray_DATA(B), cnp.PyArray_DIM(B, 0), cnp.PyArray_DIM(B, 1),
                            ldb, typenum):
            _checks.finite("b", B)
        check = 2  # operands done: only bias and out below
    if check and beta != 0 and not _finite_rows(cnp.PyArray_DATA(C), m, n, ldc, typenum):
        _checks.finite("out", C)
    if activation is not None or bias is not None or preact is not None or dact_y is not None:
        _set_epilogue(&epi, activation, bias, preact, dact_y, C, A, B, m, n, typenum)
        if epi.act != FNN_ACT_IDENTITY or epi.bias or epi.preact or epi.dact_y:
            pe = &epi
        if check and epi.bias and not _finite_rows(epi.bias, 1, n, n, typenum):
            _checks.finite("bias", np.asarray(bias))
        if check == 1 and pe != NULL:
            epi.nonfinite = &nonfinite     # the epilogue checks z on each tile in L1
    ws_bytes = fnn_gemm_ws_bytes(cnp.PyArray_ITEMSIZE(A), m, n, k, fnn_get_max_threads())
    if ws_limit >= 0:
        ws_bytes = min(ws_bytes, <size_t>ws_limit)
    ws = _workspace(ws_bytes) if ws_bytes else NULL
    pa, pb, pc = cnp.PyArray_DATA(A), cnp.PyArray_DATA(B), cnp.PyArray_DATA(C)
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            fnn_sgemm(ta, tb, m, n, k, <float>alpha, <float *>pa, lda, <float *>pb, ldb,
                      <float>beta, <float *>pc, ldc, pe, ws, ws_bytes)
        else:
            fnn_dgemm(ta, tb, m, n, k, alpha, <double *>pa, lda, <double *>pb, ldb, beta,
                      <double *>pc, ldc, pe, ws, ws_bytes)
    if check == 1:
        if pe == NULL:
            nonfinite = not _finite_rows(pc, m, n, ldc, typenum)
        if nonfinite:
            _checks.finite("a", A)
            _checks.finite("b", B)
    return C


def matmul(a, b, *, trans_a=False, trans_b=False, bias=None, activation=None, alpha=1.0,
           beta=0.0, out=None, preact=None, dact_y=None):
    """C := act(alpha * op(a) @ op(b) + beta * C + bias), fused in one C kernel.

    NaN or inf in a, b, bias or (``beta != 0``) out raise ValueError naming it,
    unless the call runs inside ``fastnn.ops.allow_nonfinite()``.

    Parameters
    ----------
    a : ndarray, float32 or float64, shape (m, k), or (k, m) if ``trans_a``
    b : ndarray, same dtype, shape (k, n), or (n, k) if ``trans_b``
        Rows must be contiguous (any row stride >= row length is fine); pass a
        transposed operand through ``trans_a``/``trans_b`` instead of ``x.T``.
    trans_a, trans_b : bool
        ``op(x) = x.T`` when set (forward NN, weight gradient TN, input gradient NT).
    bias : ndarray, shape (n,), optional
    activation : None, str or (str, float)
        ``None``/``"identity"``, ``"relu"``, ``"leaky_relu"`` (slope 0.01, or
        ``("leaky_relu", slope)``), ``"sigmoid"``, ``"tanh"``.
    alpha, beta : float
        ``beta != 0`` accumulates into ``out`` (which must then hold C); ``beta == 0``
        never reads ``out``.
    out : ndarray, shape (m, n), optional
        Filled and returned; a new array when omitted.
    preact : ndarray, shape (m, n), optional
        Receives ``z = alpha*op(a)@op(b) + beta*C + bias`` before the activation.
    dact_y : ndarray, shape (m, n), optional
        Backward mode: ``C := z * act'(Y)`` with Y = ``dact_y`` the forward output of
        ``activation`` (relu: Y>0, leaky_relu: Y>0 ? 1 : slope, sigmoid: Y(1-Y),
        tanh: 1-Y**2, identity: 1).

    Returns
    -------
    out : ndarray, shape (m, n)
    """
    return _gemm(a, b, trans_a, trans_b, bias, activation, alpha, beta, out, preact, dact_y, -1,
                 not _checks.nonfinite_allowed())


def _matmul(a, b, trans_a=False, trans_b=False, bias=None, activation=None, alpha=1.0,
            beta=0.0, out=None, preact=None, dact_y=None, ws_limit=None):
    """matmul with a test hook: ``ws_limit`` caps the workspace bytes handed to C
    (0 passes NULL), to exercise the unpacked fallback and the thread cap."""
    return _gemm(a, b, trans_a, trans_b, bias, activation, alpha, beta, out, preact, dact_y,
                 -1 if ws_limit is None else ws_limit, 0)


def nonzeros(x):
    """(indices, values) of the non-zero entries of a 1-D float array, NaN included, in
    order, from the row scan of the sparse first layer (plan.c sp_build: one bit per entry),
    for tests."""
    x = np.require(x, requirements=["C", "A"])
    if x.ndim != 1 or x.dtype not in (np.float32, np.float64):
        raise ValueError(f"x must be a 1-D float32 or float64 array; got {x.dtype} {x.shape}")
    cdef Py_ssize_t n = x.shape[0]
    bits = np.zeros(max((n + 63) // 64, 1), np.uint64)
    cdef uint64_t[::1] bv = bits
    cdef const float[::1] xf
    cdef const double[::1] xd
    if n and x.dtype == np.float32:
        xf = x
        with nogil:
            fnn_snonzero_bits(&xf[0], n, &bv[0])
    elif n:
        xd = x
        with nogil:
            fnn_dnonzero_bits(&xd[0], n, &bv[0])
    idx = np.flatnonzero(np.unpackbits(bits.astype("<u8").view(np.uint8), bitorder="little")[:n])
    return idx.astype(np.int32), x[idx].copy()


def sparse_product(x, b, Py_ssize_t kp, bint grad=False):
    """x·b (``grad`` False; b has x's columns as rows, summed in K panels of ``kp`` columns)
    or xᵀ·b (``grad``; b has x's rows, panels of ``kp`` rows) through the sparse first
    layer's paired non-zeros and kernels (plan.c sp_build, spg.h), for tests: each output
    is the GEMM's sums with exact zero terms left out. Returns (product, entries)."""
    x, b = _matrix(x, "x", -1), _matrix(b, "b", -1)
    if x.dtype not in (np.float32, np.float64) or b.dtype != x.dtype:
        raise TypeError(f"x and b must be float32 or float64 of one dtype; got {x.dtype}, {b.dtype}")
    x, b = np.require(x, requirements=["C", "A"]), np.require(b, requirements=["C", "A"])
    cdef Py_ssize_t m = x.shape[0], k = x.shape[1], n = b.shape[1], e = 0
    if b.shape[0] != (m if grad else k):
        raise ValueError(f"b must have {m if grad else k} rows; got {b.shape[0]}")
    if kp < 1:
        raise ValueError(f"kp must be a positive panel length; got {kp}")
    out = np.zeros((k if grad else m, n), x.dtype)
    if m == 0 or k == 0 or n == 0:
        return out, 0
    cdef int t = fnn_get_max_threads()
    buf = np.zeros(fnn_sparse_bytes(m, k, x.dtype.itemsize, t), np.uint8)
    cdef void *bp = <void *>cnp.PyArray_DATA(buf)
    cdef const float[:, ::1] xf, bf
    cdef const double[:, ::1] xd, bd
    cdef float[:, ::1] of
    cdef double[:, ::1] od
    if x.dtype == np.float32:
        xf, bf, of = x, b, out
        with nogil:
            e = fnn_ssparse_product(&xf[0, 0], m, k, &bf[0, 0], n, kp, grad, &of[0, 0], bp, t)
    else:
        xd, bd, od = x, b, out
        with nogil:
            e = fnn_dsparse_product(&xd[0, 0], m, k, &bd[0, 0], n, kp, grad, &od[0, 0], bp, t)
    return out, e
