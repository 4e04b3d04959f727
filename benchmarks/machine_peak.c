/* The two hardware ceilings the benchmark notes quote, measured on this core:
 *   1. float32 FMA peak: 12 independent chains of 512-bit FMAs, registers only;
 *   2. read bandwidth of a buffer of the given size (default 2.1 MB, the 784-512-256-10
 *      net's weights), streamed repeatedly so it sits in L3 (or L2 if it fits).
 *
 *   gcc -O2 -mavx512f -o /tmp/machine_peak benchmarks/machine_peak.c && /tmp/machine_peak
 *
 * Needs AVX-512F. Run it on an idle machine and take the best of a few runs. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double fma_peak(void)
{
    __m512 a[12], b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
    const long n = 200000000 / 12;
    float sink = 0;
    for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps((float)i);
    double t0 = now();
    for (long r = 0; r < n; ++r) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], b, c);
    }
    double s = now() - t0;
    for (int i = 0; i < 12; ++i) sink += _mm512_reduce_add_ps(a[i]);
    if (sink == 42) puts("");
    return (double)n * 12 * 32 / s * 1e-9;
}

static double read_bandwidth(size_t bytes)
{
    size_t n = bytes / sizeof(float) / 64 * 64;
    float *x = aligned_alloc(64, n * sizeof(float));
    double best = 1e30;
    volatile float sink;
    for (size_t i = 0; i < n; ++i) x[i] = (float)i;
    for (int rep = 0; rep < 200; ++rep) {
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        double t0 = now();
        for (size_t i = 0; i < n; i += 64) {
            s0 = _mm512_add_ps(s0, _mm512_load_ps(x + i));
            s1 = _mm512_add_ps(s1, _mm512_load_ps(x + i + 16));
            s2 = _mm512_add_ps(s2, _mm512_load_ps(x + i + 32));
            s3 = _mm512_add_ps(s3, _mm512_load_ps(x + i + 48));
        }
        double s = now() - t0;
        sink = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
        if (s < best) best = s;
    }
    (void)sink;
    free(x);
    return (double)(n * sizeof(float)) / best * 1e-9;
}

int main(int argc, char **argv)
{
    size_t bytes = argc > 1 ? (size_t)atol(argv[1]) : 2101248;
    printf("float32 FMA peak, 1 core: %.1f GFLOP/s\n", fma_peak());
    printf("read bandwidth, %zu bytes streamed repeatedly: %.1f GB/s\n", bytes,
           read_bandwidth(bytes));
    return 0;
}
