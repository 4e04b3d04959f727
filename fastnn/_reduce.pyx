"""Cython wrappers of src_c/reduce.c (bias gradient, norms, penalties, clipping)."""
from cython cimport floating

from fastnn._kernels cimport (
    fnn_dall_finite, fnn_dbias_grad, fnn_dclip_norm, fnn_dclip_value, fnn_dl1_penalty, fnn_dl2_penalty,
    fnn_dmul, fnn_dsum_sq, fnn_sbias_grad, fnn_sclip_norm, fnn_sclip_value, fnn_sl1_penalty,
    fnn_sall_finite, fnn_sl2_penalty, fnn_smul, fnn_ssum_sq,
)

include "_isa.pxi"


cdef _same(name, Py_ssize_t got, Py_ssize_t want):
    if got != want:
        raise ValueError(f"{name} has {got} elements, expected {want}")


def bias_grad(const floating[::1] dy, floating[::1] db, size_t n, size_t k, bint accumulate):
    """db_j := [db_j +] sum_i dy_ij"""
    _same("dy", dy.shape[0], n * k)
    _same("db", db.shape[0], k)
    if k == 0:
        return
    if n == 0:
        if not accumulate:
            db[:] = 0
        return
    with nogil:
        if floating is float:
            fnn_sbias_grad(&dy[0], &db[0], n, k, accumulate)
        else:
            fnn_dbias_grad(&dy[0], &db[0], n, k, accumulate)


def all_finite(const floating[::1] x):
    """True when no x_i is NaN or +-inf"""
    cdef int ok = 1
    if x.shape[0] == 0:
        return True
    with nogil:
        if floating is float:
            ok = fnn_sall_finite(&x[0], x.shape[0])
        else:
            ok = fnn_dall_finite(&x[0], x.shape[0])
    return ok != 0


def sum_sq(const floating[::1] x):
    """sum_i x_i^2 (double accumulation over a fixed partition)"""
    cdef double s = 0.0
    if x.shape[0] == 0:
        return 0.0
    with nogil:
        if floating is float:
            s = fnn_ssum_sq(&x[0], x.shape[0])
        else:
            s = fnn_dsum_sq(&x[0], x.shape[0])
    return s


def penalty(int kind, const floating[::1] p, g, double lam):
    """kind 1: lam sum |p| (g += lam sign p); kind 2: lam sum p^2 (g += 2 lam p)"""
    cdef floating[::1] gv
    cdef floating *gp = NULL
    cdef double r = 0.0
    cdef size_t n = p.shape[0]
    if g is not None:
        gv = g
        _same("grad", gv.shape[0], n)
        if n:
            gp = &gv[0]
    if n == 0:
        return 0.0
    with nogil:
        if floating is float:
            r = fnn_sl1_penalty(&p[0], gp, n, lam) if kind == 1 else fnn_sl2_penalty(&p[0], gp, n, lam)
        else:
            r = fnn_dl1_penalty(&p[0], gp, n, lam) if kind == 1 else fnn_dl2_penalty(&p[0], gp, n, lam)
    return r


def clip_value(floating[::1] g, double clip):
    """g := clip(g, -clip, clip)"""
    if g.shape[0] == 0:
        return
    with nogil:
        if floating is float:
            fnn_sclip_value(&g[0], g.shape[0], clip)
        else:
            fnn_dclip_value(&g[0], g.shape[0], clip)


def clip_norm(floating[::1] g, double max_norm):
    """g *= min(1, max_norm / (||g|| + 1e-6)); returns ||g|| before clipping"""
    cdef double r = 0.0
    if g.shape[0] == 0:
        return 0.0
    with nogil:
        if floating is float:
            r = fnn_sclip_norm(&g[0], g.shape[0], max_norm)
        else:
            r = fnn_dclip_norm(&g[0], g.shape[0], max_norm)
    return r


def mul(const floating[::1] x, const floating[::1] a, floating[::1] out):
    """out := x * a"""
    _same("a", a.shape[0], x.shape[0])
    _same("out", out.shape[0], x.shape[0])
    if x.shape[0] == 0:
        return
    with nogil:
        if floating is float:
            fnn_smul(&x[0], &a[0], &out[0], x.shape[0])
        else:
            fnn_dmul(&x[0], &a[0], &out[0], x.shape[0])
