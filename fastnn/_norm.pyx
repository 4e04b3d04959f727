"""Cython wrappers of src_c/norm.c (batch norm over rows, layer norm over columns)."""
from cython cimport floating

from fastnn._kernels cimport (
    fnn_dbatch_norm_bwd, fnn_dbatch_norm_fwd_eval, fnn_dbatch_norm_fwd_train,
    fnn_dlayer_norm_bwd, fnn_dlayer_norm_fwd, fnn_sbatch_norm_bwd, fnn_sbatch_norm_fwd_eval,
    fnn_sbatch_norm_fwd_train, fnn_slayer_norm_bwd, fnn_slayer_norm_fwd,
)

include "_isa.pxi"


cdef _same(name, Py_ssize_t got, Py_ssize_t want):
    if got != want:
        raise ValueError(f"{name} has {got} elements, expected {want}")


def batch_norm_fwd_train(const floating[::1] x, const floating[::1] gamma,
                         const floating[::1] beta, floating[::1] y, floating[::1] mean,
                         floating[::1] invstd, floating[::1] run_mean, floating[::1] run_var,
                         size_t n, size_t c, double momentum, double eps, bint unbiased=True):
    """y := gamma (x - mu_B) / sqrt(var_B + eps) + beta; running stats updated"""
    _same("x", x.shape[0], n * c)
    _same("y", y.shape[0], n * c)
    for name, v in (("gamma", gamma), ("beta", beta), ("mean", mean), ("invstd", invstd),
                    ("running_mean", run_mean), ("running_var", run_var)):
        _same(name, v.shape[0], c)
    if n * c == 0:
        return
    with nogil:
        if floating is float:
            fnn_sbatch_norm_fwd_train(&x[0], &gamma[0], &beta[0], &y[0], &mean[0],
                                      &invstd[0], &run_mean[0], &run_var[0], n, c,
                                      momentum, eps, unbiased)
        else:
            fnn_dbatch_norm_fwd_train(&x[0], &gamma[0], &beta[0], &y[0], &mean[0],
                                      &invstd[0], &run_mean[0], &run_var[0], n, c,
                                      momentum, eps, unbiased)


def batch_norm_fwd_eval(const floating[::1] x, const floating[::1] gamma,
                        const floating[::1] beta, floating[::1] y,
                        const floating[::1] run_mean, const floating[::1] run_var,
                        size_t n, size_t c, double eps):
    """y := gamma (x - running_mean) / sqrt(running_var + eps) + beta"""
    _same("x", x.shape[0], n * c)
    _same("y", y.shape[0], n * c)
    for name, v in (("gamma", gamma), ("beta", beta), ("running_mean", run_mean),
                    ("running_var", run_var)):
        _same(name, v.shape[0], c)
    if n * c == 0:
        return
    with nogil:
        if floating is float:
            fnn_sbatch_norm_fwd_eval(&x[0], &gamma[0], &beta[0], &y[0], &run_mean[0],
                                     &run_var[0], n, c, eps)
        else:
            fnn_dbatch_norm_fwd_eval(&x[0], &gamma[0], &beta[0], &y[0], &run_mean[0],
                                     &run_var[0], n, c, eps)


def norm_bwd(bint layer, const floating[::1] x, const floating[::1] dy,
             const floating[::1] gamma, const floating[::1] mean, const floating[::1] invstd,
             floating[::1] dx, floating[::1] dgamma, floating[::1] dbeta, size_t n, size_t c):
    """Backward of batch norm (layer=False, stats [c]) or layer norm (stats [n])"""
    for name, v in (("x", x), ("dy", dy), ("dx", dx)):
        _same(name, v.shape[0], n * c)
    for name, v in (("gamma", gamma), ("dgamma", dgamma), ("dbeta", dbeta)):
        _same(name, v.shape[0], c)
    _same("mean", mean.shape[0], n if layer else c)
    _same("invstd", invstd.shape[0], n if layer else c)
    if n * c == 0:
        if c:
            dgamma[:] = 0
            dbeta[:] = 0
        return
    with nogil:
        if floating is float:
            if layer:
                fnn_slayer_norm_bwd(&x[0], &dy[0], &gamma[0], &mean[0], &invstd[0], &dx[0],
                                    &dgamma[0], &dbeta[0], n, c)
            else:
                fnn_sbatch_norm_bwd(&x[0], &dy[0], &gamma[0], &mean[0], &invstd[0], &dx[0],
                                    &dgamma[0], &dbeta[0], n, c)
        else:
            if layer:
                fnn_dlayer_norm_bwd(&x[0], &dy[0], &gamma[0], &mean[0], &invstd[0], &dx[0],
                                    &dgamma[0], &dbeta[0], n, c)
            else:
                fnn_dbatch_norm_bwd(&x[0], &dy[0], &gamma[0], &mean[0], &invstd[0], &dx[0],
                                    &dgamma[0], &dbeta[0], n, c)


def layer_norm_fwd(const floating[::1] x, const floating[::1] gamma, const floating[::1] beta,
                   floating[::1] y, floating[::1] mean, floating[::1] invstd, size_t n,
                   size_t d, double eps):
    """y := gamma (x - mu_row) / sqrt(var_row + eps) + beta"""
    _same("x", x.shape[0], n * d)
    _same("y", y.shape[0], n * d)
    for name, v in (("gamma", gamma), ("beta", beta)):
        _same(name, v.shape[0], d)
    _same("mean", mean.shape[0], n)
    _same("invstd", invstd.shape[0], n)
    if n * d == 0:
        return
    with nogil:
        if floating is float:
            fnn_slayer_norm_fwd(&x[0], &gamma[0], &beta[0], &y[0], &mean[0], &invstd[0], n, d,
                                eps)
        else:
            fnn_dlayer_norm_fwd(&x[0], &gamma[0], &beta[0], &y[0], &mean[0], &invstd[0], n, d,
                                eps)
