"""Cython wrappers of src_c/loss.c: flat C-contiguous buffers, sizes and labels checked
here so the C kernels never read out of bounds. Shapes/dtypes are validated in fastnn.ops."""
from cython cimport floating
from libc.stdint cimport int64_t

cimport numpy as cnp

from fastnn._kernels cimport (
    FNN_REDUCE_MEAN, FNN_REDUCE_SUM, fnn_dbce_logits_loss, fnn_dbce_loss, fnn_dhuber_loss,
    fnn_dmae_loss, fnn_dmse_loss, fnn_dsoftmax_xent, fnn_sbce_logits_loss, fnn_sbce_loss,
    fnn_shuber_loss, fnn_smae_loss, fnn_smse_loss, fnn_ssoftmax_xent,
)

include "_isa.pxi"

cnp.import_array()

KINDS = {"mse": 0, "mae": 1, "huber": 2, "bce": 3, "bce_logits": 4}
REDUCTIONS = {"mean": FNN_REDUCE_MEAN, "sum": FNN_REDUCE_SUM}


cdef _same(name, Py_ssize_t got, Py_ssize_t want):
    if got != want:
        raise ValueError(f"{name} has {got} elements, expected {want}")


def elementwise_loss(int kind, const floating[::1] pred, const floating[::1] target, sw,
                     floating[::1] grad, size_t n, size_t k, double delta, int reduction):
    """loss = sum_i sw_i sum_j l(pred_ij, target_ij) [/ (n k)]; grad := d loss / d pred"""
    cdef const floating[::1] swv
    cdef const floating *swp = NULL
    cdef double loss = 0.0
    _same("pred", pred.shape[0], n * k)
    _same("target", target.shape[0], n * k)
    _same("grad", grad.shape[0], n * k)
    if kind < 0 or kind > 4:
        raise ValueError(f"unknown loss kind {kind}")
    if sw is not None:
        swv = sw
        _same("sample_weight", swv.shape[0], n)
        if n:
            swp = &swv[0]
    if n * k == 0:
        return 0.0
    with nogil:
        if floating is float:
            if kind == 0:
                loss = fnn_smse_loss(&pred[0], &target[0], swp, &grad[0], n, k, reduction)
            elif kind == 1:
                loss = fnn_smae_loss(&pred[0], &target[0], swp, &grad[0], n, k, reduction)
            elif kind == 2:
                loss = fnn_shuber_loss(&pred[0], &target[0], swp, &grad[0], n, k, delta,
                                       reduction)
            elif kind == 3:
                loss = fnn_sbce_loss(&pred[0], &target[0], swp, &grad[0], n, k, reduction)
            else:
                loss = fnn_sbce_logits_loss(&pred[0], &target[0], swp, &grad[0], n, k,
                                            reduction)
        else:
            if kind == 0:
                loss = fnn_dmse_loss(&pred[0], &target[0], swp, &grad[0], n, k, reduction)
            elif kind == 1:
                loss = fnn_dmae_loss(&pred[0], &target[0], swp, &grad[0], n, k, reduction)
            elif kind == 2:
                loss = fnn_dhuber_loss(&pred[0], &target[0], swp, &grad[0], n, k, delta,
                                       reduction)
            elif kind == 3:
                loss = fnn_dbce_loss(&pred[0], &target[0], swp, &grad[0], n, k, reduction)
            else:
                loss = fnn_dbce_logits_loss(&pred[0], &target[0], swp, &grad[0], n, k,
                                            reduction)
    return loss


cdef char *_ptr(cnp.ndarray a, str name, Py_ssize_t size, int typenum,
               bint write=False) except NULL:
    """Data pointer of a C-contiguous native-byte-order array of the given type and size,
    else raise."""
    if cnp.PyArray_TYPE(a) != typenum:
        raise TypeError(f"{name} has dtype {a.dtype}, expected {cnp.PyArray_DescrFromType(typenum)}")
    if cnp.PyArray_SIZE(a) != size:
        raise ValueError(f"{name} has {cnp.PyArray_SIZE(a)} elements, expected {size}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{name} must be C-contiguous")
    if not cnp.PyArray_ISNOTSWAPPED(a):
        raise ValueError(f"{name} must be in the machine's byte order; got {a.dtype.str!r}")
    if write and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{name} is read-only")
    return <char *>cnp.PyArray_DATA(a)


def softmax_xent(cnp.ndarray logits, labels, target, cw, sw, cnp.ndarray grad, size_t n,
                 size_t c, double smoothing, int reduction):
    """Fused softmax cross-entropy: returns the loss, writes grad := d loss / d logits.
    Exactly one of labels (int64 [n], checked in [0, c)) and target ([n*c]) is given.
    Plain ndarray arguments (no fused memoryviews) keep the call overhead ~1 us, which
    dominates small batches."""
    cdef int tn = cnp.PyArray_TYPE(logits)
    cdef const int64_t *lp = NULL
    cdef const char *tp = NULL
    cdef const char *cwp = NULL
    cdef const char *swp = NULL
    cdef double loss = 0.0
    cdef size_t i
    cdef int64_t bad = -1
    if tn != cnp.NPY_FLOAT32 and tn != cnp.NPY_FLOAT64:
        raise TypeError(f"logits must be float32 or float64, got {logits.dtype}")
    cdef const char *zp = _ptr(logits, "logits", n * c, tn)
    cdef char *gp = _ptr(grad, "grad", n * c, tn, True)
    if (labels is None) == (target is None):
        raise ValueError("give exactly one of labels and target")
    if c == 0 and n > 0:
        raise ValueError("logits must have at least one class")
    if labels is not None:
        lp = <const int64_t *>_ptr(labels, "labels", n, cnp.NPY_INT64)
        with nogil:
            for i in range(n):
                if lp[i] < 0 or lp[i] >= <int64_t>c:
                    bad = <int64_t>i
                    break
        if bad >= 0:
            raise ValueError(f"labels[{bad}] = {lp[bad]} is outside [0, {c})")
    else:
        tp = _ptr(target, "target", n * c, tn)
    if cw is not None:
        cwp = _ptr(cw, "class_weight", c, tn)
    if sw is not None:
        swp = _ptr(sw, "sample_weight", n, tn)
    if n * c == 0:
        return 0.0
    with nogil:
        if tn == cnp.NPY_FLOAT32:
            loss = fnn_ssoftmax_xent(<const float *>zp, lp, <const float *>tp,
                                     <const float *>cwp, <const float *>swp, <float *>gp,
                                     n, c, smoothing, reduction)
        else:
            loss = fnn_dsoftmax_xent(<const double *>zp, lp, <const double *>tp,
                                     <const double *>cwp, <const double *>swp,
                                     <double *>gp, n, c, smoothing, reduction)
    return loss
