/* Per-ISA bodies of the hot memory-bound loops (vk_generic.c, vk_avx2.c, vk_avx512.c
 * include this once each with VK_SFX set): the same source is compiled with each file's
 * instruction-set flags, and vk.h picks the variant of the selected kernel-table row.
 * Elementwise loops are plain C that gcc vectorises at the file's width; the row
 * exponential uses intrinsics because gcc will not if-convert the clamps of an exp. */
#include "fnn_util.h"
#include "vk.h"
#if defined(__AVX2__) || defined(__AVX512F__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#define VK(name) FNN_CAT(name, VK_SFX)

/* One Adam/AdamW step on elements [0, n) (see optim.c for the maths and constants). */
#define ADAM_RANGE(T, NAME, SQRT)                                                     \
    void VK(NAME)(T *p, const T *g, T *m, T *v, T *vmax, size_t n, const double *k)  \
    {                                                                                 \
        const T ss = (T)k[0], ibc2 = (T)k[1], e = (T)k[2], b1 = (T)k[3], b11 = (T)k[4]; \
        const T b2 = (T)k[5], b21 = (T)k[6], wd = (T)k[7], shrink = (T)k[8];          \
        if (vmax) {                                                                   \
            for (size_t i = 0; i < n; ++i) {                                          \
                T pi = p[i] * shrink, d = g[i] + wd * pi;                             \
                T mi = b1 * m[i] + b11 * d, vi = b2 * v[i] + b21 * d * d;             \
                T vm = vmax[i] > vi ? vmax[i] : vi;                                   \
                m[i] = mi; v[i] = vi; vmax[i] = vm;                                   \
                p[i] = pi - ss * mi / (SQRT(vm) * ibc2 + e);                          \
            }                                                                         \
        } else {                                                                      \
            for (size_t i = 0; i < n; ++i) {                                          \
                T pi = p[i] * shrink, d = g[i] + wd * pi;                             \
                T mi = b1 * m[i] + b11 * d, vi = b2 * v[i] + b21 * d * d;             \
                m[i] = mi; v[i] = vi;                                                 \
                p[i] = pi - ss * mi / (SQRT(vi) * ibc2 + e);                          \
            }                                                                         \
        }                                                                             \
    }

ADAM_RANGE(float, fnn_sadam_range_, sqrtf)
ADAM_RANGE(double, fnn_dadam_range_, sqrt)

/* Adagrad on [0, n): k = {lr_t, eps, wd} */
#define ADAGRAD_RANGE(T, NAME, SQRT)                                                  \
    void VK(NAME)(T *p, const T *g, T *sum, size_t n, const double *k)                \
    {                                                                                 \
        const T a = (T)k[0], e = (T)k[1], wd = (T)k[2];                               \
        for (size_t i = 0; i < n; ++i) {                                              \
            T d = g[i] + wd * p[i], s = sum[i] + d * d;                               \
            sum[i] = s;                                                               \
            p[i] -= a * d / (SQRT(s) + e);                                            \
        }                                                                             \
    }
ADAGRAD_RANGE(float, fnn_sadagrad_range_, sqrtf)
ADAGRAD_RANGE(double, fnn_dadagrad_range_, sqrt)

/* RMSProp on [0, n): k = {lr, alpha, 1-alpha, eps, wd, momentum}; buf / gavg NULL when
 * unused. One loop per option set, so each has no branches and vectorises. */
#define RMS_BODY(T, SQRT, CENTRED, MOM)                                                        \
    for (size_t i = 0; i < n; ++i) {                                                  \
        T d = g[i] + wd * p[i], s = al * sq[i] + al1 * d * d, v = s;                  \
        sq[i] = s;                                                                    \
        if (CENTRED) {                                                                \
            T m = al * gavg[i] + al1 * d;                                             \
            gavg[i] = m;                                                              \
            v = s - m * m;                                                            \
        }                                                                             \
        T r = SQRT(v) + e;                                                            \
        if (MOM) {                                                                    \
            T b = mu * buf[i] + d / r;                                                \
            buf[i] = b;                                                               \
            p[i] -= a * b;                                                            \
        } else {                                                                      \
            p[i] -= a * d / r;                                                        \
        }                                                                             \
    }
#define RMSPROP_RANGE(T, NAME, SQRT)                                                  \
    void VK(NAME)(T *p, const T *g, T *sq, T *buf, T *gavg, size_t n, const double *k) \
    {                                                                                 \
        const T a = (T)k[0], al = (T)k[1], al1 = (T)k[2], e = (T)k[3], wd = (T)k[4];  \
        const T mu = (T)k[5];                                                         \
        if (gavg && buf) RMS_BODY(T, SQRT, 1, 1)                                               \
        else if (gavg) RMS_BODY(T, SQRT, 1, 0)                                                 \
        else if (buf) RMS_BODY(T, SQRT, 0, 1)                                                  \
        else RMS_BODY(T, SQRT, 0, 0)                                                           \
    }
RMSPROP_RANGE(float, fnn_srmsprop_range_, sqrtf)
RMSPROP_RANGE(double, fnn_drmsprop_range_, sqrt)

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__)
#ifdef __AVX512F__
#define W 16
#define VF __m512
#define SET1 _mm512_set1_ps
#define ADD _mm512_add_ps
#define MUL _mm512_mul_ps
#define SUB _mm512_sub_ps
#define FMA _mm512_fmadd_ps
#define MAX _mm512_max_ps
#define MIN _mm512_min_ps
#define LOADU _mm512_loadu_ps
#define STOREU _mm512_storeu_ps
#define CVTT _mm512_cvttps_epi32
#define ADDI _mm512_add_epi32
#define SET1I _mm512_set1_epi32
#define SLLI _mm512_slli_epi32
#define CASTF _mm512_castsi512_ps
/* tail of r < W lanes: masked load/store, padding lanes excluded from the sum */
#define TAIL(x, y, r, vm, acc)                                                        \
    do {                                                                              \
        const __mmask16 k_ = (__mmask16)((1u << (r)) - 1u);                           \
        __m512 e_ = vexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k_, x), vm));            \
        _mm512_mask_storeu_ps(y, k_, e_);                                             \
        acc = _mm512_mask_add_ps(acc, k_, acc, e_);                                   \
    } while (0)
#define HSUM(v) _mm512_reduce_add_ps(v)
#define SELECT_GE0(x, a, b)                                                           \
    _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ), b, a)
#define ABS(x) _mm512_abs_ps(x)
#define DIV _mm512_div_ps
#define KEEP_NLT(x, lo, r) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ), r)
#elif defined(__AVX2__)
#define W 8
#define VF __m256
#define SET1 _mm256_set1_ps
#define ADD _mm256_add_ps
#define MUL _mm256_mul_ps
#define SUB _mm256_sub_ps
#define FMA _mm256_fmadd_ps
#define MAX _mm256_max_ps
#define MIN _mm256_min_ps
#define LOADU _mm256_loadu_ps
#define STOREU _mm256_storeu_ps
#define CVTT _mm256_cvttps_epi32
#define ADDI _mm256_add_epi32
#define SET1I _mm256_set1_epi32
#define SLLI _mm256_slli_epi32
#define CASTF _mm256_castsi256_ps
#define TAIL(x, y, r, vm, acc)                                                        \
    do {                                                                              \
        const __m256i k_ = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(r)),            \
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); \
        __m256 e_ = vexp(_mm256_sub_ps(_mm256_maskload_ps(x, k_), vm));               \
        _mm256_maskstore_ps(y, k_, e_);                                               \
        acc = _mm256_add_ps(acc, _mm256_and_ps(e_, _mm256_castsi256_ps(k_)));          \
    } while (0)
#define HSUM(v) hsum128(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)))
#define SELECT_GE0(x, a, b)                                                           \
    _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ))
#define ABS(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x)
#define DIV _mm256_div_ps
#define KEEP_NLT(x, lo, r) _mm256_and_ps(_mm256_cmp_ps(x, lo, _CMP_NLT_UQ), r)
#else /* SSE2, the x86-64 baseline: no FMA instruction, so multiply then add */
#define W 4
#define VF __m128
#define SET1 _mm_set1_ps
#define ADD _mm_add_ps
#define MUL _mm_mul_ps
#define SUB _mm_sub_ps
#define FMA(a, b, c) _mm_add_ps(_mm_mul_ps(a, b), c)
#define MAX _mm_max_ps
#define MIN _mm_min_ps
#define LOADU _mm_loadu_ps
#define STOREU _mm_storeu_ps
#define CVTT _mm_cvttps_epi32
#define ADDI _mm_add_epi32
#define SET1I _mm_set1_epi32
#define SLLI _mm_slli_epi32
#define CASTF _mm_castsi128_ps
/* SSE2 has no masked load: go through a padded buffer (padding lanes zeroed) */
#define TAIL(x, y, r, vm, acc)                                                        \
    do {                                                                              \
        float b_[4];                                                                  \
        for (size_t l = 0; l < 4; ++l) b_[l] = l < (r) ? (x)[l] : m;                  \
        _mm_storeu_ps(b_, vexp(_mm_sub_ps(_mm_loadu_ps(b_), vm)));                    \
        for (size_t l = 0; l < 4; ++l) {                                              \
            if (l < (r)) (y)[l] = b_[l];                                              \
            else b_[l] = 0.0f;                                                        \
        }                                                                             \
        acc = _mm_add_ps(acc, _mm_loadu_ps(b_));                                      \
    } while (0)
#define HSUM(v) hsum128(v)
#define SELECT_GE0(x, a, b) sel_ge0_sse2(x, a, b)
#define ABS(x) _mm_andnot_ps(_mm_set1_ps(-0.0f), x)
#define DIV _mm_div_ps
#define KEEP_NLT(x, lo, r) _mm_and_ps(_mm_cmpnlt_ps(x, lo), r)
static inline __m128 sel_ge0_sse2(__m128 x, __m128 a, __m128 b)
{
    __m128 m = _mm_cmpge_ps(x, _mm_setzero_ps());
    return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b));
}
#endif

/* (v0 + v2) + (v1 + v3): a fixed order, so results do not depend on the caller */
static inline float hsum128(__m128 v)
{
    __m128 h = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
}

/* fnn_expf (fnn_util.h) on W lanes; max/min take x second so a NaN lane stays NaN,
 * and lanes below -87 (where e^x < FLT_MIN) give exactly 0 as libm's expf does. */
static inline VF vexp(VF x0)
{
    const VF shifter = SET1(12582912.0f);
    VF x = MIN(SET1(88.0f), MAX(SET1(-87.0f), x0));
    VF t = FMA(x, SET1(1.44269504088896341f), shifter);
    VF k = SUB(t, shifter);
    VF r = FMA(k, SET1(-0.693359375f), x);
    r = FMA(k, SET1(2.12194440e-4f), r);
    VF p = SET1(1.9875691500e-4f);
    p = FMA(p, r, SET1(1.3981999507e-3f));
    p = FMA(p, r, SET1(8.3334519073e-3f));
    p = FMA(p, r, SET1(4.1665795894e-2f));
    p = FMA(p, r, SET1(1.6666665459e-1f));
    p = FMA(p, r, SET1(5.0000001201e-1f));
    p = ADD(FMA(MUL(p, r), r, r), SET1(1.0f));
    VF scale = CASTF(SLLI(ADDI(CVTT(k), SET1I(127)), 23));
    return KEEP_NLT(x0, SET1(-87.0f), MUL(p, scale));
}

/* y_j := e^(x_j - m); returns sum_j y_j. Two vector accumulators, the tail as one
 * masked vector, then a fixed horizontal sum: short rows such as 10 classes never fall
 * back to a scalar exp, and never go through memory (store-forwarding stalls). */
float VK(fnn_sexpsum_)(const float *x, float *y, size_t n, float m)
{
    const VF vm = SET1(m);
    VF s0 = SET1(0.0f), s1 = s0;
    size_t j = 0;
    for (; j + 2 * W <= n; j += 2 * W) {
        VF a = vexp(SUB(LOADU(x + j), vm)), b = vexp(SUB(LOADU(x + j + W), vm));
        STOREU(y + j, a);
        STOREU(y + j + W, b);
        s0 = ADD(s0, a);
        s1 = ADD(s1, b);
    }
    for (; j + W <= n; j += W) {
        VF a = vexp(SUB(LOADU(x + j), vm));
        STOREU(y + j, a);
        s0 = ADD(s0, a);
    }
    if (j < n) TAIL(x + j, y + j, n - j, vm, s1);
    float s = HSUM(ADD(s0, s1));
    return s;
}

/* sigmoid(x) = 1/(1+e), or e/(1+e) for x < 0, with e = e^-|x| (never overflows) */
static inline VF vsigmoid(VF x)
{
    VF e = vexp(SUB(SET1(0.0f), ABS(x)));
    VF r = DIV(SET1(1.0f), ADD(SET1(1.0f), e));
    return SELECT_GE0(x, r, MUL(e, r));
}

/* y := sigmoid(x), or x sigmoid(x) (silu) when silu != 0 */
void VK(fnn_ssigmoid_range_)(const float *x, float *y, size_t n, int silu)
{
    size_t j = 0;
    for (; j + W <= n; j += W) {
        VF v = LOADU(x + j), s = vsigmoid(v);
        STOREU(y + j, silu ? MUL(v, s) : s);
    }
    for (; j < n; ++j) {
        float e = fnn_expf(-fabsf(x[j])), r = 1.0f / (1.0f + e);
        float s = x[j] >= 0 ? r : e * r;
        y[j] = silu ? x[j] * s : s;
    }
}
#else /* not x86: portable loops */
float VK(fnn_sexpsum_)(const float *x, float *y, size_t n, float m)
{
    float s = 0.0f;
    for (size_t j = 0; j < n; ++j) { y[j] = fnn_expf(x[j] - m); s += y[j]; }
    return s;
}

void VK(fnn_ssigmoid_range_)(const float *x, float *y, size_t n, int silu)
{
    for (size_t j = 0; j < n; ++j) {
        float e = fnn_expf(-fabsf(x[j])), r = 1.0f / (1.0f + e);
        float s = x[j] >= 0 ? r : e * r;
        y[j] = silu ? x[j] * s : s;
    }
}
#endif

/* Binary cross-entropy of floats over [0, n) through the vectorisable fnn_logf (see
 * loss.c for the maths): returns the sum of the losses in double; grad := dl/dp * gs
 * when grad != NULL. logits != 0: pred holds logits. */
#define VK_BCE_LOOP(GRAD, ...)                                                        \
    _Pragma("omp simd reduction(+ : acc)")                                            \
    for (size_t j = 0; j < n; ++j) {                                                  \
        const float p = pred[j], t = target[j];                                       \
        float l, g;                                                                   \
        __VA_ARGS__;                                                                  \
        acc += (double)l;                                                             \
        if (GRAD) grad[j] = g * gs;                                                   \
    }
#define VK_BCE_PROB                                                                   \
    const float pc = fnn_self(p < 1e-7f, 1e-7f, fnn_self(p > 1 - 1e-7f, 1 - 1e-7f, p)); \
    l = -(t * fnn_logf(pc) + (1 - t) * fnn_log1pf(-pc));                              \
    g = (pc - t) / (pc * (1 - pc))
#define VK_BCE_LOGIT                                                                  \
    const float e = fnn_expf(-fabsf(p)), r = 1 / (1 + e);                             \
    l = fnn_self(p > 0, p, 0) - p * t + fnn_log1pf(e);                                \
    g = fnn_self(p >= 0, r, e * r) - t
double VK(fnn_sbce_range_)(const float *pred, const float *target, float *grad, size_t n,
                           float gs, int logits)
{
    double acc = 0;
    if (logits && grad) {
        VK_BCE_LOOP(1, VK_BCE_LOGIT)
    } else if (logits) {
        VK_BCE_LOOP(0, VK_BCE_LOGIT)
    } else if (grad) {
        VK_BCE_LOOP(1, VK_BCE_PROB)
    } else {
        VK_BCE_LOOP(0, VK_BCE_PROB)
    }
    return acc;
}
#undef VK_BCE_LOOP
#undef VK_BCE_PROB
#undef VK_BCE_LOGIT

/* Keep flags of the 64 dropout elements of Philox blocks b0 .. b0+15 (see rng.c):
 * keep[4 l + w] = (word w of block b0 + l) >> 8 >= thr. AVX-512 runs the 16 blocks in
 * the 16 lanes; other paths call the scalar generator. Identical bits on every path. */
#ifdef __AVX512F__
/* bit i of a 16-bit mask -> bit 4 i (Morton "part1by3") */
static inline uint64_t spread4(uint64_t x)
{
    x = (x ^ (x << 24)) & 0x000000FF000000FFull;
    x = (x ^ (x << 12)) & 0x000F000F000F000Full;
    x = (x ^ (x << 6)) & 0x0303030303030303ull;
    return (x ^ (x << 3)) & 0x1111111111111111ull;
}

/* 32x32 -> 64-bit products of every lane: low and high halves */
static inline __m512i mulhilo512(__m512i a, __m512i mult, __m512i *hi)
{
    __m512i pe = _mm512_mul_epu32(a, mult);
    __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mult);
    *hi = _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_srli_epi64(pe, 32), po);
    return _mm512_mullo_epi32(a, mult);
}

void VK(fnn_philox_keep64_)(uint64_t seed, uint64_t step, uint64_t b0, uint32_t thr,
                            uint8_t *keep)
{
    const __m512i base = _mm512_set1_epi32((int)(uint32_t)b0);
    __m512i c0 = _mm512_add_epi32(base, _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                          11, 12, 13, 14, 15));
    const __mmask16 carry = _mm512_cmplt_epu32_mask(c0, base);
    const __m512i bhi = _mm512_set1_epi32((int)(uint32_t)(b0 >> 32));
    __m512i c1 = _mm512_mask_add_epi32(bhi, carry, bhi, _mm512_set1_epi32(1));
    __m512i c2 = _mm512_set1_epi32((int)(uint32_t)step);
    __m512i c3 = _mm512_set1_epi32((int)(uint32_t)(step >> 32));
    const __m512i m0 = _mm512_set1_epi32((int)0xD2511F53u);
    const __m512i m1 = _mm512_set1_epi32((int)0xCD9E8D57u);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; ++r) {
        __m512i hi0, hi1, lo0 = mulhilo512(c0, m0, &hi0), lo1 = mulhilo512(c2, m1, &hi1);
        c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)k0));
        c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)k1));
        c1 = lo1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    const __m512i t = _mm512_set1_epi32((int)thr);
    uint64_t bits = spread4(_mm512_cmpge_epu32_mask(_mm512_srli_epi32(c0, 8), t));
    bits |= spread4(_mm512_cmpge_epu32_mask(_mm512_srli_epi32(c1, 8), t)) << 1;
    bits |= spread4(_mm512_cmpge_epu32_mask(_mm512_srli_epi32(c2, 8), t)) << 2;
    bits |= spread4(_mm512_cmpge_epu32_mask(_mm512_srli_epi32(c3, 8), t)) << 3;
    _mm512_storeu_si512((void *)keep, _mm512_maskz_set1_epi8((__mmask64)bits, 1));
}
#else
void VK(fnn_philox_keep64_)(uint64_t seed, uint64_t step, uint64_t b0, uint32_t thr,
                            uint8_t *keep)
{
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (uint64_t l = 0; l < 16; ++l) {
        const uint64_t b = b0 + l;
        const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)step,
                                 (uint32_t)(step >> 32)};
        uint32_t w[4];
        fnn_philox4x32_10(ctr, key, w);
        for (int j = 0; j < 4; ++j) keep[4 * l + j] = (uint8_t)((w[j] >> 8) >= thr);
    }
}
#endif

/* bits[0, ceil(n / 64)) := where x[0, n) is not zero (NaN included, -0 not), bit j % 64 of
 * word j / 64; the sparse first layer's row scan (plan.c sp_build). One compare a vector. */
#define NZBITS(T, NAME, W, VEC)                                                       \
    void VK(NAME)(const T *x, ptrdiff_t n, uint64_t *bits)                            \
    {                                                                                 \
        ptrdiff_t j = 0;                                                              \
        for (ptrdiff_t w = 0; w < (n + 63) / 64; ++w) bits[w] = 0;                    \
        for (; j + W <= n; j += W) bits[j >> 6] |= (uint64_t)(VEC) << (j & 63);      \
        for (; j < n; ++j) bits[j >> 6] |= (uint64_t)(x[j] != 0) << (j & 63);         \
    }
#ifdef __AVX512F__
NZBITS(float, fnn_snzbits_, 16, _mm512_cmp_ps_mask(_mm512_loadu_ps(x + j), _mm512_setzero_ps(), _CMP_NEQ_UQ))
NZBITS(double, fnn_dnzbits_, 8, _mm512_cmp_pd_mask(_mm512_loadu_pd(x + j), _mm512_setzero_pd(), _CMP_NEQ_UQ))
#elif defined(__AVX2__)
NZBITS(float, fnn_snzbits_, 8,
       (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + j), _mm256_setzero_ps(), _CMP_NEQ_UQ)))
NZBITS(double, fnn_dnzbits_, 4,
       (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(x + j), _mm256_setzero_pd(), _CMP_NEQ_UQ)))
#else
NZBITS(float, fnn_snzbits_, 1, x[j] != 0)
NZBITS(double, fnn_dnzbits_, 1, x[j] != 0)
#endif
