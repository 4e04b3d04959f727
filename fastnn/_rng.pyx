"""Cython wrappers of src_c/rng.c (Philox4x32-10 and inverted dropout)."""
import numpy as np

from cython cimport floating
from libc.stdint cimport uint32_t, uint64_t

from fastnn._kernels cimport (
    fnn_ddropout_fwd, fnn_dropout_threshold, fnn_philox4x32_10, fnn_sdropout_fwd,
)

include "_isa.pxi"


def philox4x32_10(ctr, key):
    """The 4 uint32 words of Philox4x32-10 for counter ctr[4] and key key[2]."""
    cdef uint32_t c[4]
    cdef uint32_t k[2]
    cdef uint32_t out[4]
    for i in range(4):
        c[i] = int(ctr[i]) & 0xFFFFFFFF
    for i in range(2):
        k[i] = int(key[i]) & 0xFFFFFFFF
    fnn_philox4x32_10(c, k, out)
    return np.array([out[0], out[1], out[2], out[3]], dtype=np.uint32)


def dropout_threshold(double p):
    """keep iff (word >> 8) >= this"""
    return fnn_dropout_threshold(p)


def dropout_fwd(x, y, floating[::1] mask, double p, uint64_t seed, uint64_t step):
    """mask := keep / (1 - p), y := x * mask (x, y may be None for the mask only)"""
    cdef const floating[::1] xv
    cdef floating[::1] yv
    cdef const floating *xp = NULL
    cdef floating *yp = NULL
    cdef size_t n = mask.shape[0]
    if (x is None) != (y is None):
        raise ValueError("give both x and y, or neither")
    if x is not None:
        xv = x
        yv = y
        if <size_t>xv.shape[0] != n or <size_t>yv.shape[0] != n:
            raise ValueError(f"x, y and mask sizes differ: {xv.shape[0]}, {yv.shape[0]}, {n}")
        if n:
            xp = &xv[0]
            yp = &yv[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            fnn_sdropout_fwd(xp, yp, &mask[0], n, p, seed, step)
        else:
            fnn_ddropout_fwd(xp, yp, &mask[0], n, p, seed, step)
