/* AVX2+FMA GEMM microkernels (compiled with -mavx2 -mfma). 6 rows x 2 ymm columns uses
 * 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers (BLIS haswell);
 * the 4/2/1-row variants finish edge rows. */
#include "gemm_act.h"
#include "gemm_ukr_vec.h"

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
/* C[1x64] := alpha * a[1xk] . B[kx64] + beta * C: batch 1, 8 independent FMA chains */
FNN_UKR_VEC(fnn_sgemm_ukr_avx2_1x64, float, __m256, 1, 8, 8, _mm256_set1_ps,
            _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps, _mm256_mul_ps,
            _mm256_setzero_ps)
/* C[MRx8] := alpha * A[MRxk] . B[kx8] + beta * C (float64) */
FNN_D256(6) FNN_D256(4) FNN_D256(2) FNN_D256(1)
/* C[1x32] := alpha * a[1xk] . B[kx32] + beta * C (float64, batch 1) */
FNN_UKR_VEC(fnn_dgemm_ukr_avx2_1x32, double, __m256d, 1, 8, 4, _mm256_set1_pd,
            _mm256_loadu_pd, _mm256_storeu_pd, _mm256_fmadd_pd, _mm256_mul_pd,
            _mm256_setzero_pd)
/* C[MRx8] := alpha * A[MRxk] . B[kx8] + beta * C: half width for n <= 8 */
FNN_S256H(6) FNN_S256H(4) FNN_S256H(2) FNN_S256H(1)
/* C[MRx4] := alpha * A[MRxk] . B[kx4] + beta * C (float64, n <= 4) */
FNN_D256H(6) FNN_D256H(4) FNN_D256H(2) FNN_D256H(1)
