/* Register-tile GEMM microkernel template shared by the SIMD files (gemm_ukr_avx2.c,
 * gemm_ukr_avx512.c): each instantiates it with its vector type and intrinsics, so the
 * two ISAs differ only in width and tile shape, like BLIS's haswell/skx kernels. */
#ifndef FNN_GEMM_UKR_VEC_H
#define FNN_GEMM_UKR_VEC_H

#include <immintrin.h>

#include "fastnn.h"

#define FNN_UKR_UNROLL _Pragma("GCC unroll 32")
#define FNN_UKR_PK_AHEAD 16 /* B rows prefetched ahead by the packing kernels: 1-thread
                             * 128x784x512 (B from L3) 945 -> 925 us in a C harness */

/* Body: MR rows x NV vectors of W lanes. acc lives in registers once the constant loops
 * are unrolled; A(i,p) is broadcast from memory (a load port op, not a shuffle). */
#define FNN_UKR_VEC_BODY(NAME, T, V, MR, NV, W, SET1, LOADU, STOREU, FMADD, MUL, ZERO)    \
    static inline __attribute__((always_inline)) void NAME##_body(                        \
        ptrdiff_t k, T alpha, const T *a, ptrdiff_t rsa, ptrdiff_t csa, const T *b,       \
        ptrdiff_t rsb, T *bpk, T beta, T *c, ptrdiff_t ldc)                               \
    {                                                                                     \
        V acc[MR][NV], bv[NV], s;                                                         \
        ptrdiff_t p;                                                                      \
        int i, v, l;                                                                      \
        FNN_UKR_UNROLL for (i = 0; i < MR; ++i) {                                         \
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);                       \
            FNN_UKR_UNROLL for (v = 0; v < NV; ++v) acc[i][v] = ZERO();                   \
        }                                                                                 \
        for (p = 0; p < k; ++p) {                                                         \
            FNN_UKR_UNROLL for (v = 0; v < NV; ++v) bv[v] = LOADU(b + p * rsb + v * W);   \
            if (bpk) {                                                                    \
                const char *ahead = (const char *)(b + (p + FNN_UKR_PK_AHEAD) * rsb);     \
                FNN_UKR_UNROLL for (l = 0; l < (int)(NV * W * sizeof(T)); l += 64)        \
                    _mm_prefetch(ahead + l, _MM_HINT_T0);                                 \
                _mm_prefetch(ahead + NV * W * sizeof(T) - 1, _MM_HINT_T0);                \
                FNN_UKR_UNROLL for (v = 0; v < NV; ++v) STOREU(bpk + p * NV * W + v * W, bv[v]); \
            }                                                                             \
            FNN_UKR_UNROLL for (i = 0; i < MR; ++i) {                                     \
                s = SET1(a[i * rsa + p * csa]);                                           \
                FNN_UKR_UNROLL for (v = 0; v < NV; ++v) acc[i][v] =                       \
                    FMADD(s, bv[v], acc[i][v]);                                           \
            }                                                                             \
        }                                                                                 \
        FNN_UKR_UNROLL for (i = 0; i < MR; ++i) FNN_UKR_UNROLL for (v = 0; v < NV; ++v) { \
            V x = MUL(SET1(alpha), acc[i][v]);                                            \
            if (beta != 0) x = FMADD(SET1(beta), LOADU(c + i * ldc + v * W), x);          \
            STOREU(c + i * ldc + v * W, x);                                               \
        }                                                                                 \
    }

/* Entry point: the packed layout (rsa = 1, csa = MR, rsb = NR) gets its own copy with
 * constant strides, so the hot loop needs no stride registers. */
#define FNN_UKR_VEC(NAME, T, V, MR, NV, W, SET1, LOADU, STOREU, FMADD, MUL, ZERO)         \
    FNN_UKR_VEC_BODY(NAME, T, V, MR, NV, W, SET1, LOADU, STOREU, FMADD, MUL, ZERO)        \
    void NAME(ptrdiff_t k, T alpha, const T *a, ptrdiff_t rsa, ptrdiff_t csa, const T *b, \
              ptrdiff_t rsb, T beta, T *c, ptrdiff_t ldc)                                 \
    {                                                                                     \
        if (rsa == 1 && csa == MR && rsb == NV * W)                                       \
            NAME##_body(k, alpha, a, 1, MR, b, NV * W, NULL, beta, c, ldc);               \
        else                                                                              \
            NAME##_body(k, alpha, a, rsa, csa, b, rsb, NULL, beta, c, ldc);               \
    }

/* The same tile reading B in place (row stride rsb) and storing each B row it loads into
 * bpk in the packed layout (row p at bpk + p * NR): the first row panel of a packed GEMM
 * packs B under its FMAs instead of in a copy pass before them (fnn_ktable.sgemm_ukr_pk).
 * B is then read once from L3, so rows FNN_UKR_PK_AHEAD ahead are prefetched. */
#define FNN_UKR_VEC_PK(NAME, T, MR, NV, W)                                                \
    void NAME##_pk(ptrdiff_t k, T alpha, const T *a, ptrdiff_t rsa, ptrdiff_t csa,        \
                   const T *b, ptrdiff_t rsb, T *bpk, T beta, T *c, ptrdiff_t ldc)        \
    {                                                                                     \
        if (rsa == 1 && csa == MR)                                                        \
            NAME##_body(k, alpha, a, 1, MR, b, rsb, bpk, beta, c, ldc);                   \
        else                                                                              \
            NAME##_body(k, alpha, a, rsa, csa, b, rsb, bpk, beta, c, ldc);                \
    }

/* One k step of the dot body: W lanes of every A row and Bt row, through LOAD */
#define FNN_DOT_STEP(LOAD, MR, NJ, FMADD)                                                 \
    do {                                                                                  \
        FNN_UKR_UNROLL for (i = 0; i < MR; ++i) av[i] = LOAD(a + i * lda + p);            \
        FNN_UKR_UNROLL for (j = 0; j < NJ; ++j) {                                         \
            bv = LOAD(b + j * ldb + p);                                                   \
            FNN_UKR_UNROLL for (i = 0; i < MR; ++i) acc[i][j] = FMADD(av[i], bv, acc[i][j]); \
        }                                                                                 \
    } while (0)

/* Dot microkernel for narrow outputs (n <= 16): C[MR x NJ] := alpha * A[MR x k] .
 * Bt[NJ x k]^T + beta * C with vectors along k, so no lane idles whatever n is. A rows
 * are read in place (rsa = lda, csa = 1) and Bt rows at stride ldb; each acc holds W
 * partial sums until STORE_SUMS folds the tile of them into MR x NJ outputs. Every load
 * is MASKZ_LOAD of `rem` lanes: rem < W in the k tail, so nothing past row k is read;
 * in the main loop rem = W comes through a volatile, so the compiler cannot turn the
 * loads into FMA memory operands, which for NJ < MR it did for A (each A vector then
 * loaded NJ times: 4x3 ran at 58 instead of 86 GFLOP/s). */
#define FNN_DOT_VEC(NAME, T, V, MR, NJ, W, MASKZ_LOAD, FMADD, ZERO, STORE_SUMS)            \
    void NAME(ptrdiff_t k, T alpha, const T *a, ptrdiff_t lda, ptrdiff_t csa, const T *b, \
              ptrdiff_t ldb, T beta, T *c, ptrdiff_t ldc)                                 \
    {                                                                                     \
        V acc[MR][NJ], av[MR], bv;                                                        \
        ptrdiff_t p;                                                                      \
        int i, j;                                                                         \
        (void)csa;                                                                        \
        volatile ptrdiff_t opaque_w = W;                                                  \
        ptrdiff_t rem = opaque_w;                                                         \
        FNN_UKR_UNROLL for (i = 0; i < MR; ++i) FNN_UKR_UNROLL for (j = 0; j < NJ; ++j)   \
            acc[i][j] = ZERO();                                                           \
        for (p = 0; p + W <= k; p += W) FNN_DOT_STEP(MASKZ_LOAD, MR, NJ, FMADD);          \
        if (p < k) {                                                                      \
            rem = k - p;                                                                  \
            FNN_DOT_STEP(MASKZ_LOAD, MR, NJ, FMADD);                                      \
        }                                                                                 \
        STORE_SUMS(&acc[0][0], MR, NJ, alpha, beta, c, ldc);                              \
    }

#endif /* FNN_GEMM_UKR_VEC_H */
