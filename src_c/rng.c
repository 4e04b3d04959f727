/* Counter-based random numbers (Philox4x32-10, Salmon et al., "Parallel random numbers:
 * as easy as 1, 2, 3", SC'11) and inverted dropout. Element i of a (seed, step) stream
 * is word i % 4 of the block with counter (i / 4, step) under key seed, so any element
 * can be generated independently: masks do not depend on the thread count. */
#ifndef FNN_TMPL
#include "fastnn.h"
#include "fnn_util.h"
#include "vk.h"

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* out := Philox4x32-10(counter ctr, key key) */
void fnn_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; ++r) {
        uint32_t hi0, hi1;
        const uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0), lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u; /* Weyl key schedule */
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* Drop threshold on the top 24 bits of each word: keep iff (r >> 8) >= p 2^24, exact in
 * integers so float32, float64 and the NumPy twin agree on every element. */
uint32_t fnn_dropout_threshold(double p)
{
    double t = p * 16777216.0;
    return t <= 0 ? 0u : (t >= 16777216.0 ? 16777216u : (uint32_t)t);
}

#define FNN_TMPL_SELF "rng.c"
#include "fnn_tmpl.h"

#else /* ---- body, compiled once per dtype ---- */

/* mask_i := keep_i / (1 - p), y_i := x_i mask_i (inverted dropout: no rescale at eval);
 * x/y may be NULL to make only the mask. Backward is dx := dy * mask (fnn_<s|d>mul). */
void FN(dropout_fwd)(const T *x, T *y, T *mask, size_t n, double p, uint64_t seed,
                     uint64_t step)
{
    const uint32_t thr = fnn_dropout_threshold(p);
    const T keep = p < 1.0 ? (T)(1.0 / (1.0 - p)) : (T)0;
    const size_t ntile = (n + 63) / 64; /* 64 elements = 16 Philox blocks per tile */
    FNN_PAR_FOR(n > FNN_PAR_MIN / 4, for (size_t t = 0; t < ntile; ++t) {
        uint8_t kp[64];
        VK_PICK(fnn_philox_keep64_, seed, step, (uint64_t)t * 16, thr, kp);
        const size_t lo = 64 * t, m = n - lo < 64 ? n - lo : 64;
        if (x) {
            for (size_t j = 0; j < m; ++j) {
                const T v = kp[j] ? keep : (T)0;
                mask[lo + j] = v;
                y[lo + j] = x[lo + j] * v;
            }
        } else {
            for (size_t j = 0; j < m; ++j) mask[lo + j] = kp[j] ? keep : (T)0;
        }
    });
}
#endif
