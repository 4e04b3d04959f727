/* Activations forward and backward, row-wise softmax and log-softmax.
 * Backward uses the forward output y where the maths allows (sklearn's DERIVATIVES),
 * so a layer need not keep its pre-activation; gelu and silu need x. */
#ifndef FNN_TMPL
#include "fastnn.h"
#include "fnn_util.h"
#include "vk.h"

int fnn_act_bwd_uses_x(int act) { return act == FNN_ACT_GELU || act == FNN_ACT_SILU; }

#define FNN_TMPL 1
#define T float
/* float libm (expf, logf...): ~2x faster, as accurate as a float result needs */
#define MATH(fn) fn##f
#define FN(op) fnn_s##op
#define LOC(op) op##_s
#define EXPSUM(x, y, n, m) VK_PICK(fnn_sexpsum_, x, y, n, m)
#define SIGMOID_FWD(x, y, n, silu) sigmoid_chunks_s(x, y, n, silu)
#include "act.c"
#undef T
#undef FN
#undef LOC
#undef EXPSUM
#undef SIGMOID_FWD
#undef MATH
#define T double
#define MATH(fn) fn
#define FN(op) fnn_d##op
#define LOC(op) op##_d
#define EXPSUM(x, y, n, m) fnn_expsum_d(x, y, n, m)
#define SIGMOID_FWD(x, y, n, silu) EW(y[i] = (silu ? x[i] : 1) * LOC(sigmoid)(x[i]))
#include "act.c"

#else /* ---- body, compiled once per dtype ---- */

/* Elementwise loop over i < n, threaded only when n is large. */
#define EW(...)                                                                    \
    FNN_PAR_FOR_SIMD(n > FNN_PAR_MIN, for (size_t i = 0; i < n; ++i) { __VA_ARGS__; })

/* sigmoid(x) = 1 / (1 + e^-x), evaluated from e^-|x| so exp never overflows. */
static inline T LOC(sigmoid)(T x)
{
    T e = MATH(exp)(-MATH(fabs)(x));
    return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

#ifndef FNN_ACT_CHUNK
#define FNN_ACT_CHUNK 8192
/* sigmoid / silu of float arrays through the per-ISA vector exp, in fixed chunks */
static void sigmoid_chunks_s(const float *x, float *y, size_t n, int silu)
{
    const size_t nch = (n + FNN_ACT_CHUNK - 1) / FNN_ACT_CHUNK;
    FNN_PAR_FOR(n > FNN_PAR_MIN, for (size_t c = 0; c < nch; ++c) {
        const size_t lo = c * FNN_ACT_CHUNK;
        const size_t len = n - lo < FNN_ACT_CHUNK ? n - lo : FNN_ACT_CHUNK;
        VK_PICK(fnn_ssigmoid_range_, x + lo, y + lo, len, silu);
    });
}
#endif

/* y := act(x), elementwise; param is alpha of leaky_relu and elu. */
void FN(act_fwd)(int act, double param, const T *x, T *y, size_t n)
{
    const T a = (T)param;
    switch (act) {
    case FNN_ACT_IDENTITY: if (x != y) memmove(y, x, n * sizeof(T)); break;
    case FNN_ACT_STEP: EW(y[i] = x[i] > 0 ? (T)1 : (T)0); break;
    case FNN_ACT_SIGMOID: SIGMOID_FWD(x, y, n, 0); break;
    case FNN_ACT_TANH: EW(y[i] = MATH(tanh)(x[i])); break;
    case FNN_ACT_RELU: EW(T v = x[i]; y[i] = v < 0 ? (T)0 : v); break;
    case FNN_ACT_LEAKY_RELU: EW(T v = x[i]; y[i] = v < 0 ? a * v : v); break;
    case FNN_ACT_ELU: EW(y[i] = x[i] < 0 ? a * (T)MATH(expm1)(x[i]) : x[i]); break;
    /* exact GELU x Phi(x) (Hendrycks & Gimpel 2016), Phi via erfc for accuracy at -x */
    case FNN_ACT_GELU:
        EW(y[i] = (T)(0.5 * x[i] * MATH(erfc)(-x[i] * 0.70710678118654752440))); break;
    case FNN_ACT_SILU: SIGMOID_FWD(x, y, n, 1); break;
    /* softplus = max(x,0) + log1p(e^-|x|): no overflow for large |x| */
    case FNN_ACT_SOFTPLUS:
        EW(y[i] = (x[i] > 0 ? x[i] : 0) + (T)MATH(log1p)(MATH(exp)(-MATH(fabs)(x[i])))); break;
    default: break;
    }
}

/* dx := dy * act'(x), act' taken from y = act(x) except for gelu and silu (from x). */
void FN(act_bwd)(int act, double param, const T *x, const T *y, const T *dy, T *dx,
                 size_t n)
{
    const T a = (T)param;
    switch (act) {
    case FNN_ACT_IDENTITY: if (dx != dy) memmove(dx, dy, n * sizeof(T)); break;
    case FNN_ACT_STEP: EW(dx[i] = 0); break; /* Heaviside: zero almost everywhere */
    case FNN_ACT_SIGMOID: EW(dx[i] = dy[i] * y[i] * (1 - y[i])); break;
    case FNN_ACT_TANH: EW(dx[i] = dy[i] * (1 - y[i] * y[i])); break;
    /* load dy unconditionally: a conditional load (y > 0 ? dy : 0) does not vectorise */
    case FNN_ACT_RELU: EW(T d = dy[i]; dx[i] = y[i] > 0 ? d : 0); break;
    case FNN_ACT_LEAKY_RELU: EW(T d = dy[i]; dx[i] = y[i] > 0 ? d : a * d); break;
    case FNN_ACT_ELU: EW(T d = dy[i], v = y[i]; dx[i] = v > 0 ? d : d * (v + a)); break;
    case FNN_ACT_GELU: /* Phi(x) + x phi(x) */
        EW(dx[i] = dy[i] * (T)(0.5 * MATH(erfc)(-x[i] * 0.70710678118654752440) +
                               x[i] * 0.39894228040143267794 * MATH(exp)(-0.5 * x[i] * x[i])));
        break;
    case FNN_ACT_SILU: /* s (1 + x (1 - s)) */
        EW(T s = LOC(sigmoid)(x[i]); dx[i] = dy[i] * s * (1 + x[i] * (1 - s))); break;
    case FNN_ACT_SOFTPLUS: EW(dx[i] = dy[i] * (T)(-MATH(expm1)(-y[i]))); break; /* 1 - e^-y */
    default: break;
    }
}

/* Rows in parallel when the whole matrix is large. */
#define ROWS_PAR(...) FNN_PAR_FOR(rows * cols > FNN_PAR_MIN, __VA_ARGS__)

/* Row max, then sum of e^(x - max) written into y: the log-sum-exp trick keeps every
 * exponent <= 0, so logits of +-1e4 neither overflow nor lose the largest term. */
static inline T LOC(row_exp)(const T *x, T *y, size_t cols, T *mx)
{
    T m = x[0];
#pragma omp simd reduction(max : m)
    for (size_t j = 1; j < cols; ++j) m = x[j] > m ? x[j] : m;
    *mx = m;
    return EXPSUM(x, y, cols, m);
}

/* y_ij := e^(x_ij - max_i) / sum_j e^(x_ij - max_i) */
void FN(softmax_fwd)(const T *x, T *y, size_t rows, size_t cols)
{
    if (cols == 0) return;
    ROWS_PAR(for (size_t r = 0; r < rows; ++r) {
        T m, s = LOC(row_exp)(x + r * cols, y + r * cols, cols, &m);
        T inv = 1 / s;
        for (size_t j = 0; j < cols; ++j) y[r * cols + j] *= inv;
    });
}

/* y_ij := x_ij - max_i - log sum_j e^(x_ij - max_i) */
void FN(log_softmax_fwd)(const T *x, T *y, size_t rows, size_t cols)
{
    if (cols == 0) return;
    ROWS_PAR(for (size_t r = 0; r < rows; ++r) {
        const T *xr = x + r * cols;
        T *yr = y + r * cols;
        T m, s = LOC(row_exp)(xr, yr, cols, &m);
        T lse = m + (T)MATH(log)(s);
        for (size_t j = 0; j < cols; ++j) yr[j] = xr[j] - lse;
    });
}

/* dx_ij := y_ij (dy_ij - sum_k dy_ik y_ik), y = softmax(x) */
void FN(softmax_bwd)(const T *y, const T *dy, T *dx, size_t rows, size_t cols)
{
    ROWS_PAR(for (size_t r = 0; r < rows; ++r) {
        const T *yr = y + r * cols, *gr = dy + r * cols;
        T s = 0;
        for (size_t j = 0; j < cols; ++j) s += gr[j] * yr[j];
        for (size_t j = 0; j < cols; ++j) dx[r * cols + j] = yr[j] * (gr[j] - s);
    });
}

/* dx_ij := dy_ij - e^(y_ij) sum_k dy_ik, y = log_softmax(x) */
void FN(log_softmax_bwd)(const T *y, const T *dy, T *dx, size_t rows, size_t cols)
{
    ROWS_PAR(for (size_t r = 0; r < rows; ++r) {
        const T *yr = y + r * cols, *gr = dy + r * cols;
        T s = 0;
        for (size_t j = 0; j < cols; ++j) s += gr[j];
        for (size_t j = 0; j < cols; ++j) dx[r * cols + j] = gr[j] - (T)MATH(exp)(yr[j]) * s;
    });
}

#undef EW
#undef ROWS_PAR
#endif
