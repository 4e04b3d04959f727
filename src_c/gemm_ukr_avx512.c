/* AVX-512 GEMM microkernels (compiled with -mavx512f...). 12 rows x 2 zmm columns uses
 * 24 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers; the 8/4/2/1-row
 * variants finish edge rows without computing padding. */
#include "gemm_act.h"
#include "gemm_ukr_vec.h"

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
FNN_S512(12) FNN_S512(8) FNN_S512(4) FNN_S512(2) FNN_S512(1)
/* C[1x128] := alpha * a[1xk] . B[kx128] + beta * C: batch 1, 8 independent FMA chains */
FNN_UKR_VEC(fnn_sgemm_ukr_avx512_1x128, float, __m512, 1, 8, 16, _mm512_set1_ps,
            _mm512_loadu_ps, _mm512_storeu_ps, _mm512_fmadd_ps, _mm512_mul_ps,
            _mm512_setzero_ps)
/* C[MRx16] := alpha * A[MRxk] . B[kx16] + beta * C (float64) */
FNN_D512(12) FNN_D512(8) FNN_D512(4) FNN_D512(2) FNN_D512(1)
/* C[1x64] := alpha * a[1xk] . B[kx64] + beta * C (float64, batch 1) */
FNN_UKR_VEC(fnn_dgemm_ukr_avx512_1x64, double, __m512d, 1, 8, 8, _mm512_set1_pd,
            _mm512_loadu_pd, _mm512_storeu_pd, _mm512_fmadd_pd, _mm512_mul_pd,
            _mm512_setzero_pd)
/* C[MRx16] := alpha * A[MRxk] . B[kx16] + beta * C: half width for n <= 16 */
FNN_S512H(12) FNN_S512H(8) FNN_S512H(4) FNN_S512H(2) FNN_S512H(1)
/* C[MRx8] := alpha * A[MRxk] . B[kx8] + beta * C (float64, n <= 8) */
FNN_D512H(12) FNN_D512H(8) FNN_D512H(4) FNN_D512H(2) FNN_D512H(1)
