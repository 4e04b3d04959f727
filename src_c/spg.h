/* Kernels of the first layer on sparse inputs, one template for every ISA: the scalar
 * body (the generic path's kernel, and the SIMD kernels' narrow tail) and the vector one
 * (gemm_ukr_avx2.c, gemm_ukr_avx512.c instantiate it with their intrinsics). */
#ifndef FNN_SPG_H
#define FNN_SPG_H

#include "fastnn.h"

#define FNN_SPG_UNROLL _Pragma("GCC unroll 8")

/* Groups ahead whose two rows of W (forward) or of dw (weight gradient) are prefetched.
 * In training those rows come from L3 (the optimizer's pass over every parameter has
 * pushed them out of L2), and without this each group waited on them: a C harness that
 * evicts the caches between calls (128 MNIST digits, 784-512, 1 thread) ran the forward
 * in ~545 µs and the gradient in ~400 µs without, ~420 and ~320 µs with 3-12 groups
 * ahead (~300 and ~260 µs with W and dw in cache). */
#define FNN_SPG_AHEAD 8
/* Prefetch the NB-element pieces of rows p and p + ld (rw: 0 read, 1 write) */
#define FNN_SPG_PREFETCH(T, NB, p, ld, rw)                                                 \
    do {                                                                                  \
        for (int c_ = 0; c_ < (int)((NB) * sizeof(T)); c_ += 64) {                        \
            __builtin_prefetch((const char *)(p) + c_, rw, 3);                            \
            __builtin_prefetch((const char *)((p) + (ld)) + c_, rw, 3);                   \
        }                                                                                 \
    } while (0)

/* The first layer on sparse inputs (plan.c sp_*): the batch's non-zeros in groups of two
 * adjacent input columns (one at a K panel's end), gk[g] a group's first column and
 * gk[g + 1] the next's; each row with a non-zero in the group is an entry, listed by row:
 * row[g * cap + e] its offset in the row block, val[2 (g * cap + e) + {0, 1}] its two
 * values (the second 0 for a one-column group). A group's two columns share each load
 * of W (forward) and of g (weight gradient), where a column alone costs two cycles per
 * FMA on L2 bandwidth; the zeros this pairs in are terms the full GEMM also has.
 *
 * FWD: P[row, 0..n) += v0 · W[gk, :] + v1 · W[gk + 1, :] over the entries of groups
 * [0, ng), W row k at w + k * ldw, P's rows NB = NV * W apart: each output one chain of
 * FMAs in k order, so from a zeroed P it is a K panel of the register tiles above.
 * DW: dw[gk (+ 1), 0..n) := Σ_r v · G[r, 0..n) over the rows of nrb row blocks of rb rows
 * (block b's lists at b * bstride groups on), in r order from zero per panel of kp rows,
 * the first panel stored and each next one added, as the GEMM's K panels (m rows in all;
 * G's rows NB apart). n < NB runs one element at a time (FMA1: the scalar FMA). */
#define FNN_SPG_FWD_ROW(T, FMA1, t, w0, w1, a, b, two, n)                                \
    do {                                                                                  \
        if (two)                                                                          \
            for (ptrdiff_t j_ = 0; j_ < (n); ++j_)                                        \
                (t)[j_] = FMA1(b, (w1)[j_], FMA1(a, (w0)[j_], (t)[j_]));                  \
        else                                                                              \
            for (ptrdiff_t j_ = 0; j_ < (n); ++j_) (t)[j_] = FMA1(a, (w0)[j_], (t)[j_]);  \
    } while (0)
#define FNN_SPG_DECL_FWD(NAME, T)                                                         \
    void NAME(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt, const uint8_t *row,    \
              const T *val, ptrdiff_t cap, const T *w, ptrdiff_t ldw, ptrdiff_t n, T *P)
#define FNN_SPG_DECL_DW(NAME, T)                                                          \
    void NAME(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt, const uint8_t *row,    \
              const T *val, ptrdiff_t cap, ptrdiff_t bstride, ptrdiff_t nrb, ptrdiff_t rb, \
              ptrdiff_t m, ptrdiff_t kp, const T *G, ptrdiff_t n, T *dw, ptrdiff_t lddw)
/* The scalar body of both (any n <= NB; the generic path's whole kernel) */
#define FNN_SPG_SCALAR(FWD, DW, T, NB, FMA1)                                              \
    static FNN_SPG_DECL_FWD(FWD, T)                                                       \
    {                                                                                     \
        for (ptrdiff_t g = 0; g < ng; ++g) {                                              \
            const T *w0 = w + (ptrdiff_t)gk[g] * ldw, *w1 = w0 + ldw, *v = val + 2 * g * cap; \
            const uint8_t *rw = row + g * cap;                                            \
            const int two = gk[g + 1] - gk[g] > 1;                                        \
            if (g + FNN_SPG_AHEAD < ng)                                                   \
                FNN_SPG_PREFETCH(T, n, w + gk[g + FNN_SPG_AHEAD] * ldw, ldw, 0);          \
            for (ptrdiff_t e = 0; e < cnt[g]; ++e)                                        \
                FNN_SPG_FWD_ROW(T, FMA1, P + rw[e] * NB, w0, w1, v[2 * e], v[2 * e + 1], two, n); \
        }                                                                                 \
    }                                                                                     \
    static FNN_SPG_DECL_DW(DW, T)                                                         \
    {                                                                                     \
        const ptrdiff_t npan = (m + kp - 1) / kp;                                         \
        for (ptrdiff_t g = 0; g < ng; ++g) {                                              \
            T a0[NB], a1[NB];                                                             \
            T *d0 = dw + (ptrdiff_t)gk[g] * lddw, *d1 = d0 + lddw;                        \
            const int two = gk[g + 1] - gk[g] > 1;                                        \
            ptrdiff_t pi = 0, pend = kp, j;                                               \
            if (g + FNN_SPG_AHEAD < ng)                                                   \
                FNN_SPG_PREFETCH(T, n, dw + gk[g + FNN_SPG_AHEAD] * lddw, lddw, 1);       \
            for (j = 0; j < n; ++j) a0[j] = a1[j] = 0;                                    \
            for (ptrdiff_t b = 0; b < nrb; ++b) {                                         \
                const ptrdiff_t l = b * bstride + g;                                      \
                const uint8_t *rw = row + l * cap;                                        \
                const T *v = val + 2 * l * cap;                                           \
                for (ptrdiff_t e = 0; e < cnt[l]; ++e) {                                  \
                    const ptrdiff_t r = b * rb + rw[e];                                   \
                    const T *z = G + r * NB;                                              \
                    for (; r >= pend; ++pi, pend += kp)                                   \
                        for (j = 0; j < n; ++j) {                                         \
                            d0[j] = pi ? d0[j] + a0[j] : a0[j];                           \
                            if (two) d1[j] = pi ? d1[j] + a1[j] : a1[j];                  \
                            a0[j] = a1[j] = 0;                                            \
                        }                                                                 \
                    for (j = 0; j < n; ++j) {                                             \
                        a0[j] = FMA1(v[2 * e], z[j], a0[j]);                              \
                        a1[j] = FMA1(v[2 * e + 1], z[j], a1[j]);                          \
                    }                                                                     \
                }                                                                         \
            }                                                                             \
            for (; pi < npan; ++pi)                                                       \
                for (j = 0; j < n; ++j) {                                                 \
                    d0[j] = pi ? d0[j] + a0[j] : a0[j];                                   \
                    if (two) d1[j] = pi ? d1[j] + a1[j] : a1[j];                          \
                    a0[j] = a1[j] = 0;                                                    \
                }                                                                         \
        }                                                                                 \
    }
/* The vector kernels: NV vectors of W lanes span NB = NV * W columns; the forward keeps a
 * group's two rows of W in registers across its entries, the weight gradient a group's
 * two rows of dw. */
#define FNN_SPG_VEC(FWD, DW, T, V, NV, W, SET1, LOADU, STOREU, FMADD, ADD, ZERO, FMA1)     \
    FNN_SPG_SCALAR(FWD##_scalar, DW##_scalar, T, NV * W, FMA1)                            \
    FNN_SPG_DECL_FWD(FWD, T)                                                              \
    {                                                                                     \
        V w0[NV], w1[NV], t[NV], a, b;                                                    \
        int v;                                                                            \
        if (n != NV * W) {                                                                \
            FWD##_scalar(ng, gk, cnt, row, val, cap, w, ldw, n, P);                       \
            return;                                                                       \
        }                                                                                 \
        for (ptrdiff_t g = 0; g < ng; ++g) {                                              \
            const T *wg = w + (ptrdiff_t)gk[g] * ldw, *vv = val + 2 * g * cap;            \
            const uint8_t *rw = row + g * cap;                                            \
            const ptrdiff_t ne = cnt[g];                                                  \
            if (g + FNN_SPG_AHEAD < ng)                                                   \
                FNN_SPG_PREFETCH(T, NV * W, w + gk[g + FNN_SPG_AHEAD] * ldw, ldw, 0);     \
            FNN_SPG_UNROLL for (v = 0; v < NV; ++v) w0[v] = LOADU(wg + v * W);            \
            if (gk[g + 1] - gk[g] > 1) {                                                  \
                FNN_SPG_UNROLL for (v = 0; v < NV; ++v) w1[v] = LOADU(wg + ldw + v * W);  \
                for (ptrdiff_t e = 0; e < ne; ++e) {                                      \
                    T *tp = P + rw[e] * (NV * W);                                         \
                    a = SET1(vv[2 * e]), b = SET1(vv[2 * e + 1]);                         \
                    FNN_SPG_UNROLL for (v = 0; v < NV; ++v) {                             \
                        t[v] = FMADD(a, w0[v], LOADU(tp + v * W));                        \
                        STOREU(tp + v * W, FMADD(b, w1[v], t[v]));                        \
                    }                                                                     \
                }                                                                         \
            } else {                                                                      \
                for (ptrdiff_t e = 0; e < ne; ++e) {                                      \
                    T *tp = P + rw[e] * (NV * W);                                         \
                    a = SET1(vv[2 * e]);                                                  \
                    FNN_SPG_UNROLL for (v = 0; v < NV; ++v)                               \
                        STOREU(tp + v * W, FMADD(a, w0[v], LOADU(tp + v * W)));           \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
    FNN_SPG_DECL_DW(DW, T)                                                                \
    {                                                                                     \
        const ptrdiff_t npan = (m + kp - 1) / kp;                                         \
        V a0[NV], a1[NV], z, s0, s1;                                                      \
        int v;                                                                            \
        if (n != NV * W) {                                                                \
            DW##_scalar(ng, gk, cnt, row, val, cap, bstride, nrb, rb, m, kp, G, n, dw, lddw); \
            return;                                                                       \
        }                                                                                 \
        for (ptrdiff_t g = 0; g < ng; ++g) {                                              \
            T *d0 = dw + (ptrdiff_t)gk[g] * lddw, *d1 = d0 + lddw;                        \
            const int two = gk[g + 1] - gk[g] > 1;                                        \
            ptrdiff_t pi = 0, pend = kp;                                                  \
            if (g + FNN_SPG_AHEAD < ng) /* the dw rows it will store */                  \
                FNN_SPG_PREFETCH(T, NV * W, dw + gk[g + FNN_SPG_AHEAD] * lddw, lddw, 1);  \
            FNN_SPG_UNROLL for (v = 0; v < NV; ++v) a0[v] = a1[v] = ZERO();               \
            for (ptrdiff_t b = 0; b < nrb; ++b) {                                         \
                const ptrdiff_t l = b * bstride + g, ne = cnt[l];                         \
                const uint8_t *rw = row + l * cap;                                        \
                const T *vv = val + 2 * l * cap;                                          \
                ptrdiff_t e = 0, e1;                                                      \
                while (e < ne) { /* the entries [e, e1) of this panel */                  \
                    const ptrdiff_t lim = pend - b * rb;                                  \
                    if (lim >= rb) e1 = ne;                                               \
                    else for (e1 = e; e1 < ne && rw[e1] < lim; ++e1) {}                   \
                    for (; e < e1; ++e) {                                                 \
                        const T *zp = G + (b * rb + rw[e]) * (NV * W);                    \
                        s0 = SET1(vv[2 * e]), s1 = SET1(vv[2 * e + 1]);                   \
                        FNN_SPG_UNROLL for (v = 0; v < NV; ++v) {                         \
                            z = LOADU(zp + v * W);                                        \
                            a0[v] = FMADD(s0, z, a0[v]);                                  \
                            a1[v] = FMADD(s1, z, a1[v]);                                  \
                        }                                                                 \
                    }                                                                     \
                    if (e < ne) { /* the next row is in a later panel */                  \
                        FNN_SPG_UNROLL for (v = 0; v < NV; ++v) {                         \
                            STOREU(d0 + v * W, pi ? ADD(LOADU(d0 + v * W), a0[v]) : a0[v]); \
                            if (two)                                                      \
                                STOREU(d1 + v * W, pi ? ADD(LOADU(d1 + v * W), a1[v]) : a1[v]); \
                            a0[v] = a1[v] = ZERO();                                       \
                        }                                                                 \
                        ++pi, pend += kp;                                                 \
                    }                                                                     \
                }                                                                         \
            }                                                                             \
            for (; pi < npan; ++pi)                                                       \
                FNN_SPG_UNROLL for (v = 0; v < NV; ++v) {                                 \
                    STOREU(d0 + v * W, pi ? ADD(LOADU(d0 + v * W), a0[v]) : a0[v]);       \
                    if (two) STOREU(d1 + v * W, pi ? ADD(LOADU(d1 + v * W), a1[v]) : a1[v]); \
                    a0[v] = a1[v] = ZERO();                                               \
                }                                                                         \
        }                                                                                 \
    }

#endif /* FNN_SPG_H */
