/* AVX-512 GEMM microkernels (compiled with -mavx512f...). 12 rows x 2 zmm columns uses
 * 24 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers. */
#include "gemm_ukr_vec.h"

/* C[12x32] := alpha * A[12xk] . B[kx32] + beta * C */
FNN_UKR_VEC(fnn_sgemm_ukr_avx512_12x32, float, __m512, 12, 2, 16, _mm512_set1_ps,
            _mm512_loadu_ps, _mm512_storeu_ps, _mm512_fmadd_ps, _mm512_mul_ps,
            _mm512_setzero_ps)

/* C[12x16] := alpha * A[12xk] . B[kx16] + beta * C */
FNN_UKR_VEC(fnn_dgemm_ukr_avx512_12x16, double, __m512d, 12, 2, 8, _mm512_set1_pd,
            _mm512_loadu_pd, _mm512_storeu_pd, _mm512_fmadd_pd, _mm512_mul_pd,
            _mm512_setzero_pd)
