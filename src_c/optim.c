/* Optimizer updates over a flat arena: one parallel pass reads p, g and the state
 * arrays once and writes p and the state. Scalars (bias corrections, step sizes) are
 * computed in double, then rounded to the arena's dtype. Semantics follow torch.optim
 * (weight_decay is L2 added to the gradient, except AdamW's decoupled decay). `step`
 * counts from 1. Sorted by increasing complexity, as in tinygrad's optim.py. */
#ifndef FNN_TMPL
#include "fastnn.h"
#include "fnn_util.h"
#include "vk.h"

#if defined(FNN_X86) && (defined(__SSE__) || defined(_M_X64) || defined(_M_AMD64) ||         \
                          (defined(_M_IX86_FP) && _M_IX86_FP >= 1))
#define FNN_MXCSR 1 /* SSE's control register: 64-bit x86 always, 32-bit with SSE */
#include <xmmintrin.h>
#endif

/* Elements per task of the per-ISA loops: whole vectors, a few pages per array. */
#define OPT_CHUNK 16384

/* Optimizer steps flush denormals to zero (x86 MXCSR FTZ + DAZ, set and restored around
 * each chunk, so the caller's threads keep IEEE behaviour), as TensorFlow's CPU kernels
 * do. A state that only decays (Adam's m under zero gradients: the weights of pixels
 * that are zero in the whole batch, of dead ReLU units) passes through the denormal
 * range, where each vector op costs a microcode assist on Intel cores: the MNIST net's
 * epoch went 1.98 s -> 2.45 s over six epochs as 11,657 of m's elements were denormal,
 * and stayed at 1.9 s flushed (weights unchanged: a denormal step is far below a
 * weight's last bit). fastnn.set_flush_denormal(False) restores exact IEEE steps.
 * Steps that divide by sqrt(state) + eps keep IEEE's when eps < FNN_FLUSH_MIN_EPS: a
 * gradient of 1e-20 squares to a denormal, and flushed, the step would be d / eps
 * (1e+8 at eps = 1e-30; inf at eps = 0) where IEEE's is ~1. */
#define FNN_FLUSH_MIN_EPS 1e-12
static int fnn_flush = 1;

int fnn_flush_denormal_supported(void)
{
#ifdef FNN_MXCSR
    return 1;
#else
    return 0;
#endif
}

int fnn_set_flush_denormal(int on)
{
    fnn_flush = on != 0;
    return fnn_flush_denormal_supported();
}

int fnn_get_flush_denormal(void) { return fnn_flush && fnn_flush_denormal_supported(); }

/* FTZ (bit 15) and DAZ (bit 6) both set, or both cleared (a thread may come with them
 * set, by a library built with -ffast-math), then the caller's register restored */
#ifdef FNN_MXCSR
#define FTZ_BEGIN(FLUSH)                                                              \
    const unsigned int csr_ = _mm_getcsr();                                           \
    _mm_setcsr((FLUSH) ? csr_ | 0x8040u : csr_ & ~0x8040u);
#define FTZ_END _mm_setcsr(csr_);
#else
#define FTZ_BEGIN(FLUSH) (void)(FLUSH);
#define FTZ_END
#endif

/* The chunks [lo, lo + len) of n elements, split over threads, each run with the
 * denormal mode FLUSH (fnn_flush, or 0 for a tiny eps) set on its own thread. */
#define CHUNKS(FLUSH, BODY)                                                           \
    const size_t nch = (n + OPT_CHUNK - 1) / OPT_CHUNK;                               \
    const int flush_ = (FLUSH);                                                       \
    FNN_PAR_FOR(n > FNN_PAR_MIN, for (size_t c = 0; c < nch; ++c) {                  \
        const size_t lo = c * OPT_CHUNK, len = n - lo < OPT_CHUNK ? n - lo : OPT_CHUNK; \
        FTZ_BEGIN(flush_)                                                             \
        BODY;                                                                         \
        FTZ_END                                                                       \
    });

#define FNN_TMPL 1
#define T float
#define FN(op) fnn_s##op
#define SQRT(x) sqrtf(x)
#include "optim.c"
#undef T
#undef FN
#undef SQRT
#define T double
#define FN(op) fnn_d##op
#define SQRT(x) sqrt(x)
#include "optim.c"

#else /* ---- body, compiled once per dtype ---- */

/* SGD on [0, n): 0 plain, 1 the first momentum step (the buffer takes d), 2 momentum */
static void FN(sgd_range)(T *p, const T *g, T *buf, size_t n, T a, T wd, T mu, T dm, int mode,
                          int nesterov)
{
    if (mode == 0) {
#pragma omp simd
        for (size_t i = 0; i < n; ++i) p[i] -= a * (g[i] + wd * p[i]);
    } else if (mode == 1) {
#pragma omp simd
        for (size_t i = 0; i < n; ++i) {
            T d = g[i] + wd * p[i];
            buf[i] = d;
            p[i] -= a * (nesterov ? d + mu * d : d);
        }
    } else {
#pragma omp simd
        for (size_t i = 0; i < n; ++i) {
            T d = g[i] + wd * p[i], b = mu * buf[i] + dm * d;
            buf[i] = b;
            p[i] -= a * (nesterov ? d + mu * b : b);
        }
    }
}

/* d = g + wd p; b := step == 1 ? d : mu b + (1 - damp) d; d := nesterov ? d + mu b : b;
 * p := p - lr d. buf may be NULL when momentum == 0. */
void FN(sgd_step)(T *p, const T *g, T *buf, size_t n, int64_t step, double lr,
                  double momentum, double dampening, double weight_decay, int nesterov)
{
    const T a = (T)lr, wd = (T)weight_decay, mu = (T)momentum, dm = (T)(1.0 - dampening);
    const int mode = momentum == 0.0 ? 0 : step <= 1 ? 1 : 2; /* PyTorch seeds the buffer
                                                                 * with the first gradient */
    CHUNKS(fnn_flush,
           FN(sgd_range)(p + lo, g + lo, mode ? buf + lo : NULL, len, a, wd, mu, dm, mode,
                         nesterov))
}

/* The per-ISA range kernels (vk_body.h) run on the chunks of CHUNKS. */

/* s := s + d^2; p := p - lr_t d / (sqrt(s) + eps), lr_t = lr / (1 + (step-1) lr_decay) */
void FN(adagrad_step)(T *p, const T *g, T *sum, size_t n, int64_t step, double lr,
                      double lr_decay, double eps, double weight_decay)
{
    const double k[3] = {lr / (1.0 + (double)(step - 1) * lr_decay), eps, weight_decay};
    CHUNKS(fnn_flush && eps >= FNN_FLUSH_MIN_EPS,
           VK_PICK(FN(adagrad_range_), p + lo, g + lo, sum + lo, len, k))
}

/* sq := alpha sq + (1-alpha) d^2; centred: ga := alpha ga + (1-alpha) d and
 * r = sqrt(sq - ga^2) + eps (Graves 2013) else r = sqrt(sq) + eps;
 * momentum: b := mu b + d / r, p := p - lr b; else p := p - lr d / r.
 * buf (momentum) and gavg (centred) may be NULL when unused. */
void FN(rmsprop_step)(T *p, const T *g, T *sq, T *buf, T *gavg, size_t n, int64_t step,
                      double lr, double alpha, double eps, double weight_decay,
                      double momentum, int centered)
{
    const double k[6] = {lr, alpha, 1.0 - alpha, eps, weight_decay, momentum};
    T *b = momentum != 0.0 ? buf : NULL, *ga = centered ? gavg : NULL;
    (void)step;
    CHUNKS(fnn_flush && eps >= FNN_FLUSH_MIN_EPS,
           VK_PICK(FN(rmsprop_range_), p + lo, g + lo, sq + lo, b ? b + lo : NULL,
                   ga ? ga + lo : NULL, len, k))
}

/* Adam (Kingma & Ba 2015) / AdamW (Loshchilov & Hutter 2019, decoupled != 0):
 * AdamW: p := p (1 - lr wd); Adam: d = g + wd p.  m := b1 m + (1-b1) d;
 * v := b2 v + (1-b2) d^2; amsgrad: vmax := max(vmax, v), used in place of v;
 * p := p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
 * vmax may be NULL unless amsgrad. */
void FN(adam_step)(T *p, const T *g, T *m, T *v, T *vmax, size_t n, int64_t step,
                   double lr, double beta1, double beta2, double eps, double weight_decay,
                   int decoupled, int amsgrad)
{
    const double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    /* step size, 1/sqrt(bc2), eps, b1, 1-b1, b2, 1-b2, L2 decay, decoupled shrink */
    const double k[9] = {lr / bc1, 1.0 / sqrt(bc2), eps, beta1, 1.0 - beta1, beta2,
                         1.0 - beta2, decoupled ? 0.0 : weight_decay,
                         decoupled ? 1.0 - lr * weight_decay : 1.0};
    T *vm = amsgrad ? vmax : NULL;
    CHUNKS(fnn_flush && eps >= FNN_FLUSH_MIN_EPS,
           VK_PICK(FN(adam_range_), p + lo, g + lo, m + lo, v + lo, vm ? vm + lo : NULL,
                   len, k))
}

#endif
