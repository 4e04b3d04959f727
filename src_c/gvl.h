/* Batch-1 GEMV over the live (non-zero) inputs alone: a vector template the SIMD files
 * instantiate with their intrinsics (gemm_ukr_avx512.c, the one ISA whose one-row GEMM
 * runs a row kernel, gemv_rows, that sums as this does).
 *
 * y[0..n) := Σ_q x[idx[q]] · W[idx[q], 0..n) over q < nl in order, W row k at w + k * ldw:
 * each output one chain of FMAs from zero in k order, as the GEMV row kernel's, so where
 * the skipped inputs are zero y is the one-row GEMM's (up to the sign of a zero, and W's
 * inf or NaN met by a zero input). plan.c runs the hidden layers of a one-row predict
 * through it: after ReLU about half of a layer's inputs are zero, and the rows of W they
 * would multiply are never read. NB = NV · W outputs at a time stay in registers over all
 * of idx, and the row AHEAD live rows on is prefetched (the skipped rows break the
 * sequential stream the hardware prefetchers follow). */
#ifndef FNN_GVL_H
#define FNN_GVL_H

#include "fastnn.h"

#define FNN_GVL_AHEAD 4

#define FNN_GVL_DECL(NAME, T)                                                             \
    void NAME(ptrdiff_t nl, const ptrdiff_t *idx, const T *x, const T *w, ptrdiff_t ldw,  \
              ptrdiff_t n, T *y)

/* Columns [j0, n) one at a time (FMA1: the scalar FMA) */
#define FNN_GVL_SCALAR_COLS(T, FMA1, nl, idx, x, w, ldw, j0, n, y)                        \
    do {                                                                                  \
        for (ptrdiff_t j_ = (j0); j_ < (n); ++j_) {                                       \
            T t_ = 0;                                                                     \
            for (ptrdiff_t q_ = 0; q_ < (nl); ++q_)                                       \
                t_ = FMA1((x)[(idx)[q_]], (w)[(idx)[q_] * (ldw) + j_], t_);               \
            (y)[j_] = t_;                                                                 \
        }                                                                                 \
    } while (0)

/* One block of NVB vectors (a compile-time constant once unrolled) at column j */
#define FNN_GVL_BLOCK(T, V, NVB, W, SET1, LOADU, STOREU, FMADD, ZERO, nl, idx, x, w, ldw, j, y) \
    do {                                                                                  \
        V acc_[NVB];                                                                      \
        FNN_UKR_UNROLL for (int v_ = 0; v_ < (NVB); ++v_) acc_[v_] = ZERO();              \
        for (ptrdiff_t q_ = 0; q_ < (nl); ++q_) {                                         \
            const T *wr_ = (w) + (idx)[q_] * (ldw) + (j);                                 \
            const V s_ = SET1((x)[(idx)[q_]]);                                            \
            if (q_ + FNN_GVL_AHEAD < (nl)) {                                              \
                const char *pf_ = (const char *)((w) + (idx)[q_ + FNN_GVL_AHEAD] * (ldw) + (j)); \
                for (int c_ = 0; c_ < (int)((NVB) * (W) * sizeof(T)); c_ += 64)           \
                    __builtin_prefetch(pf_ + c_, 0, 3);                                   \
            }                                                                             \
            FNN_UKR_UNROLL for (int v_ = 0; v_ < (NVB); ++v_)                             \
                acc_[v_] = FMADD(s_, LOADU(wr_ + v_ * (W)), acc_[v_]);                    \
        }                                                                                 \
        FNN_UKR_UNROLL for (int v_ = 0; v_ < (NVB); ++v_)                                 \
            STOREU((y) + (j) + v_ * (W), acc_[v_]);                                       \
    } while (0)

/* The vector kernel: blocks of NV vectors, then single vectors, then the scalar tail */
#define FNN_GVL_VEC(NAME, T, V, NV, W, SET1, LOADU, STOREU, FMADD, ZERO, FMA1)             \
    FNN_GVL_DECL(NAME, T)                                                                 \
    {                                                                                     \
        ptrdiff_t j = 0;                                                                  \
        for (; j + (NV) * (W) <= n; j += (NV) * (W))                                      \
            FNN_GVL_BLOCK(T, V, NV, W, SET1, LOADU, STOREU, FMADD, ZERO, nl, idx, x, w, ldw, \
                          j, y);                                                          \
        for (; j + (W) <= n; j += (W))                                                    \
            FNN_GVL_BLOCK(T, V, 1, W, SET1, LOADU, STOREU, FMADD, ZERO, nl, idx, x, w, ldw, \
                          j, y);                                                          \
        FNN_GVL_SCALAR_COLS(T, FMA1, nl, idx, x, w, ldw, j, n, y);                        \
    }

#endif
