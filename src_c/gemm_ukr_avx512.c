/* AVX-512 GEMM microkernels (compiled with -mavx512f...). 12 rows x 2 zmm columns uses
 * 24 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers; the 10/8/4/2/1-row
 * variants finish edge rows without computing padding (10: the narrow C^T = B^T A^T of
 * an n = 10 output would otherwise run 8 + a latency-bound 2). */
#include "gemm_act.h"
#include "gemm_ukr_vec.h"
#include "gvl.h"
#include "spg.h"

#define FNN_MIN(a, b) ((a) < (b) ? (a) : (b))

FNN_GEMM_ACT_ROWS(avx512)

#define FNN_S512(MR) FNN_UKR_VEC(fnn_sgemm_ukr_avx512_##MR##x32, float, __m512, MR, 2, 16,    \
                                 _mm512_set1_ps, _mm512_loadu_ps, _mm512_storeu_ps,          \
                                 _mm512_fmadd_ps, _mm512_mul_ps, _mm512_setzero_ps)
#define FNN_D512(MR) FNN_UKR_VEC(fnn_dgemm_ukr_avx512_##MR##x16, double, __m512d, MR, 2, 8,   \
                                 _mm512_set1_pd, _mm512_loadu_pd, _mm512_storeu_pd,          \
                                 _mm512_fmadd_pd, _mm512_mul_pd, _mm512_setzero_pd)

#define FNN_S512H(MR) FNN_UKR_VEC(fnn_sgemm_ukr_avx512_##MR##x16, float, __m512, MR, 1, 16,  \
                                  _mm512_set1_ps, _mm512_loadu_ps, _mm512_storeu_ps,         \
                                  _mm512_fmadd_ps, _mm512_mul_ps, _mm512_setzero_ps)
#define FNN_D512H(MR) FNN_UKR_VEC(fnn_dgemm_ukr_avx512_##MR##x8, double, __m512d, MR, 1, 8,   \
                                  _mm512_set1_pd, _mm512_loadu_pd, _mm512_storeu_pd,         \
                                  _mm512_fmadd_pd, _mm512_mul_pd, _mm512_setzero_pd)

/* C[MRx32] := alpha * A[MRxk] . B[kx32] + beta * C */
FNN_S512(12) FNN_S512(10) FNN_S512(8) FNN_S512(4) FNN_S512(2) FNN_S512(1)
FNN_UKR_VEC_PK(fnn_sgemm_ukr_avx512_12x32, float, 12, 2, 16) /* packs B as it goes */
/* C[1x128] := alpha * a[1xk] . B[kx128] + beta * C: batch 1, 8 independent FMA chains */
FNN_UKR_VEC(fnn_sgemm_ukr_avx512_1x128, float, __m512, 1, 8, 16, _mm512_set1_ps,
            _mm512_loadu_ps, _mm512_storeu_ps, _mm512_fmadd_ps, _mm512_mul_ps,
            _mm512_setzero_ps)
/* C[MRx16] := alpha * A[MRxk] . B[kx16] + beta * C (float64) */
FNN_D512(12) FNN_D512(10) FNN_D512(8) FNN_D512(4) FNN_D512(2) FNN_D512(1)
FNN_UKR_VEC_PK(fnn_dgemm_ukr_avx512_12x16, double, 12, 2, 8)
/* C[1x64] := alpha * a[1xk] . B[kx64] + beta * C (float64, batch 1) */
FNN_UKR_VEC(fnn_dgemm_ukr_avx512_1x64, double, __m512d, 1, 8, 8, _mm512_set1_pd,
            _mm512_loadu_pd, _mm512_storeu_pd, _mm512_fmadd_pd, _mm512_mul_pd,
            _mm512_setzero_pd)
/* C[MRx16] := alpha * A[MRxk] . B[kx16] + beta * C: half width for n <= 16 */
FNN_S512H(12) FNN_S512H(10) FNN_S512H(8) FNN_S512H(4) FNN_S512H(2) FNN_S512H(1)
/* C[MRx8] := alpha * A[MRxk] . B[kx8] + beta * C (float64, n <= 8) */
FNN_D512H(12) FNN_D512H(10) FNN_D512H(8) FNN_D512H(4) FNN_D512H(2) FNN_D512H(1)

/* Folding the dot kernels' partial sums: level l halves every source's run of partial
 * sums, lanes of x first, then y (lo takes the lanes whose bit log2(W)-1-l is clear,
 * hi those with it set). After log2(W) levels lane j holds source j's total. */
static const int32_t fnn_fold_s[4][2][16] = {
    {{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
     {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31}},
    {{0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27},
     {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31}},
    {{0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29},
     {2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31}},
    {{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30},
     {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31}}};
static const int64_t fnn_fold_d[3][2][8] = {
    {{0, 1, 2, 3, 8, 9, 10, 11}, {4, 5, 6, 7, 12, 13, 14, 15}},
    {{0, 1, 4, 5, 8, 9, 12, 13}, {2, 3, 6, 7, 10, 11, 14, 15}},
    {{0, 2, 4, 6, 8, 10, 12, 14}, {1, 3, 5, 7, 9, 11, 13, 15}}};

static inline __attribute__((always_inline)) __m512 fnn_fold_ps(__m512 x, __m512 y, int l)
{
    __m512i lo = _mm512_loadu_si512(fnn_fold_s[l][0]), hi = _mm512_loadu_si512(fnn_fold_s[l][1]);
    return _mm512_add_ps(_mm512_permutex2var_ps(x, lo, y), _mm512_permutex2var_ps(x, hi, y));
}

static inline __attribute__((always_inline)) __m512d fnn_fold_pd(__m512d x, __m512d y, int l)
{
    __m512i lo = _mm512_loadu_si512(fnn_fold_d[l][0]), hi = _mm512_loadu_si512(fnn_fold_d[l][1]);
    return _mm512_add_pd(_mm512_permutex2var_pd(x, lo, y), _mm512_permutex2var_pd(x, hi, y));
}

/* C[mr x nj] := alpha * (lane sums of acc[i*nj + j]) + beta * C, mr * nj <= 20: the
 * sources fold pairwise level by level (an odd one out folds with itself, its copy
 * landing in lanes past the last source), so after log2(W) levels lane s % W of t[s / W]
 * holds source s; each row's nj sums are then permuted down to lane 0 and stored. */
#define FNN_DOT_STORE_512(NAME, T, V, W, LEVELS, FOLD, MASK, IDX, PERM2, SET1, MUL, FMADD,   \
                          MASKZ, MSTORE)                                                    \
    static inline __attribute__((always_inline)) void NAME(V *acc, int mr, int nj, T alpha, \
                                                           T beta, T *c, ptrdiff_t ldc)     \
    {                                                                                       \
        V t[20], x;                                                                         \
        MASK m = (MASK)((1u << nj) - 1);                                                    \
        int n = mr * nj, l, q, i;                                                           \
        FNN_UKR_UNROLL for (q = 0; q < n; ++q) t[q] = acc[q];                               \
        FNN_UKR_UNROLL for (l = 0; l < LEVELS; ++l, n = (n + 1) / 2)                        \
            FNN_UKR_UNROLL for (q = 0; q < (n + 1) / 2; ++q)                                \
                t[q] = FOLD(t[2 * q], t[FNN_MIN(2 * q + 1, n - 1)], l);                     \
        FNN_UKR_UNROLL for (q = 0; q < n; ++q) t[q] = MUL(SET1(alpha), t[q]);               \
        FNN_UKR_UNROLL for (i = 0; i < mr; ++i) {                                           \
            int v = i * nj / W;                                                             \
            x = PERM2(t[v], IDX(i * nj - v * W), t[FNN_MIN(v + 1, n - 1)]);                 \
            if (beta != 0) x = FMADD(SET1(beta), MASKZ(m, c + i * ldc), x);                 \
            MSTORE(c + i * ldc, m, x);                                                      \
        }                                                                                   \
    }
#define FNN_IDX_PS(off) _mm512_add_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, \
                                                          5, 4, 3, 2, 1, 0), _mm512_set1_epi32(off))
#define FNN_IDX_PD(off) _mm512_add_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0),          \
                                         _mm512_set1_epi64(off))
FNN_DOT_STORE_512(fnn_dot_store_ps, float, __m512, 16, 4, fnn_fold_ps, __mmask16, FNN_IDX_PS,
                  _mm512_permutex2var_ps, _mm512_set1_ps, _mm512_mul_ps, _mm512_fmadd_ps,
                  _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps)
FNN_DOT_STORE_512(fnn_dot_store_pd, double, __m512d, 8, 3, fnn_fold_pd, __mmask8, FNN_IDX_PD,
                  _mm512_permutex2var_pd, _mm512_set1_pd, _mm512_mul_pd, _mm512_fmadd_pd,
                  _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd)

/* `rem` (<= W) leading elements, the rest zero and never read */
#define FNN_MZ_PS(ptr) _mm512_maskz_loadu_ps((__mmask16)((1u << rem) - 1), ptr)
#define FNN_MZ_PD(ptr) _mm512_maskz_loadu_pd((__mmask8)((1u << rem) - 1), ptr)
#define FNN_SDOT512(MR, NJ) FNN_DOT_VEC(fnn_sgemm_dot_avx512_##MR##x##NJ, float, __m512, MR, NJ, \
                                        16, FNN_MZ_PS, _mm512_fmadd_ps, _mm512_setzero_ps,   \
                                        fnn_dot_store_ps)
#define FNN_DDOT512(MR, NJ) FNN_DOT_VEC(fnn_dgemm_dot_avx512_##MR##x##NJ, double, __m512d, MR,  \
                                        NJ, 8, FNN_MZ_PD, _mm512_fmadd_pd, _mm512_setzero_pd, \
                                        fnn_dot_store_pd)

/* C[MRxNJ] := alpha * A[MRxk] . Bt[NJxk]^T + beta * C, vectors along k (n <= 16) */
FNN_SDOT512(4, 5) FNN_SDOT512(4, 4) FNN_SDOT512(4, 3) FNN_SDOT512(4, 2) FNN_SDOT512(4, 1)
FNN_SDOT512(1, 5) FNN_SDOT512(1, 4) FNN_SDOT512(1, 3) FNN_SDOT512(1, 2) FNN_SDOT512(1, 1)
FNN_DDOT512(4, 5) FNN_DDOT512(4, 4) FNN_DDOT512(4, 3) FNN_DDOT512(4, 2) FNN_DDOT512(4, 1)
FNN_DDOT512(1, 5) FNN_DDOT512(1, 4) FNN_DDOT512(1, 3) FNN_DDOT512(1, 2) FNN_DDOT512(1, 1)

/* Small-batch GEMM by rows of W, Y[m x n] := alpha * X[m x k] . W[k x n] + beta * Y for
 * m <= 4 (beta == 0: Y not read), X(i,p) = x[i*rsx + p*csx]: W streams row by row, R rows
 * per pass over Y (R sequential streams the prefetchers follow, where 1 x NR tiles walked
 * W at a 2 KiB stride), Y staying in L1. Column vectors start at a 64-byte boundary of
 * W's first row, so with rows a multiple of 64 bytes apart no load splits a cache line
 * (NumPy aligns only to 16). */
#define FNN_GEMV_512(NAME, T, V, W, MASK, SET1, MUL, FMADD, ZERO, MASKZ, MSTORE)             \
    static inline __attribute__((always_inline)) void NAME##_step(                          \
        int mr, int rows, const V *s, const T *w, ptrdiff_t ldw, T *y, ptrdiff_t ldy, MASK m, \
        int first, T beta)                                                                  \
    {                                                                                       \
        V wv[8], acc;                                                                       \
        int r, i;                                                                           \
        FNN_UKR_UNROLL for (r = 0; r < rows; ++r) wv[r] = MASKZ(m, w + r * ldw);            \
        FNN_UKR_UNROLL for (i = 0; i < mr; ++i) {                                           \
            T *yi = y + i * ldy;                                                            \
            acc = !first ? MASKZ(m, yi) : beta != 0 ? MUL(SET1(beta), MASKZ(m, yi)) : ZERO(); \
            FNN_UKR_UNROLL for (r = 0; r < rows; ++r) acc = FMADD(s[i * 8 + r], wv[r], acc); \
            MSTORE(yi, m, acc);                                                             \
        }                                                                                   \
    }                                                                                       \
    static inline __attribute__((always_inline)) void NAME##_pass(                          \
        int mr, int rows, const V *s, const T *w, ptrdiff_t ldw, T *y, ptrdiff_t ldy,       \
        ptrdiff_t n, ptrdiff_t j0, int first, T beta)                                       \
    {                                                                                       \
        ptrdiff_t j = 0;                                                                    \
        if (j0 > 0)                                                                         \
            NAME##_step(mr, rows, s, w, ldw, y, ldy, (MASK)((1u << j0) - 1), first, beta);  \
        for (j = j0; j + W <= n; j += W)                                                    \
            NAME##_step(mr, rows, s, w + j, ldw, y + j, ldy, (MASK)~0u, first, beta);       \
        if (j < n)                                                                          \
            NAME##_step(mr, rows, s, w + j, ldw, y + j, ldy, (MASK)((1u << (n - j)) - 1),   \
                        first, beta);                                                       \
    }                                                                                       \
    static inline __attribute__((always_inline)) void NAME##_m(                             \
        int mr, int R, ptrdiff_t k, ptrdiff_t n, T alpha, const T *x, ptrdiff_t rsx,        \
        ptrdiff_t csx, const T *w, ptrdiff_t ldw, T beta, T *y, ptrdiff_t ldy)              \
    {                                                                                       \
        ptrdiff_t p, j0 = FNN_MIN(n, (ptrdiff_t)((0 - (uintptr_t)w) % 64 / sizeof(T)));     \
        V s[32];                                                                            \
        int r, i;                                                                           \
        for (p = 0; p + R <= k; p += R) {                                                   \
            FNN_UKR_UNROLL for (i = 0; i < mr; ++i) FNN_UKR_UNROLL for (r = 0; r < R; ++r)  \
                s[i * 8 + r] = SET1(alpha * x[i * rsx + (p + r) * csx]);                    \
            NAME##_pass(mr, R, s, w + p * ldw, ldw, y, ldy, n, j0, p == 0, beta);           \
        }                                                                                   \
        if (R > 4 && p + 4 <= k) { /* short k (one run of live inputs, plan.c) */          \
            FNN_UKR_UNROLL for (i = 0; i < mr; ++i) FNN_UKR_UNROLL for (r = 0; r < 4; ++r)  \
                s[i * 8 + r] = SET1(alpha * x[i * rsx + (p + r) * csx]);                    \
            NAME##_pass(mr, 4, s, w + p * ldw, ldw, y, ldy, n, j0, p == 0, beta);           \
            p += 4;                                                                         \
        }                                                                                   \
        for (; p < k; ++p) {                                                                \
            FNN_UKR_UNROLL for (i = 0; i < mr; ++i) s[i * 8] = SET1(alpha * x[i * rsx + p * csx]); \
            NAME##_pass(mr, 1, s, w + p * ldw, ldw, y, ldy, n, j0, p == 0, beta);           \
        }                                                                                   \
    }                                                                                       \
    void NAME(ptrdiff_t m, ptrdiff_t k, ptrdiff_t n, T alpha, const T *x, ptrdiff_t rsx,    \
              ptrdiff_t csx, const T *w, ptrdiff_t ldw, T beta, T *y, ptrdiff_t ldy)        \
    {                                                                                       \
        switch (m) {                                                                        \
        case 1: NAME##_m(1, 8, k, n, alpha, x, rsx, csx, w, ldw, beta, y, ldy); break;      \
        case 2: NAME##_m(2, 8, k, n, alpha, x, rsx, csx, w, ldw, beta, y, ldy); break;      \
        case 3: NAME##_m(3, 4, k, n, alpha, x, rsx, csx, w, ldw, beta, y, ldy); break;      \
        default: NAME##_m(4, 4, k, n, alpha, x, rsx, csx, w, ldw, beta, y, ldy); break;     \
        }                                                                                   \
    }
FNN_GEMV_512(fnn_sgemv_rows_avx512, float, __m512, 16, __mmask16, _mm512_set1_ps, _mm512_mul_ps,
             _mm512_fmadd_ps, _mm512_setzero_ps, _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps)
FNN_GEMV_512(fnn_dgemv_rows_avx512, double, __m512d, 8, __mmask8, _mm512_set1_pd, _mm512_mul_pd,
             _mm512_fmadd_pd, _mm512_setzero_pd, _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd)

/* The sparse first layer's kernels (see FNN_SPG_VEC): 32 / 16 columns in 2 vectors. In a C
 * harness on a batch of 128 MNIST digits, 784-512, 1 thread: forward ~300 µs and weight
 * gradient ~255 µs, against ~400 µs each for the kernel they replace (each non-zero alone,
 * 8 accumulators over 128 columns, on L2 bandwidth). Groups of 4 columns (48% more
 * multiply-adds than the non-zeros, against 17%) or 4 vectors were no faster. */
FNN_SPG_VEC(fnn_sspg_fwd_avx512, fnn_sspg_dw_avx512, float, __m512, 2, 16, _mm512_set1_ps,
            _mm512_loadu_ps, _mm512_storeu_ps, _mm512_fmadd_ps, _mm512_add_ps,
            _mm512_setzero_ps, __builtin_fmaf)
FNN_SPG_VEC(fnn_dspg_fwd_avx512, fnn_dspg_dw_avx512, double, __m512d, 2, 8, _mm512_set1_pd,
            _mm512_loadu_pd, _mm512_storeu_pd, _mm512_fmadd_pd, _mm512_add_pd,
            _mm512_setzero_pd, __builtin_fma)

/* The one-row GEMV over live inputs (gvl.h): 256 / 128 outputs in 16 of the 32 registers */
FNN_GVL_VEC(fnn_sgemv_live_avx512, float, __m512, 16, 16, _mm512_set1_ps, _mm512_loadu_ps,
            _mm512_storeu_ps, _mm512_fmadd_ps, _mm512_setzero_ps, __builtin_fmaf)
FNN_GVL_VEC(fnn_dgemv_live_avx512, double, __m512d, 16, 8, _mm512_set1_pd, _mm512_loadu_pd,
            _mm512_storeu_pd, _mm512_fmadd_pd, _mm512_setzero_pd, __builtin_fma)
