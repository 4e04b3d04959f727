/* Batch normalisation (Ioffe & Szegedy 2015) over the rows of x[n, c] and layer
 * normalisation (Ba et al. 2016) over the columns of x[n, d]. Statistics use two passes
 * in double (mean, then centred squares: no catastrophic cancellation) and every sum
 * runs in a fixed order, so results do not depend on the thread count. */
#ifndef FNN_TMPL
#include "fastnn.h"
#include "fnn_util.h"

#define FNN_TMPL_SELF "norm.c"
#include "fnn_tmpl.h"

#else /* ---- body, compiled once per dtype ---- */

#define BLK 64 /* columns per thread task: each column summed top to bottom */
#define COLBLOCKS(n, c, ...)                                                          \
    const size_t nb = ((c) + BLK - 1) / BLK, work_ = (n) * (c);                       \
    FNN_PAR_FOR(work_ > FNN_PAR_MIN && nb > 1, for (size_t b = 0; b < nb; ++b) __VA_ARGS__)

/* Training: mu, var = batch mean and biased variance per column; y := gamma (x - mu)
 * / sqrt(var + eps) + beta; saves mean and invstd for backward; running stats :=
 * (1 - momentum) running + momentum batch, with the unbiased batch variance (PyTorch)
 * or, unbiased == 0, the biased one (Keras). */
void FN(batch_norm_fwd_train)(const T *x, const T *gamma, const T *beta, T *y, T *mean,
                              T *invstd, T *run_mean, T *run_var, size_t n, size_t c,
                              double momentum, double eps, int unbiased)
{
    if (n == 0) return;
    COLBLOCKS(n, c, {
        double mu[BLK] = {0}, var[BLK] = {0};
        const size_t j0 = b * BLK, w = c - j0 < BLK ? c - j0 : BLK;
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < w; ++j) mu[j] += (double)x[i * c + j0 + j];
        for (size_t j = 0; j < w; ++j) mu[j] /= (double)n;
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < w; ++j) {
                double d = (double)x[i * c + j0 + j] - mu[j];
                var[j] += d * d;
            }
        T sc[BLK], sh[BLK];
        for (size_t j = 0; j < w; ++j) {
            double v = var[j] / (double)n, is = 1.0 / sqrt(v + eps);
            double vu = unbiased && n > 1 ? var[j] / (double)(n - 1) : v;
            mean[j0 + j] = (T)mu[j];
            invstd[j0 + j] = (T)is;
            run_mean[j0 + j] = (T)((1.0 - momentum) * run_mean[j0 + j] + momentum * mu[j]);
            run_var[j0 + j] = (T)((1.0 - momentum) * run_var[j0 + j] + momentum * vu);
            sc[j] = (T)is * gamma[j0 + j];
            sh[j] = mean[j0 + j];
        }
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < w; ++j)
                y[i * c + j0 + j] = (x[i * c + j0 + j] - sh[j]) * sc[j] + beta[j0 + j];
    });
}

/* Inference: y := gamma (x - running_mean) / sqrt(running_var + eps) + beta */
void FN(batch_norm_fwd_eval)(const T *x, const T *gamma, const T *beta, T *y,
                             const T *run_mean, const T *run_var, size_t n, size_t c,
                             double eps)
{
    FNN_PAR_FOR(n * c > FNN_PAR_MIN, for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < c; ++j)
            y[i * c + j] = (x[i * c + j] - run_mean[j]) *
                           ((T)(1.0 / sqrt((double)run_var[j] + eps)) * gamma[j]) + beta[j];
    });
}

/* xh = (x - mean) invstd; dbeta := sum_i dy; dgamma := sum_i dy xh;
 * dx := gamma invstd / n (n dy - dbeta - xh dgamma) */
void FN(batch_norm_bwd)(const T *x, const T *dy, const T *gamma, const T *mean,
                        const T *invstd, T *dx, T *dgamma, T *dbeta, size_t n, size_t c)
{
    if (n == 0) return;
    COLBLOCKS(n, c, {
        double sb[BLK] = {0}, sg[BLK] = {0};
        const size_t j0 = b * BLK, w = c - j0 < BLK ? c - j0 : BLK;
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < w; ++j) {
                const size_t o = i * c + j0 + j;
                sb[j] += (double)dy[o];
                sg[j] += (double)dy[o] * (double)((x[o] - mean[j0 + j]) * invstd[j0 + j]);
            }
        T k[BLK], db[BLK], dg[BLK];
        for (size_t j = 0; j < w; ++j) {
            dbeta[j0 + j] = db[j] = (T)sb[j];
            dgamma[j0 + j] = dg[j] = (T)sg[j];
            k[j] = gamma[j0 + j] * invstd[j0 + j] / (T)n;
        }
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < w; ++j) {
                const size_t o = i * c + j0 + j;
                T xh = (x[o] - mean[j0 + j]) * invstd[j0 + j];
                dx[o] = k[j] * ((T)n * dy[o] - db[j] - xh * dg[j]);
            }
    });
}

/* Per row: mu, var over d columns; y := gamma (x - mu) / sqrt(var + eps) + beta;
 * saves mean[n] and invstd[n] for backward. */
void FN(layer_norm_fwd)(const T *x, const T *gamma, const T *beta, T *y, T *mean,
                        T *invstd, size_t n, size_t d, double eps)
{
    if (d == 0) return;
    FNN_PAR_FOR(n * d > FNN_PAR_MIN, for (size_t i = 0; i < n; ++i) {
        const T *xr = x + i * d;
        double mu = 0, var = 0;
        for (size_t j = 0; j < d; ++j) mu += (double)xr[j];
        mu /= (double)d;
        for (size_t j = 0; j < d; ++j) var += ((double)xr[j] - mu) * ((double)xr[j] - mu);
        const T m = (T)mu, is = (T)(1.0 / sqrt(var / (double)d + eps));
        mean[i] = m;
        invstd[i] = is;
        for (size_t j = 0; j < d; ++j) y[i * d + j] = (xr[j] - m) * is * gamma[j] + beta[j];
    });
}

/* Per row, g = dy gamma, xh = (x - mean) invstd:
 * dx := invstd / d (d g - sum g - xh sum(g xh)); dgamma := sum_i dy xh; dbeta := sum_i dy */
void FN(layer_norm_bwd)(const T *x, const T *dy, const T *gamma, const T *mean,
                        const T *invstd, T *dx, T *dgamma, T *dbeta, size_t n, size_t d)
{
    if (d == 0) return;
    FNN_PAR_FOR(n * d > FNN_PAR_MIN, for (size_t i = 0; i < n; ++i) {
        const T *xr = x + i * d, *gr = dy + i * d;
        double sg = 0, sgx = 0;
        for (size_t j = 0; j < d; ++j) {
            double g = (double)gr[j] * (double)gamma[j];
            sg += g;
            sgx += g * (double)((xr[j] - mean[i]) * invstd[i]);
        }
        const T k = invstd[i] / (T)d, a = (T)sg, bb = (T)sgx;
        for (size_t j = 0; j < d; ++j) {
            T xh = (xr[j] - mean[i]) * invstd[i];
            dx[i * d + j] = k * ((T)d * gr[j] * gamma[j] - a - xh * bb);
        }
    });
    COLBLOCKS(n, d, {
        double sb[BLK] = {0}, sgm[BLK] = {0};
        const size_t j0 = b * BLK, w = d - j0 < BLK ? d - j0 : BLK;
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < w; ++j) {
                const size_t o = i * d + j0 + j;
                sb[j] += (double)dy[o];
                sgm[j] += (double)dy[o] * (double)((x[o] - mean[i]) * invstd[i]);
            }
        for (size_t j = 0; j < w; ++j) {
            dbeta[j0 + j] = (T)sb[j];
            dgamma[j0 + j] = (T)sgm[j];
        }
    });
}

#undef COLBLOCKS
#undef BLK
#endif
