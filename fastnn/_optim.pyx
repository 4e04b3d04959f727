"""Cython wrappers of src_c/optim.c: in-place optimizer steps on flat arenas."""
from cython cimport floating
from libc.stdint cimport int64_t

from fastnn._kernels cimport (
    fnn_dadagrad_step, fnn_dadam_step, fnn_drmsprop_step, fnn_dsgd_step, fnn_sadagrad_step,
    fnn_sadam_step, fnn_srmsprop_step, fnn_ssgd_step,
)

include "_isa.pxi"


cdef _same(name, Py_ssize_t got, Py_ssize_t want):
    if got != want:
        raise ValueError(f"{name} has {got} elements, expected {want}")


cdef floating *_state(floating[::1] p, arr, bint used, name, missing) except? NULL:
    """Data of an optional state buffer the length of p: NULL when unused (or empty)."""
    cdef floating[::1] view
    if not used:
        return NULL
    if arr is None:
        raise ValueError(missing)
    view = arr
    _same(name, view.shape[0], p.shape[0])
    return &view[0] if view.shape[0] else NULL


def sgd_step(floating[::1] p, const floating[::1] g, buf, int64_t step, double lr,
             double momentum, double dampening, double weight_decay, bint nesterov):
    """d = g + wd p; momentum buffer b; p -= lr (nesterov ? d + mu b : b)"""
    cdef size_t n = p.shape[0]
    _same("grad", g.shape[0], n)
    cdef floating *bp = _state(p, buf, momentum != 0.0, "buf",
                               "momentum != 0 needs a momentum buffer")
    if n == 0:
        return
    with nogil:
        if floating is float:
            fnn_ssgd_step(&p[0], &g[0], bp, n, step, lr, momentum, dampening, weight_decay,
                          nesterov)
        else:
            fnn_dsgd_step(&p[0], &g[0], bp, n, step, lr, momentum, dampening, weight_decay,
                          nesterov)


def adagrad_step(floating[::1] p, const floating[::1] g, floating[::1] s, int64_t step,
                 double lr, double lr_decay, double eps, double weight_decay):
    """s += d^2; p -= lr_t d / (sqrt(s) + eps)"""
    cdef size_t n = p.shape[0]
    _same("grad", g.shape[0], n)
    _same("sum", s.shape[0], n)
    if n == 0:
        return
    with nogil:
        if floating is float:
            fnn_sadagrad_step(&p[0], &g[0], &s[0], n, step, lr, lr_decay, eps, weight_decay)
        else:
            fnn_dadagrad_step(&p[0], &g[0], &s[0], n, step, lr, lr_decay, eps, weight_decay)


def rmsprop_step(floating[::1] p, const floating[::1] g, floating[::1] sq, buf, gavg,
                 int64_t step, double lr, double alpha, double eps, double weight_decay,
                 double momentum, bint centered):
    """sq = alpha sq + (1-alpha) d^2; optional centring and momentum"""
    cdef size_t n = p.shape[0]
    _same("grad", g.shape[0], n)
    _same("square_avg", sq.shape[0], n)
    cdef floating *bp = _state(p, buf, momentum != 0.0, "buf",
                               "momentum != 0 needs a momentum buffer")
    cdef floating *ap = _state(p, gavg, centered, "grad_avg",
                                "centered=True needs a grad_avg buffer")
    if n == 0:
        return
    with nogil:
        if floating is float:
            fnn_srmsprop_step(&p[0], &g[0], &sq[0], bp, ap, n, step, lr, alpha, eps,
                              weight_decay, momentum, centered)
        else:
            fnn_drmsprop_step(&p[0], &g[0], &sq[0], bp, ap, n, step, lr, alpha, eps,
                              weight_decay, momentum, centered)


def adam_step(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
              vmax, int64_t step, double lr, double beta1, double beta2, double eps,
              double weight_decay, bint decoupled, bint amsgrad):
    """Adam / AdamW (decoupled) with optional AMSGrad, bias-corrected in double"""
    cdef size_t n = p.shape[0]
    _same("grad", g.shape[0], n)
    _same("m", m.shape[0], n)
    _same("v", v.shape[0], n)
    cdef floating *vmp = _state(p, vmax, amsgrad, "v_max", "amsgrad=True needs a v_max buffer")
    if n == 0:
        return
    with nogil:
        if floating is float:
            fnn_sadam_step(&p[0], &g[0], &m[0], &v[0], vmp, n, step, lr, beta1, beta2, eps,
                           weight_decay, decoupled, amsgrad)
        else:
            fnn_dadam_step(&p[0], &g[0], &m[0], &v[0], vmp, n, step, lr, beta1, beta2, eps,
                           weight_decay, decoupled, amsgrad)
