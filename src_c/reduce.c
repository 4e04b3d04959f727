/* Reductions over the gradient arena: bias gradients, global norm, L1/L2 penalties,
 * clipping. Every sum runs over a fixed partition (fnn_nchunks) in double and combines
 * partials in chunk order, so results are bit-identical for any thread count. */
#ifndef FNN_TMPL
#include "fastnn.h"
#include "fnn_util.h"

#define FNN_TMPL_SELF "reduce.c"
#include "fnn_tmpl.h"

#else /* ---- body, compiled once per dtype ---- */

#define CHUNK 8192 /* elements per partial: large enough to amortise, fits L1/L2 */

/* Chunked sum of EXPR(i) over i < n, in double. */
#define CHUNKED_SUM(n, EXPR)                                                          \
    double part[FNN_MAX_CHUNKS], total = 0;                                           \
    const size_t nch = fnn_nchunks((n), CHUNK);                                       \
    FNN_PAR_FOR(n > FNN_PAR_MIN, for (size_t c = 0; c < nch; ++c) {                  \
        double acc = 0;                                                               \
        const size_t hi = fnn_chunk_lo(n, nch, c + 1);                                \
        _Pragma("omp simd reduction(+ : acc)")                                        \
        for (size_t i = fnn_chunk_lo(n, nch, c); i < hi; ++i) acc += (EXPR);          \
        part[c] = acc;                                                                \
    });                                                                               \
    for (size_t c = 0; c < nch; ++c) total += part[c];

/* db_j := [db_j +] sum_i dy_ij. Columns are split among threads in blocks of 64; each
 * column is summed top to bottom in double, a fixed order whatever the thread count. */
void FN(bias_grad)(const T *dy, T *db, size_t n, size_t k, int accumulate)
{
    const size_t nb = (k + 63) / 64;
    FNN_PAR_FOR(n * k > FNN_PAR_MIN && nb > 1, for (size_t b = 0; b < nb; ++b) {
        double acc[64] = {0};
        const size_t j0 = b * 64, w = k - j0 < 64 ? k - j0 : 64;
        for (size_t i = 0; i < n; ++i) {
            const T *row = dy + i * k + j0;
            for (size_t j = 0; j < w; ++j) acc[j] += (double)row[j];
        }
        for (size_t j = 0; j < w; ++j)
            db[j0 + j] = (T)(accumulate ? (double)db[j0 + j] + acc[j] : acc[j]);
    });
}

/* 1 when every x_i is finite: x - x is 0 for finite x and NaN for NaN or +-inf. Large
 * arrays are split over threads (a 784 x 512 GEMM output is 20 us on one core). */
int FN(all_finite)(const T *x, size_t n)
{
    int bad = 0;
    const size_t nch = fnn_nchunks(n, 4 * CHUNK);
    FNN_PAR_FOR(n > 4 * FNN_PAR_MIN && nch > 1, for (size_t c = 0; c < nch; ++c) {
        int b = 0;
        const size_t hi = fnn_chunk_lo(n, nch, c + 1);
        for (size_t i = fnn_chunk_lo(n, nch, c); i < hi; ++i) b |= (x[i] - x[i]) != 0;
        if (b) {
            FNN_PRAGMA(omp atomic write)
            bad = 1;
        }
    });
    return !bad;
}

/* sum_i x_i^2 */
double FN(sum_sq)(const T *x, size_t n)
{
    CHUNKED_SUM(n, (double)x[i] * (double)x[i])
    return total;
}

/* ||g||_2 over the whole arena (or any slice of it) */
double FN(grad_norm)(const T *g, size_t n) { return sqrt(FN(sum_sq)(g, n)); }

/* Keras-style L2: returns lam sum p^2 and, if g, adds d/dp = 2 lam p into g */
double FN(l2_penalty)(const T *p, T *g, size_t n, double lam)
{
    if (g) {
        const T c = (T)(2.0 * lam);
        FNN_PAR_FOR_SIMD(n > FNN_PAR_MIN, for (size_t i = 0; i < n; ++i) {
            g[i] += c * p[i];
        });
    }
    return lam * FN(sum_sq)(p, n);
}

/* L1: returns lam sum |p| and, if g, adds lam sign(p) (0 at 0) into g */
double FN(l1_penalty)(const T *p, T *g, size_t n, double lam)
{
    if (g) {
        const T c = (T)lam;
        FNN_PAR_FOR_SIMD(n > FNN_PAR_MIN, for (size_t i = 0; i < n; ++i) {
            g[i] += p[i] > 0 ? c : (p[i] < 0 ? -c : (T)0);
        });
    }
    CHUNKED_SUM(n, fabs((double)p[i]))
    return lam * total;
}

/* g_i := clip(g_i, -c, c); NaN stays NaN so divergence remains visible */
void FN(clip_value)(T *g, size_t n, double clip)
{
    const T c = (T)clip;
    FNN_PAR_FOR_SIMD(n > FNN_PAR_MIN, for (size_t i = 0; i < n; ++i) {
        g[i] = g[i] > c ? c : (g[i] < -c ? -c : g[i]);
    });
}

/* g := g * min(1, max_norm / (||g|| + 1e-6)) (PyTorch clip_grad_norm_); returns ||g||
 * before clipping. A non-finite norm leaves g untouched for the caller to act on. */
double FN(clip_norm)(T *g, size_t n, double max_norm)
{
    const double norm = FN(grad_norm)(g, n);
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0 && isfinite(norm)) {
        const T c = (T)coef;
        FNN_PAR_FOR_SIMD(n > FNN_PAR_MIN, for (size_t i = 0; i < n; ++i) {
            g[i] *= c;
        });
    }
    return norm;
}

/* out := x * a elementwise (dropout backward, mask application) */
void FN(mul)(const T *x, const T *a, T *out, size_t n)
{
    FNN_PAR_FOR_SIMD(n > FNN_PAR_MIN, for (size_t i = 0; i < n; ++i) {
        out[i] = x[i] * a[i];
    });
}

#undef CHUNKED_SUM
#undef CHUNK
#endif
