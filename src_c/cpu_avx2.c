/* Compiled with -mavx2 -mfma: proves the per-file flags reach this path. */
#include <immintrin.h>

#include "fastnn.h"

int fnn_probe_avx2(void)
{
    /* an FMA on 8 floats: 8 * 32 = 256 bits */
    __m256 a = _mm256_set1_ps(2.0f), b = _mm256_set1_ps(16.0f), c = _mm256_setzero_ps();
    float out[8];
    _mm256_storeu_ps(out, _mm256_fmadd_ps(a, b, c));
    return (int)(out[7] * 8.0f);
}
