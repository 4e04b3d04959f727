/* AVX2+FMA GEMM microkernels (compiled with -mavx2 -mfma). 6 rows x 2 ymm columns uses
 * 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers (BLIS haswell). */
#include "gemm_ukr_vec.h"

/* C[6x16] := alpha * A[6xk] . B[kx16] + beta * C */
FNN_UKR_VEC(fnn_sgemm_ukr_avx2_6x16, float, __m256, 6, 2, 8, _mm256_set1_ps,
            _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps, _mm256_mul_ps,
            _mm256_setzero_ps)

/* C[6x8] := alpha * A[6xk] . B[kx8] + beta * C */
FNN_UKR_VEC(fnn_dgemm_ukr_avx2_6x8, double, __m256d, 6, 2, 4, _mm256_set1_pd,
            _mm256_loadu_pd, _mm256_storeu_pd, _mm256_fmadd_pd, _mm256_mul_pd,
            _mm256_setzero_pd)
