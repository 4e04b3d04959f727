"""Cython wrappers of src_c/act.c: flat C-contiguous buffers, sizes checked here so the
C kernels never read or write out of bounds. Shapes/dtypes are validated in fastnn.ops."""
from cython cimport floating

from fastnn._kernels cimport (
    FNN_ACT_COUNT, fnn_act_bwd_uses_x, fnn_dact_bwd, fnn_dact_fwd, fnn_dlog_softmax_bwd,
    fnn_dlog_softmax_fwd, fnn_dsoftmax_bwd, fnn_dsoftmax_fwd, fnn_sact_bwd, fnn_sact_fwd,
    fnn_slog_softmax_bwd, fnn_slog_softmax_fwd, fnn_ssoftmax_bwd, fnn_ssoftmax_fwd,
)

include "_isa.pxi"


cdef _same(name, Py_ssize_t got, Py_ssize_t want):
    if got != want:
        raise ValueError(f"{name} has {got} elements, expected {want}")


cdef _check_act(int act):
    if act < 0 or act >= FNN_ACT_COUNT:
        raise ValueError(f"unknown activation id {act}")


def act_uses_x(int act):
    """True if the derivative of activation ``act`` needs its input x (gelu, silu)."""
    _check_act(act)
    return bool(fnn_act_bwd_uses_x(act))


def act_fwd(int act, double param, const floating[::1] x, floating[::1] y):
    """y := act(x)"""
    _check_act(act)
    cdef size_t n = x.shape[0]
    _same("y", y.shape[0], n)
    if n == 0:
        return
    with nogil:
        if floating is float:
            fnn_sact_fwd(act, param, &x[0], &y[0], n)
        else:
            fnn_dact_fwd(act, param, &x[0], &y[0], n)


def act_bwd(int act, double param, const floating[::1] xy, const floating[::1] dy,
            floating[::1] dx):
    """dx := dy * act'(.) from xy = x if act_uses_x(act) else y"""
    _check_act(act)
    cdef size_t n = dy.shape[0]
    _same("x/y", xy.shape[0], n)
    _same("dx", dx.shape[0], n)
    if n == 0:
        return
    with nogil:
        if floating is float:
            fnn_sact_bwd(act, param, &xy[0], &xy[0], &dy[0], &dx[0], n)
        else:
            fnn_dact_bwd(act, param, &xy[0], &xy[0], &dy[0], &dx[0], n)


def softmax_fwd(const floating[::1] x, floating[::1] y, size_t rows, size_t cols,
                bint log=False):
    """y := softmax(x) (or log_softmax) over each row of x[rows, cols]"""
    _same("x", x.shape[0], rows * cols)
    _same("y", y.shape[0], rows * cols)
    if rows * cols == 0:
        return
    with nogil:
        if floating is float:
            if log:
                fnn_slog_softmax_fwd(&x[0], &y[0], rows, cols)
            else:
                fnn_ssoftmax_fwd(&x[0], &y[0], rows, cols)
        else:
            if log:
                fnn_dlog_softmax_fwd(&x[0], &y[0], rows, cols)
            else:
                fnn_dsoftmax_fwd(&x[0], &y[0], rows, cols)


def softmax_bwd(const floating[::1] y, const floating[::1] dy, floating[::1] dx,
                size_t rows, size_t cols, bint log=False):
    """dx := softmax'(x)^T dy from y = softmax(x) (or log_softmax(x))"""
    _same("y", y.shape[0], rows * cols)
    _same("dy", dy.shape[0], rows * cols)
    _same("dx", dx.shape[0], rows * cols)
    if rows * cols == 0:
        return
    with nogil:
        if floating is float:
            if log:
                fnn_slog_softmax_bwd(&y[0], &dy[0], &dx[0], rows, cols)
            else:
                fnn_ssoftmax_bwd(&y[0], &dy[0], &dx[0], rows, cols)
        else:
            if log:
                fnn_dlog_softmax_bwd(&y[0], &dy[0], &dx[0], rows, cols)
            else:
                fnn_dsoftmax_bwd(&y[0], &dy[0], &dx[0], rows, cols)
