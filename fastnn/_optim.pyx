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


def sgd_step(floating[::1] p, const floating[::1] g, buf, int64_t step, double lr,
             double momentum, double dampening, double weight_decay, bint nesterov):
    """d = g + wd p; momentum buffer b; p -= lr (nesterov ? d + mu b : b)"""
    cdef floating[::1] bv
    cdef floating *bp = NULL
    cdef size_t n = p.shape[0]
    _same("grad", g.shape[0], n)
    if momentum != 0.0:
        if buf is None:
            raise ValueError("momentum != 0 needs a momentum buffer")
        bv = buf
        _same("buf", bv.shape[0], n)
        if n:
            bp = &bv[0]
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
    cdef floating[::1] bv, av
    cdef floating *bp = NULL
    cdef floating *ap = NULL
    cdef size_t n = p.shape[0]
    _same("grad", g.shape[0], n)
    _same("square_avg", sq.shape[0], n)
    if momentum != 0.0:
        if buf is None:
            raise ValueError("momentum != 0 needs a momentum buffer")
        bv = buf
        _same("buf", bv.shape[0], n)
        if n:
            bp = &bv[0]
    if centered:
        if gavg is None:
            raise ValueError("centered=True needs a grad_avg buffer")
        av = gavg
        _same("grad_avg", av.shape[0], n)
        if n:
            ap = &av[0]
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
    cdef floating[::1] vmv
    cdef floating *vmp = NULL
    cdef size_t n = p.shape[0]
    _same("grad", g.shape[0], n)
    _same("m", m.shape[0], n)
    _same("v", v.shape[0], n)
    if amsgrad:
        if vmax is None:
            raise ValueError("amsgrad=True needs a v_max buffer")
        vmv = vmax
        _same("v_max", vmv.shape[0], n)
        if n:
            vmp = &vmv[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            fnn_sadam_step(&p[0], &g[0], &m[0], &v[0], vmp, n, step, lr, beta1, beta2, eps,
                           weight_decay, decoupled, amsgrad)
        else:
            fnn_dadam_step(&p[0], &g[0], &m[0], &v[0], vmp, n, step, lr, beta1, beta2, eps,
                           weight_decay, decoupled, amsgrad)
