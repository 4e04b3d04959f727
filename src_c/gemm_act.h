/* Epilogue activations on a C tile, instantiated in every gemm_ukr_<isa>.c so each
 * ISA's flags vectorise them (a per-element libm call would cost more than the tile's
 * GEMM work for tanh). Forward y = act(z) and backward x *= act'(y), with act' written
 * in terms of the forward output y. */
#ifndef FNN_GEMM_ACT_H
#define FNN_GEMM_ACT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fastnn.h"
#include "fnn_util.h"

/* e^x for float in branch-free C the compiler vectorises (libm's expf is a call per
 * element): x = n ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), e^r by its
 * degree-7 Taylor polynomial (< 1 ulp), 2^n written into the exponent bits. */
static inline __attribute__((always_inline)) float fnn_expf_fast(float x)
{
    float t, r, p, s;
    int32_t bits;
    x = fnn_self(x < -87.0f, -87.0f, x); /* keeps 2^n normal; sigmoid/tanh saturate */
    x = fnn_self(x > 88.0f, 88.0f, x);   /* (NaN fails both tests and stays NaN) */
    t = x * 1.44269504f + 12582912.0f; /* 1.5 * 2^23: round(x / ln2) lands in low bits */
    memcpy(&bits, &t, sizeof bits);
    t -= 12582912.0f;
    r = x - t * 0.693359375f - t * -2.12194440e-4f;
    p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    bits = (bits - 0x4B400000 + 127) * (1 << 23);
    memcpy(&s, &bits, sizeof s);
    return p * s;
}

/* tanh for float, vectorisable: odd Taylor series below 0.2 (where 1 - 2/(e^2x + 1)
 * would cancel), the exp form above */
static inline __attribute__((always_inline)) float fnn_tanhf_fast(float x)
{
    float ax = fabsf(x), x2 = x * x, small, big;
    small = x * (1 + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315 + x2 * (62.0f / 2835)))));
    big = copysignf(1 - 2 / (fnn_expf_fast(2 * ax) + 1), x);
    return fnn_self(ax < 0.2f, small, big);
}

/* One pass over every element v of the tile (plus its bias) with d the matching element
 * of Y (DACT) or none: CHK (bad |= v is NaN or +-inf, or nothing), then x := EXPR. The
 * check is a vector reduction per row; callers that do not want it skip its cost. */
#define FNN_EPI_LOOP(T, DACT, CHK, EXPR)                                                    \
    for (i = 0; i < mr; ++i) {                                                              \
        T *x = c + i * ldc;                                                                 \
        const T *yr = DACT ? y + i * ldy : NULL;                                            \
        if (bias) {                                                                         \
            for (j = 0; j < nr; ++j) {                                                      \
                T v = x[j] + bias[j], d = DACT ? yr[j] : 0;                                 \
                CHK;                                                                        \
                x[j] = EXPR;                                                                \
            }                                                                               \
        } else {                                                                            \
            for (j = 0; j < nr; ++j) {                                                      \
                T v = x[j], d = DACT ? yr[j] : 0;                                           \
                CHK;                                                                        \
                x[j] = EXPR;                                                                \
            }                                                                               \
        }                                                                                   \
    }
#define FNN_EPI_CHECK bad |= (v - v) != 0; (void)d
#define FNN_EPI_NOCHECK (void)d

/* Forward: x := act(v), v = C + bias */
#define FNN_EPI_ACTS(T, EXP, TANH, CHK)                                                     \
    switch (act) {                                                                          \
    case FNN_ACT_RELU: FNN_EPI_LOOP(T, 0, CHK, v < 0 ? 0 : v); break;                       \
    case FNN_ACT_LEAKY_RELU: FNN_EPI_LOOP(T, 0, CHK, v > 0 ? v : slope * v); break;         \
    case FNN_ACT_SIGMOID: FNN_EPI_LOOP(T, 0, CHK, 1 / (1 + EXP(-v))); break;                \
    case FNN_ACT_TANH: FNN_EPI_LOOP(T, 0, CHK, TANH(v)); break;                             \
    default: FNN_EPI_LOOP(T, 0, CHK, v); break; /* identity */                              \
    }

/* Backward: x := v * act'(d), d the forward output; relu selects, as act_bwd does */
#define FNN_EPI_DACTS(T, CHK)                                                               \
    switch (act) {                                                                          \
    case FNN_ACT_RELU: FNN_EPI_LOOP(T, 1, CHK, d > 0 ? v : 0); break;                       \
    case FNN_ACT_LEAKY_RELU: FNN_EPI_LOOP(T, 1, CHK, v * (d > 0 ? 1 : slope)); break;       \
    case FNN_ACT_SIGMOID: FNN_EPI_LOOP(T, 1, CHK, v * (d * (1 - d))); break;                \
    case FNN_ACT_TANH: FNN_EPI_LOOP(T, 1, CHK, v * (1 - d * d)); break;                     \
    default: FNN_EPI_LOOP(T, 1, CHK, v); break; /* identity: act' = 1 */                    \
    }

/* C tile [mr x nr] (row stride ldc) := act(C + bias), with check returning 1 if any
 * C + bias was NaN or +-inf: the fused GEMM epilogue in one vectorised pass while the
 * tile is in L1 */
#define FNN_EPI_TILE_BODY(T, EXP, TANH)                                                     \
    {                                                                                       \
        ptrdiff_t i, j;                                                                     \
        const T *y = NULL;                                                                  \
        ptrdiff_t ldy = 0;                                                                  \
        int bad = 0;                                                                        \
        if (check) {                                                                        \
            FNN_EPI_ACTS(T, EXP, TANH, FNN_EPI_CHECK)                                       \
        } else {                                                                            \
            FNN_EPI_ACTS(T, EXP, TANH, FNN_EPI_NOCHECK)                                     \
        }                                                                                   \
        return bad;                                                                         \
    }

/* C tile := (C + bias) * act'(Y), Y [mr x nr] at y (row stride ldy), with check
 * returning 1 if any C + bias was NaN or +-inf: the backward epilogue (C = g·Wᵀ, Y the
 * previous layer's forward output) in one pass */
#define FNN_DACT_TILE_BODY(T)                                                               \
    {                                                                                       \
        ptrdiff_t i, j;                                                                     \
        int bad = 0;                                                                        \
        if (check) {                                                                        \
            FNN_EPI_DACTS(T, FNN_EPI_CHECK)                                                 \
        } else {                                                                            \
            FNN_EPI_DACTS(T, FNN_EPI_NOCHECK)                                               \
        }                                                                                   \
        return bad;                                                                         \
    }

/* The tile epilogues for float and double, named fnn_<s|d>gemm_epi_tile_ISA and
 * fnn_<s|d>gemm_dact_tile_ISA; float32 uses the
 * vectorisable exp/tanh above, float64 keeps libm's accuracy */
#define FNN_GEMM_ACT_ROWS(ISA)                                                              \
    int fnn_sgemm_epi_tile_##ISA(float *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr,       \
                                 const float *bias, int act, float slope, int check)        \
        FNN_EPI_TILE_BODY(float, fnn_expf_fast, fnn_tanhf_fast)                             \
    int fnn_dgemm_epi_tile_##ISA(double *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr,      \
                                 const double *bias, int act, double slope, int check)      \
        FNN_EPI_TILE_BODY(double, exp, tanh)                                                \
    int fnn_sgemm_dact_tile_##ISA(float *c, ptrdiff_t ldc, const float *y, ptrdiff_t ldy,    \
                                  ptrdiff_t mr, ptrdiff_t nr, const float *bias, int act,    \
                                  float slope, int check) FNN_DACT_TILE_BODY(float)          \
    int fnn_dgemm_dact_tile_##ISA(double *c, ptrdiff_t ldc, const double *y, ptrdiff_t ldy,  \
                                  ptrdiff_t mr, ptrdiff_t nr, const double *bias, int act,   \
                                  double slope, int check) FNN_DACT_TILE_BODY(double)

#endif /* FNN_GEMM_ACT_H */
