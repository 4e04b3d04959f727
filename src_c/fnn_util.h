/* Internal helpers shared by the non-GEMM kernels: not part of the public API.
 *
 * Each kernel family is written once in a ".c" file that includes itself twice, once
 * with T = float (prefix fnn_s) and once with T = double (prefix fnn_d); FN(op) makes
 * the public name and LOC(op) a file-local name for the current dtype.
 */
#ifndef FNN_UTIL_H
#define FNN_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The index of v's lowest set bit (v != 0) */
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static inline int fnn_ctz64(uint64_t v)
{
    unsigned long i;
    _BitScanForward64(&i, v);
    return (int)i;
}
#else
static inline int fnn_ctz64(uint64_t v) { return __builtin_ctzll(v); }
#endif

/* Below this many elements a parallel region costs more than it saves. */
#define FNN_PAR_MIN 32768

/* Loops threaded only when that pays. Under if(0), or with one thread, libgomp still
 * forks a team of one for every region: a malloc, a free and a futex syscall at each
 * barrier, ~5 us per training step of a tiny MLP. So a loop below its threshold, or
 * in a 1-thread run, runs a plain copy instead. Both copies do the same arithmetic on
 * the same elements in the same order, so results never depend on which one ran. */
#ifdef _OPENMP
#include <omp.h>
static inline int fnn_par(int worth)
{
    return worth && omp_get_max_threads() > 1 && !omp_in_parallel();
}
#else
static inline int fnn_par(int worth) { return (void)worth, 0; }
#endif
#define FNN_PRAGMA(x) _Pragma(#x)
#define FNN_PAR_FOR(worth, ...)                                                           \
    do {                                                                                  \
        if (fnn_par(worth)) {                                                             \
            FNN_PRAGMA(omp parallel for schedule(static))                                 \
            __VA_ARGS__                                                                   \
        } else {                                                                          \
            __VA_ARGS__                                                                   \
        }                                                                                 \
    } while (0)
#define FNN_PAR_FOR_SIMD(worth, ...)                                                      \
    do {                                                                                  \
        if (fnn_par(worth)) {                                                             \
            FNN_PRAGMA(omp parallel for simd schedule(static))                            \
            __VA_ARGS__                                                                   \
        } else {                                                                          \
            FNN_PRAGMA(omp simd)                                                          \
            __VA_ARGS__                                                                   \
        }                                                                                 \
    } while (0)
/* Reductions are split into at most this many fixed chunks (stack partials). */
#define FNN_MAX_CHUNKS 256

#define FNN_CAT_(a, b) a##b
#define FNN_CAT(a, b) FNN_CAT_(a, b)

/* Number of chunks of a reduction over n items: a function of n only, never of the
 * thread count, so partial sums combine in the same order for any OMP_NUM_THREADS. */
static inline size_t fnn_nchunks(size_t n, size_t min_chunk)
{
    size_t c = (n + min_chunk - 1) / min_chunk;
    return c < 1 ? 1 : (c > FNN_MAX_CHUNKS ? FNN_MAX_CHUNKS : c);
}

static inline size_t fnn_chunk_lo(size_t n, size_t nch, size_t c)
{
    return (size_t)(((unsigned long long)n * c) / nch);
}

/* cond ? a : b on the bits: a float select with no compare-and-branch, which the
 * vectoriser cannot if-convert under the default -ftrapping-math */
static inline __attribute__((always_inline)) float fnn_self(int cond, float a, float b)
{
    uint32_t m = 0u - (uint32_t)(cond != 0), ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    ua = (ua & m) | (ub & ~m);
    memcpy(&a, &ua, sizeof a);
    return a;
}

/* e^x for float without libm, written so gcc vectorises it at baseline SSE2.
 * Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, then a degree-6 Taylor/minimax
 * polynomial (Cephes expf coefficients, error < 2 ulp) and 2^k built in the exponent.
 * Inputs are clamped so it never overflows to inf; below -87 (e^x < FLT_MIN) it
 * returns 0 and never a denormal. NaN propagates. The vector versions in vk_body.h
 * compute the same formula. */
static inline float fnn_expf(float x)
{
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float xc = fnn_self(x < -87.0f, -87.0f, fnn_self(x > 88.0f, 88.0f, x));
    float t = xc * 1.44269504088896341f + shifter;
    float k = t - shifter;
    float r = xc - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t ki = (int32_t)k;
    int32_t bits = (ki + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    return fnn_self(x < -87.0f, 0.0f, fnn_self(x != x, x, y));
}

/* log x for a positive normal float (or NaN, returned as is), written so gcc
 * vectorises it: musl/FreeBSD logf, x = 2^k m with m in [sqrt(1/2), sqrt(2)), log m
 * from s = f / (2 + f), f = m - 1, by a degree-8 even polynomial; error < 1 ulp. Zero,
 * subnormals, negatives and inf are the caller's to exclude. */
static inline float fnn_logf(float x)
{
    const float ln2_hi = 6.9313812256e-01f, ln2_lo = 9.0580006145e-06f;
    uint32_t ix;
    float m;
    memcpy(&ix, &x, sizeof ix);
    ix += 0x3f800000u - 0x3f3504f3u;
    const float dk = (float)((int32_t)(ix >> 23) - 0x7f);
    ix = (ix & 0x007fffffu) + 0x3f3504f3u;
    memcpy(&m, &ix, sizeof m);
    const float f = m - 1.0f, s = f / (2.0f + f), z = s * s, w = z * z;
    const float r = z * (0.66666662693f + w * 0.28498786688f) +
                    w * (0.40000972152f + w * 0.24279078841f);
    const float hfsq = 0.5f * f * f;
    const float y = s * (hfsq + r) + dk * ln2_lo - hfsq + f + dk * ln2_hi;
    return fnn_self(x != x, x, y);
}

/* log(1 + e) for e > -1 with 1 + e normal, accurate when e is tiny: log u corrected by
 * the rounding error of u = 1 + e (Goldberg's trick) */
static inline float fnn_log1pf(float e)
{
    const float u = 1.0f + e;
    return fnn_logf(u) - ((u - 1.0f) - e) / u;
}

/* y_j := e^(x_j - m), returns their sum: double keeps libm's exp for full accuracy
 * (the float rows go through the per-ISA vector exp in vk_body.h) */
static inline double fnn_expsum_d(const double *x, double *y, size_t n, double m)
{
    double s = 0;
    for (size_t j = 0; j < n; ++j) {
        y[j] = exp(x[j] - m);
        s += y[j];
    }
    return s;
}

#endif /* FNN_UTIL_H */
