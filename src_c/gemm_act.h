/* Epilogue activations on one row of a C tile, instantiated in every gemm_ukr_<isa>.c
 * so each ISA's flags vectorise them (a per-element libm call would cost more than
 * the tile's GEMM work for tanh). Forward y = act(z) and backward x *= act'(y), with
 * act' written in terms of the forward output y. */
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

/* One pass over every element v of the tile (plus its bias): bad |= v is NaN or +-inf,
 * then x := EXPR(v). Comparisons are written so NaN fails them and passes through. */
#define FNN_EPI_LOOP(T, EXPR)                                                               \
    for (i = 0; i < mr; ++i) {                                                              \
        T *x = c + i * ldc;                                                                 \
        if (bias) {                                                                         \
            for (j = 0; j < nr; ++j) {                                                      \
                T v = x[j] + bias[j];                                                       \
                bad |= (v - v) != 0;                                                        \
                x[j] = EXPR;                                                                \
            }                                                                               \
        } else {                                                                            \
            for (j = 0; j < nr; ++j) {                                                      \
                T v = x[j];                                                                 \
                bad |= (v - v) != 0;                                                        \
                x[j] = EXPR;                                                                \
            }                                                                               \
        }                                                                                   \
    }

/* C tile [mr x nr] (row stride ldc) := act(C + bias), returning 1 if any C + bias was NaN
 * or +-inf: the fused GEMM epilogue in one vectorised pass while the tile is in L1 */
#define FNN_EPI_TILE_BODY(T, EXP, TANH)                                                     \
    {                                                                                       \
        ptrdiff_t i, j;                                                                     \
        int bad = 0;                                                                        \
        switch (act) {                                                                      \
        case FNN_ACT_RELU: FNN_EPI_LOOP(T, v < 0 ? 0 : v); break;                              \
        case FNN_ACT_LEAKY_RELU: FNN_EPI_LOOP(T, v > 0 ? v : slope * v); break;                \
        case FNN_ACT_SIGMOID: FNN_EPI_LOOP(T, 1 / (1 + EXP(-v))); break;                       \
        case FNN_ACT_TANH: FNN_EPI_LOOP(T, TANH(v)); break;                                    \
        default: FNN_EPI_LOOP(T, v); break; /* identity */                                     \
        }                                                                                   \
        return bad;                                                                         \
    }

#define FNN_DACT_ROW_BODY(T)                                                                \
    {                                                                                       \
        ptrdiff_t j;                                                                        \
        switch (act) {                                                                      \
        case FNN_ACT_RELU: for (j = 0; j < n; ++j) x[j] = y[j] > 0 ? x[j] : 0; break;       \
        case FNN_ACT_LEAKY_RELU: for (j = 0; j < n; ++j) x[j] *= y[j] > 0 ? 1 : slope; break; \
        case FNN_ACT_SIGMOID: for (j = 0; j < n; ++j) x[j] *= y[j] * (1 - y[j]); break;     \
        case FNN_ACT_TANH: for (j = 0; j < n; ++j) x[j] *= 1 - y[j] * y[j]; break;          \
        default: break; /* identity: act' = 1 */                                            \
        }                                                                                   \
    }

/* The tile epilogue and x := x * act'(y) for float and double, named
 * fnn_<s|d>gemm_epi_tile_ISA and fnn_<s|d>gemm_dact_row_ISA; float32 uses the
 * vectorisable exp/tanh above, float64 keeps libm's accuracy */
#define FNN_GEMM_ACT_ROWS(ISA)                                                              \
    int fnn_sgemm_epi_tile_##ISA(float *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr,       \
                                 const float *bias, int act, float slope)                   \
        FNN_EPI_TILE_BODY(float, fnn_expf_fast, fnn_tanhf_fast)                             \
    int fnn_dgemm_epi_tile_##ISA(double *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr,      \
                                 const double *bias, int act, double slope)                 \
        FNN_EPI_TILE_BODY(double, exp, tanh)                                                \
    void fnn_sgemm_dact_row_##ISA(float *x, const float *y, ptrdiff_t n, int act,           \
                                  float slope) FNN_DACT_ROW_BODY(float)                     \
    void fnn_dgemm_dact_row_##ISA(double *x, const double *y, ptrdiff_t n, int act,         \
                                  double slope) FNN_DACT_ROW_BODY(double)

#endif /* FNN_GEMM_ACT_H */
