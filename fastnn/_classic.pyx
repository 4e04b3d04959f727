"""Cython wrapper of the perceptron rule (src_c/classic.c)."""
from libc.stdint cimport int64_t

from fastnn._kernels cimport fnn_dperceptron_epoch, fnn_sperceptron_epoch

ctypedef fused floating:
    float
    double


def perceptron_epoch(const floating[:, ::1] X, const floating[::1] y, floating[::1] w,
                     floating[::1] b, const int64_t[::1] order, double lr):
    """One epoch of w += lr (y - step(w·x + b)) x over rows ``order``; returns mistakes.

    The caller (fastnn.linear.Perceptron) validates shapes and that every index in
    ``order`` is a row of X; this wrapper re-checks sizes so C never reads out of bounds.
    """
    cdef size_t n = order.shape[0], d = X.shape[1], mistakes
    if y.shape[0] != X.shape[0] or w.shape[0] != d or b.shape[0] != 1:
        raise ValueError("perceptron_epoch: inconsistent shapes")
    for i in range(n):
        if order[i] < 0 or order[i] >= X.shape[0]:
            raise ValueError(f"perceptron_epoch: order[{i}]={order[i]} out of range")
    with nogil:
        if floating is float:
            mistakes = fnn_sperceptron_epoch(&X[0, 0] if X.shape[0] else NULL, &y[0] if n else NULL,
                                             &w[0] if d else NULL, &b[0],
                                             &order[0] if n else NULL, n, d, lr)
        else:
            mistakes = fnn_dperceptron_epoch(&X[0, 0] if X.shape[0] else NULL, &y[0] if n else NULL,
                                             &w[0] if d else NULL, &b[0],
                                             &order[0] if n else NULL, n, d, lr)
    return mistakes
