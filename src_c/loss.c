/* Losses with their gradients in one pass: the loss is returned (double, reduced over a
 * fixed partition of rows so it is bit-identical for any thread count) and the gradient
 * d loss / d pred written to grad when grad != NULL.
 * pred, target, grad: [n, k]; sw: per-sample weights [n] or NULL;
 * reduction FNN_REDUCE_MEAN divides by n*k (by n for softmax cross-entropy), SUM does not. */
#ifndef FNN_TMPL
#include "fastnn.h"
#include "fnn_util.h"
#include "vk.h"

#define FNN_TMPL 1
#define T float
/* float libm (expf, logf...): ~2x faster, as accurate as a float result needs */
#define MATH(fn) fn##f
#define FN(op) fnn_s##op
#define LOC(op) op##_s
#define EXPSUM(x, y, n, m) VK_PICK(fnn_sexpsum_, x, y, n, m)
#define BCE_EPS 1e-7f
#define BCE_RANGE fnn_sbce_range_
#include "loss.c"
#undef BCE_RANGE
#undef T
#undef FN
#undef LOC
#undef EXPSUM
#undef BCE_EPS
#undef MATH
#define T double
#define MATH(fn) fn
#define FN(op) fnn_d##op
#define LOC(op) op##_d
#define EXPSUM(x, y, n, m) fnn_expsum_d(x, y, n, m)
#define BCE_EPS 1e-7
#include "loss.c"

#else /* ---- body, compiled once per dtype ---- */

/* Rows split into fixed chunks; each chunk sums its rows' weighted losses in double and
 * the partials add up in chunk order. BODY sees r (row), w (its weight), gs (w * scale)
 * and adds the row's unweighted loss into rl. */
#define ROW_LOSS(n, k, sw, reduction, ...)                                            \
    double part[FNN_MAX_CHUNKS], total = 0;                                           \
    const double scale = (reduction) == FNN_REDUCE_SUM ? 1.0 : 1.0 / (double)(n);     \
    const size_t nch = fnn_nchunks((n), 1 + 4096 / ((k) + 1)), work_ = (n) * (k);     \
    FNN_PAR_FOR(work_ > FNN_PAR_MIN, for (size_t ch = 0; ch < nch; ++ch) {           \
        double acc = 0;                                                               \
        const size_t r1 = fnn_chunk_lo(n, nch, ch + 1);                               \
        for (size_t r = fnn_chunk_lo(n, nch, ch); r < r1; ++r) {                      \
            const double w = (sw) ? (double)(sw)[r] : 1.0;                            \
            const T gs = (T)(w * scale);                                              \
            double rl = 0;                                                            \
            __VA_ARGS__;                                                              \
            acc += w * rl;                                                            \
        }                                                                             \
        part[ch] = acc;                                                               \
    });                                                                               \
    for (size_t ch = 0; ch < nch; ++ch) total += part[ch];                            \
    return total * scale * kscale;

/* Elementwise loss l(d or p, t) with gradient g: rows of k elements, mean over n*k. */
#define ELEMENTWISE(n, k, ...)                                                        \
    ROW_LOSS(n, k, sw, reduction, {                                                   \
        const T gsk = gs * (T)kscale;                                                 \
        for (size_t j = r * (k); j < (r + 1) * (k); ++j) {                            \
            const T p = pred[j], t = target[j];                                       \
            T l, g;                                                                   \
            __VA_ARGS__;                                                              \
            rl += (double)l;                                                          \
            if (grad) grad[j] = g * gsk;                                              \
        }                                                                             \
    })

#ifdef BCE_RANGE
/* Float BCE through the per-ISA vectorised range kernel (vk_body.h, same maths as the
 * ELEMENTWISE bodies below): without sample weights over fixed flat chunks of the n*k
 * elements, with them one call per row. */
#define BCE_VEC(logits)                                                               \
    if (!sw) {                                                                        \
        double part[FNN_MAX_CHUNKS], total = 0;                                       \
        const size_t nel = n * k, nch = fnn_nchunks(nel, 4096);                       \
        const double scale = reduction == FNN_REDUCE_SUM ? 1.0 : 1.0 / (double)n;     \
        const T gsk = (T)scale * (T)kscale;                                           \
        FNN_PAR_FOR(nel > FNN_PAR_MIN, for (size_t ch = 0; ch < nch; ++ch) {         \
            const size_t lo = fnn_chunk_lo(nel, nch, ch);                             \
            part[ch] = VK_PICK(BCE_RANGE, pred + lo, target + lo, grad ? grad + lo : NULL, \
                               fnn_chunk_lo(nel, nch, ch + 1) - lo, gsk, logits);     \
        });                                                                           \
        for (size_t ch = 0; ch < nch; ++ch) total += part[ch];                        \
        return total * scale * kscale;                                                \
    }                                                                                 \
    ROW_LOSS(n, k, sw, reduction, rl = VK_PICK(BCE_RANGE, pred + r * k, target + r * k, \
                                              grad ? grad + r * k : NULL, k,          \
                                              gs * (T)kscale, logits))
#endif

/* sum w_i sum_j (p_ij - t_ij)^2 */
double FN(mse_loss)(const T *pred, const T *target, const T *sw, T *grad, size_t n,
                    size_t k, int reduction)
{
    const double kscale = reduction == FNN_REDUCE_SUM ? 1.0 : 1.0 / (double)(k ? k : 1);
    ELEMENTWISE(n, k, { T d = p - t; l = d * d; g = 2 * d; })
}

/* sum w_i sum_j |p_ij - t_ij|; subgradient 0 at p = t */
double FN(mae_loss)(const T *pred, const T *target, const T *sw, T *grad, size_t n,
                    size_t k, int reduction)
{
    const double kscale = reduction == FNN_REDUCE_SUM ? 1.0 : 1.0 / (double)(k ? k : 1);
    ELEMENTWISE(n, k, {
        T d = p - t;
        l = MATH(fabs)(d);
        g = d > 0 ? (T)1 : (d < 0 ? (T)-1 : (T)0);
    })
}

/* Huber: d^2/2 for |d| <= delta, delta (|d| - delta/2) beyond; gradient clip(d, +-delta) */
double FN(huber_loss)(const T *pred, const T *target, const T *sw, T *grad, size_t n,
                      size_t k, double delta, int reduction)
{
    const double kscale = reduction == FNN_REDUCE_SUM ? 1.0 : 1.0 / (double)(k ? k : 1);
    const T dl = (T)delta;
    ELEMENTWISE(n, k, {
        T d = p - t, ad = MATH(fabs)(d);
        l = ad <= dl ? (T)0.5 * d * d : dl * (ad - (T)0.5 * dl);
        g = d > dl ? dl : (d < -dl ? -dl : d);
    })
}

/* -(t log p + (1-t) log(1-p)) with p clamped to [eps, 1-eps] (eps = 1e-7, as Keras) so
 * probabilities of exactly 0 or 1 give finite loss and gradient (p-t)/(p(1-p)). */
double FN(bce_loss)(const T *pred, const T *target, const T *sw, T *grad, size_t n,
                    size_t k, int reduction)
{
    const double kscale = reduction == FNN_REDUCE_SUM ? 1.0 : 1.0 / (double)(k ? k : 1);
#ifdef BCE_RANGE
    BCE_VEC(0);
#else
    ELEMENTWISE(n, k, {
        T pc = p < BCE_EPS ? BCE_EPS : (p > 1 - BCE_EPS ? 1 - BCE_EPS : p);
        l = -(t * (T)MATH(log)(pc) + (1 - t) * (T)MATH(log1p)(-pc));
        g = (pc - t) / (pc * (1 - pc));
    })
#endif
}

/* BCE on logits z: max(z,0) - z t + log1p(e^-|z|), gradient sigmoid(z) - t; never
 * exponentiates a positive number, so any finite z is safe. */
double FN(bce_logits_loss)(const T *pred, const T *target, const T *sw, T *grad, size_t n,
                           size_t k, int reduction)
{
    const double kscale = reduction == FNN_REDUCE_SUM ? 1.0 : 1.0 / (double)(k ? k : 1);
#ifdef BCE_RANGE
    BCE_VEC(1);
#else
    ELEMENTWISE(n, k, {
        T e = (T)MATH(exp)(-MATH(fabs)(p));
        l = (p > 0 ? p : 0) - p * t + (T)MATH(log1p)(e);
        g = (p >= 0 ? 1 / (1 + e) : e / (1 + e)) - t;
    })
#endif
}

/* One row of fused softmax cross-entropy. Target weights a_j = cw_j ((1-s) t_j + s/c),
 * t one-hot (label y) or soft; loss = sum_j a_j (lse - z_j), A = sum_j a_j,
 * lse = log sum e^z (max-shifted); d loss / dz_j = softmax_j A - a_j, scaled by gs. */
static inline double LOC(xent_row)(const T *z, T *g, int64_t y, const T *t, const T *cw,
                                   size_t c, double sm, T gs)
{
    T m = z[0];
#pragma omp simd reduction(max : m)
    for (size_t j = 1; j < c; ++j) m = z[j] > m ? z[j] : m;
    const T s = EXPSUM(z, g, c, m);
    const double lse = (double)m + (double)MATH(log)(s), u = sm / (double)c, h = 1.0 - sm;
    double A = 0, L = 0; /* L = sum_j a_j (lse - z_j): each term >= 0, no cancellation */
    for (size_t j = 0; j < c && (t || u != 0.0); ++j) { /* all a_j = 0 for hard labels */
        double a = (t ? h * (double)t[j] : 0.0) + u;
        a *= cw ? (double)cw[j] : 1.0;
        A += a;
        L += a * (lse - (double)z[j]);
    }
    if (!t) { /* the one-hot part of the label */
        double wy = h * (cw ? (double)cw[y] : 1.0);
        A += wy;
        L += wy * (lse - (double)z[y]);
    }
    const T pa = (T)(A / (double)s) * gs, tu = (T)u * gs, th = (T)h * gs;
    for (size_t j = 0; j < c; ++j) {
        T a = t ? th * t[j] + tu : tu;
        g[j] = g[j] * pa - (cw ? cw[j] * a : a);
    }
    if (!t) g[y] -= th * (cw ? cw[y] : 1);
    return L;
}

/* Fused softmax + cross-entropy: loss and grad := d loss / d logits in one pass per row.
 * logits, grad: [n, c]; labels [n] (int64, 0 <= y < c) or target [n, c] (soft, rows
 * summing to 1), exactly one non-NULL; cw [c] class weights or NULL; sw [n] or NULL;
 * smoothing in [0, 1]. grad must not be NULL (it holds the exponentials). */
double FN(softmax_xent)(const T *logits, const int64_t *labels, const T *target,
                        const T *cw, const T *sw, T *grad, size_t n, size_t c,
                        double smoothing, int reduction)
{
    const double kscale = 1.0;
    if (c == 0) return 0.0;
    ROW_LOSS(n, c, sw, reduction, {
        rl = LOC(xent_row)(logits + r * c, grad + r * c, labels ? labels[r] : 0,
                           target ? target + r * c : NULL, cw, c, smoothing, gs);
    })
}

#undef ROW_LOSS
#undef ELEMENTWISE
#undef BCE_VEC
#endif
