/* AVX2+FMA GEMM microkernels (compiled with -mavx2 -mfma). 6 rows x 2 ymm columns uses
 * 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers (BLIS haswell);
 * the 4/2/1-row variants finish edge rows. */
#include "gemm_act.h"
#include "gemm_ukr_vec.h"
#include "spg.h"

FNN_GEMM_ACT_ROWS(avx2)

#define FNN_S256(MR) FNN_UKR_VEC(fnn_sgemm_ukr_avx2_##MR##x16, float, __m256, MR, 2, 8,       \
                                 _mm256_set1_ps, _mm256_loadu_ps, _mm256_storeu_ps,          \
                                 _mm256_fmadd_ps, _mm256_mul_ps, _mm256_setzero_ps)
#define FNN_D256(MR) FNN_UKR_VEC(fnn_dgemm_ukr_avx2_##MR##x8, double, __m256d, MR, 2, 4,      \
                                 _mm256_set1_pd, _mm256_loadu_pd, _mm256_storeu_pd,          \
                                 _mm256_fmadd_pd, _mm256_mul_pd, _mm256_setzero_pd)

#define FNN_S256H(MR) FNN_UKR_VEC(fnn_sgemm_ukr_avx2_##MR##x8, float, __m256, MR, 1, 8,     \
                                  _mm256_set1_ps, _mm256_loadu_ps, _mm256_storeu_ps,         \
                                  _mm256_fmadd_ps, _mm256_mul_ps, _mm256_setzero_ps)
#define FNN_D256H(MR) FNN_UKR_VEC(fnn_dgemm_ukr_avx2_##MR##x4, double, __m256d, MR, 1, 4,    \
                                  _mm256_set1_pd, _mm256_loadu_pd, _mm256_storeu_pd,         \
                                  _mm256_fmadd_pd, _mm256_mul_pd, _mm256_setzero_pd)

/* C[MRx16] := alpha * A[MRxk] . B[kx16] + beta * C */
FNN_S256(6) FNN_S256(4) FNN_S256(2) FNN_S256(1)
FNN_UKR_VEC_PK(fnn_sgemm_ukr_avx2_6x16, float, 6, 2, 8) /* packs B as it goes */
/* C[1x64] := alpha * a[1xk] . B[kx64] + beta * C: batch 1, 8 independent FMA chains */
FNN_UKR_VEC(fnn_sgemm_ukr_avx2_1x64, float, __m256, 1, 8, 8, _mm256_set1_ps,
            _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps, _mm256_mul_ps,
            _mm256_setzero_ps)
/* C[MRx8] := alpha * A[MRxk] . B[kx8] + beta * C (float64) */
FNN_D256(6) FNN_D256(4) FNN_D256(2) FNN_D256(1)
FNN_UKR_VEC_PK(fnn_dgemm_ukr_avx2_6x8, double, 6, 2, 4)
/* C[1x32] := alpha * a[1xk] . B[kx32] + beta * C (float64, batch 1) */
FNN_UKR_VEC(fnn_dgemm_ukr_avx2_1x32, double, __m256d, 1, 8, 4, _mm256_set1_pd,
            _mm256_loadu_pd, _mm256_storeu_pd, _mm256_fmadd_pd, _mm256_mul_pd,
            _mm256_setzero_pd)
/* C[MRx8] := alpha * A[MRxk] . B[kx8] + beta * C: half width for n <= 8 */
FNN_S256H(6) FNN_S256H(4) FNN_S256H(2) FNN_S256H(1)
/* C[MRx4] := alpha * A[MRxk] . B[kx4] + beta * C (float64, n <= 4) */
FNN_D256H(6) FNN_D256H(4) FNN_D256H(2) FNN_D256H(1)

/* 8x8 transpose in registers (unpack, shuffle, 128-bit lane swap) */
static inline __attribute__((always_inline)) void fnn_tr8x8(__m256 r[8])
{
    __m256 t[8], s[8];
    int i;
    for (i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (i = 0; i < 2; ++i) {
        s[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (i = 0; i < 4; ++i) {
        r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
    }
}

/* dst[p*ldd + j] = src[j*lds + p] for j < nr, p < kc; 0 for nr <= j < ldd. The packing
 * of a transposed operand: 8x8 blocks go through registers, the ragged rest is scalar. */
void fnn_spack_t_avx2(ptrdiff_t kc, ptrdiff_t nr, const float *src, ptrdiff_t lds, float *dst,
                      ptrdiff_t ldd)
{
    ptrdiff_t j, p, q, j8 = nr / 8 * 8, p8 = kc / 8 * 8;
    __m256 r[8];
    for (j = 0; j < j8; j += 8) {
        for (p = 0; p < p8; p += 8) {
            for (q = 0; q < 8; ++q) r[q] = _mm256_loadu_ps(src + (j + q) * lds + p);
            fnn_tr8x8(r);
            for (q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * ldd + j, r[q]);
        }
        for (; p < kc; ++p)
            for (q = 0; q < 8; ++q) dst[p * ldd + j + q] = src[(j + q) * lds + p];
    }
    for (p = 0; p < kc; ++p) {
        for (j = j8; j < nr; ++j) dst[p * ldd + j] = src[j * lds + p];
        for (; j < ldd; ++j) dst[p * ldd + j] = 0;
    }
}

/* The sparse first layer's kernels (see FNN_SPG_VEC): 32 / 16 columns in 4 vectors */
FNN_SPG_VEC(fnn_sspg_fwd_avx2, fnn_sspg_dw_avx2, float, __m256, 4, 8, _mm256_set1_ps,
            _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_setzero_ps,
            __builtin_fmaf)
FNN_SPG_VEC(fnn_dspg_fwd_avx2, fnn_dspg_dw_avx2, double, __m256d, 4, 4, _mm256_set1_pd,
            _mm256_loadu_pd, _mm256_storeu_pd, _mm256_fmadd_pd, _mm256_add_pd, _mm256_setzero_pd,
            __builtin_fma)
