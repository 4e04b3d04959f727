/* Compiled with -mavx512f/dq/bw/vl: proves the per-file flags reach this path. */
#include <immintrin.h>

#include "fastnn.h"

int fnn_probe_avx512(void)
{
    /* a masked FMA over 16 floats: 16 * 32 = 512 bits */
    __m512 a = _mm512_set1_ps(2.0f), b = _mm512_set1_ps(16.0f);
    __m512 r = _mm512_maskz_fmadd_ps((__mmask16)0xffff, a, b, _mm512_setzero_ps());
    return (int)(_mm512_reduce_add_ps(r));
}
