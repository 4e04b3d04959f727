/* The compiled training plan: one step of an MLP (gather, forward, loss, backward,
 * penalties, clipping, optimizer) as a sequence of kernel calls over planned buffers.
 * The Cython driver (fastnn/_train.pyx) builds the fnn_plan and calls fnn_<s|d>plan_step
 * for whole chunks of steps with the GIL released. Nothing here allocates. */
#ifndef FNN_TMPL
#include "fastnn.h"
#include "fnn_util.h"
#include "vk.h"

/* The batch gather prefetches the row this many rows ahead into L2 (prefetcht1): one
 * epoch of a 784-10 model over MNIST, whose time is mostly the gather of random 3 KiB
 * rows from DRAM, 55-60 -> 47-50 ms at 1 thread with 4-16 rows ahead; into L1
 * (prefetcht0) or non-temporal it was slower than none. */
#define FNN_GATHER_AHEAD 8

/* Inference skips zero input columns for batches up to this (the GEMV's, gemm.c) */
#define FNN_LIVE_PREDICT_M 3

/* The selected ISA's sparse-row kernel and epilogue tile, named by dtype for the body */
static inline void sp_row_s(ptrdiff_t nnz, const int32_t *idx, const float *val, const float *b,
                            ptrdiff_t ldb, ptrdiff_t n, float *c, int add)
{
    fnn_kt->sspmv_row(nnz, idx, val, b, ldb, n, c, add);
}
static inline void sp_row_d(ptrdiff_t nnz, const int32_t *idx, const double *val,
                            const double *b, ptrdiff_t ldb, ptrdiff_t n, double *c, int add)
{
    fnn_kt->dspmv_row(nnz, idx, val, b, ldb, n, c, add);
}
static inline int sp_epi_s(float *c, ptrdiff_t nr, const float *bias, int act, double slope)
{
    return fnn_kt->sgemm_epi_tile(c, nr, 1, nr, bias, act, (float)slope, 0);
}
static inline int sp_epi_d(double *c, ptrdiff_t nr, const double *bias, int act, double slope)
{
    return fnn_kt->dgemm_epi_tile(c, nr, 1, nr, bias, act, slope, 0);
}

/* Work items of a sparse product: nblk column blocks of the output, each split into
 * enough row ranges that every thread gets two or more items. */
static ptrdiff_t sp_split(ptrdiff_t nblk, ptrdiff_t rows)
{
    const ptrdiff_t nt = fnn_par(1) ? fnn_get_max_threads() : 1;
    ptrdiff_t rc = (2 * nt + nblk - 1) / nblk;
    return nt > 1 ? (rc < rows ? rc : rows) : 1;
}

#define FNN_TMPL_SELF "plan.c"
#include "fnn_tmpl.h"

#else /* ---- body, compiled once per dtype ---- */

/* xb[r, :] := X[idx[r], :] and the matching targets / weights: the batch gather. */
static void LOC(gather)(fnn_plan *p, const T *X, const void *Y, const T *SW,
                        const int64_t *idx, ptrdiff_t bsz)
{
    const ptrdiff_t ni = p->n_in, no = p->n_out, line = 64 / (ptrdiff_t)sizeof(T);
    T *xb = (T *)p->xb, *yb = (T *)p->yb, *sw = (T *)p->swb;
    FNN_PAR_FOR(bsz * ni > FNN_PAR_MIN, for (ptrdiff_t r = 0; r < bsz; ++r) {
        if (r + FNN_GATHER_AHEAD < bsz) { /* random rows: start the DRAM reads early */
            const T *nx = X + idx[r + FNN_GATHER_AHEAD] * ni;
            for (ptrdiff_t j = 0; j < ni; j += line) __builtin_prefetch(nx + j, 0, 2);
        }
        memcpy(xb + r * ni, X + idx[r] * ni, (size_t)ni * sizeof(T));
    });
    for (ptrdiff_t r = 0; r < bsz; ++r) {
        if (p->labels)
            p->lb[r] = ((const int64_t *)Y)[idx[r]];
        else
            memcpy(yb + r * no, (const T *)Y + idx[r] * no, (size_t)no * sizeof(T));
        if (SW) sw[r] = SW[idx[r]];
    }
}

/* Input columns that are zero in every row of the batch (a third of the pixels of a batch
 * of 128 MNIST digits) add exact zeros to the first Dense op's product and to its weight
 * gradient, so that op runs on the other, live, columns only: xc := them, wc := W's
 * matching rows. Returns their count, or -1 when fewer than an eighth of the columns
 * are zero, the product is small (live_min: the bookkeeping would cost more than it
 * saves), the first op is not Dense, or the GEMM would not sum the product panel by
 * panel in order (fnn_gemm_kpanel: then skipping zeros could change the rounding). The
 * copy of W's rows costs less than packing them from W without the copy (the GEMM packs
 * wc as its first row panel's microkernels read it): 3% of the MNIST epoch at 1 thread,
 * 6% at 2, alternated in one process. */
static ptrdiff_t LOC(live_cols)(fnn_plan *p, const T *xb, ptrdiff_t bsz)
{
    const fnn_op *op = &p->ops[0];
    const ptrdiff_t ni = p->n_in, no = op->n_out;
    const T *w = (const T *)op->w;
    T *sum = (T *)p->live_sum, *xc = (T *)p->xc, *wc = (T *)p->wc;
    ptrdiff_t *pre = p->live_pre, *runs = p->live_runs, nc = 0, nr = 0, j;
    if (!pre || op->kind != FNN_OP_DENSE || (double)bsz * (double)ni * (double)no < p->live_min ||
        fnn_gemm_kpanel(sizeof(T), 0, bsz, no, ni, p->ws, p->ws_bytes) <= 0)
        return -1;
    /* sums of |x| down the columns: 0 for zeros only; NaN stays NaN. One block of
     * columns a thread, each read row after row (blocks of 256 columns, read in three
     * strided passes, took 50 us for 128 MNIST rows from DRAM at 1 thread). */
    const int nb = fnn_par(bsz * ni > FNN_PAR_MIN) ? fnn_get_max_threads() : 1;
    const ptrdiff_t cw = ((ni + nb - 1) / nb + 15) / 16 * 16;
    FNN_PAR_FOR(bsz * ni > FNN_PAR_MIN, for (ptrdiff_t c0 = 0; c0 < ni; c0 += cw) {
        const ptrdiff_t c1 = c0 + cw < ni ? c0 + cw : ni;
        for (ptrdiff_t c = c0; c < c1; ++c) sum[c] = 0;
        for (ptrdiff_t r = 0; r < bsz; ++r)
            for (ptrdiff_t c = c0; c < c1; ++c)
                sum[c] += xb[r * ni + c] < 0 ? -xb[r * ni + c] : xb[r * ni + c];
    });
    for (j = 0; j < ni; ++j) {
        pre[j] = nc;
        if (sum[j] == 0) continue;
        if (nr && runs[2 * nr - 2] + runs[2 * nr - 1] == j)
            ++runs[2 * nr - 1];
        else
            runs[2 * nr] = j, runs[2 * nr + 1] = 1, ++nr;
        ++nc;
    }
    pre[ni] = nc;
    if (ni - nc < ni / 8 || nc == ni) return -1;
    FNN_PAR_FOR(bsz * nc > FNN_PAR_MIN, for (ptrdiff_t r = 0; r < bsz; ++r) {
        T *d = xc + r * nc;
        for (ptrdiff_t q = 0; q < nr; d += runs[2 * q + 1], ++q)
            memcpy(d, xb + r * ni + runs[2 * q], (size_t)runs[2 * q + 1] * sizeof(T));
    });
    FNN_PAR_FOR(nc * no > FNN_PAR_MIN, for (ptrdiff_t q = 0; q < nr; ++q) {
        memcpy(wc + pre[runs[2 * q]] * no, w + runs[2 * q] * no,
               (size_t)(runs[2 * q + 1] * no) * sizeof(T));
    });
    return nc;
}

/* Sparse inputs (most of a batch of MNIST digits is zero: 19% of the pixels are not, 71%
 * of the columns are live): the first op's forward product and weight gradient run over
 * the non-zero entries alone, a row of x at a time (fnn_ktable.sspmv_row), 27% of the
 * live-column GEMMs' multiply-adds at about half their rate. Builds the batch's non-zeros
 * by row (sp_ptr, sp_idx, sp_val) and by column (sp_cptr, sp_ridx, sp_rval) and returns 1
 * when they are at most sp_ratio of the live columns' entries (those of columns not zero
 * in every row) and at most sp_density of x, the product is not small (live_min), the
 * first op is Dense and both its GEMMs would sum K panel by K panel (fnn_gemm_kpanel), so
 * leaving out the zeros keeps every output's sums; else 0, the row scan stopping once the
 * rows so far hold two rows' worth more than sp_density (or sp_cap entries would not
 * hold the next row). */
static int LOC(sp_rows)(fnn_plan *p, const T *xb, ptrdiff_t bsz)
{
    const fnn_op *op = &p->ops[0];
    const ptrdiff_t ni = p->n_in, no = op->n_out;
    ptrdiff_t *ptr = p->sp_ptr, *cp = p->sp_cptr, *cur = p->sp_cptr + ni + 1, n = 0, r, j, q;
    ptrdiff_t live = 0;
    int32_t *idx = p->sp_idx, *ridx = p->sp_ridx;
    T *val = (T *)p->sp_val, *rval = (T *)p->sp_rval;
    const double lim = p->sp_density * (double)ni;
    if (!ptr || op->kind != FNN_OP_DENSE || (double)bsz * (double)ni * (double)no < p->live_min ||
        fnn_gemm_kpanel(sizeof(T), 0, bsz, no, ni, p->ws, p->ws_bytes) <= 0 ||
        fnn_gemm_kpanel(sizeof(T), 0, ni, no, bsz, p->ws, p->ws_bytes) <= 0)
        return 0;
    for (r = 0; r < bsz; ++r) {
        if ((double)n > lim * (double)r + 2.0 * (double)ni || n + ni > p->sp_cap) return 0;
        ptr[r] = n;
        n += VK_PICK(FN(nonzeros_), xb + r * ni, ni, idx + n, val + n);
    }
    ptr[bsz] = n;
    if ((double)n > lim * (double)bsz) return 0;
    for (j = 0; j <= ni; ++j) cp[j] = 0; /* by column: a stable counting sort */
    for (q = 0; q < n; ++q) ++cp[idx[q] + 1];
    for (j = 0; j < ni; ++j) {
        live += cp[j + 1] > 0;
        cp[j + 1] += cp[j];
        cur[j] = cp[j];
    }
    if ((double)n > p->sp_ratio * (double)live * (double)bsz) return 0;
    for (r = 0; r < bsz; ++r)
        for (q = ptr[r]; q < ptr[r + 1]; ++q) {
            const ptrdiff_t d = cur[idx[q]]++;
            ridx[d] = (int32_t)r;
            rval[d] = val[q];
        }
    return 1;
}

/* The two kernels of the sparse path on their own, for tests: the non-zeros of x[0, n)
 * (idx and val hold n entries; returns their count), and c[0, n) := Σ_q val[q] ·
 * B[idx[q], 0..n) (+ c when add) for any n, in blocks of the ISA's width. */
ptrdiff_t FN(nonzeros)(const T *x, ptrdiff_t n, int32_t *idx, T *val)
{
    return VK_PICK(FN(nonzeros_), x, n, idx, val);
}

void FN(spmv_row)(ptrdiff_t nnz, const int32_t *idx, const T *val, const T *b, ptrdiff_t ldb,
                  ptrdiff_t n, T *c, int add)
{
    const ptrdiff_t nb = sizeof(T) == 4 ? fnn_kt->s_sp_nr : fnn_kt->d_sp_nr;
    for (ptrdiff_t j0 = 0; j0 < n; j0 += nb)
        LOC(sp_row)(nnz, idx, val, b + j0, ldb, n - j0 < nb ? n - j0 : nb, c + j0, add);
}

/* out[m, n] := Σ over the sorted entries (idx, val) of each row i (from start[i] to
 * start[i + 1]) of val·B[idx, :], the sums split at multiples of kp of idx as the GEMM's K
 * panels, (+ epilogue: bias, act) — both sparse products of the first op. */
static void LOC(sp_product)(const ptrdiff_t *start, const int32_t *idx, const T *val,
                            ptrdiff_t m, ptrdiff_t kmax, ptrdiff_t kp, const T *b, ptrdiff_t n,
                            T *out, const fnn_epilogue *epi)
{
    const ptrdiff_t nb = sizeof(T) == 4 ? fnn_kt->s_sp_nr : fnn_kt->d_sp_nr;
    const ptrdiff_t nblk = (n + nb - 1) / nb, rc = sp_split(nblk, m), per = (m + rc - 1) / rc;
    FNN_PAR_FOR((double)start[m] * (double)n > FNN_PAR_MIN,
                for (ptrdiff_t t = 0; t < nblk * rc; ++t) {
        const ptrdiff_t n0 = t / rc * nb, nw = n - n0 < nb ? n - n0 : nb;
        const ptrdiff_t i1 = (t % rc + 1) * per < m ? (t % rc + 1) * per : m;
        for (ptrdiff_t i = t % rc * per; i < i1; ++i) {
            T *c = out + i * n + n0;
            ptrdiff_t q = start[i], q1;
            for (ptrdiff_t p0 = 0; p0 < kmax; p0 += kp, q = q1) {
                for (q1 = q; q1 < start[i + 1] && idx[q1] < p0 + kp; ++q1) {}
                LOC(sp_row)(q1 - q, idx + q, val + q, b + n0, n, nw, c, p0 > 0);
            }
            if (epi)
                LOC(sp_epi)(c, nw, epi->bias ? (const T *)epi->bias + n0 : NULL, epi->act,
                            epi->act_param);
        }
    });
}

/* dst := epilogue(xc·wc) over the nc live columns, one GEMM per K panel of the full
 * product, so each output gets the same sums in the same order, less exact zeros. */
static void LOC(live_fwd)(fnn_plan *p, const fnn_op *op, ptrdiff_t bsz, ptrdiff_t nc, T *dst,
                          const fnn_epilogue *epi)
{
    const ptrdiff_t ni = p->n_in, no = op->n_out;
    const ptrdiff_t kp = fnn_gemm_kpanel(sizeof(T), 0, bsz, no, ni, p->ws, p->ws_bytes);
    for (ptrdiff_t p0 = 0; p0 < ni; p0 += kp) {
        const ptrdiff_t p1 = p0 + kp < ni ? p0 + kp : ni;
        const ptrdiff_t c0 = p->live_pre[p0], c1 = p->live_pre[p1];
        if (c1 == c0 && p0 > 0 && p1 < ni) continue; /* C + 0 */
        FN(gemm)(0, 0, bsz, no, c1 - c0, 1, (const T *)p->xc + c0, nc,
                 (const T *)p->wc + c0 * no, no, p0 == 0 ? 0 : 1, dst, no,
                 p1 == ni ? epi : NULL, p->ws, p->ws_bytes);
    }
}

/* dW := xᵀ·g over the nc live columns (into wc), its other rows 0 as the full product
 * leaves them; 0 when the GEMM would not sum the two alike (then nothing is written). */
static int LOC(live_dw)(fnn_plan *p, const fnn_op *op, const T *g, ptrdiff_t bsz, ptrdiff_t nc)
{
    const ptrdiff_t ni = p->n_in, no = op->n_out, *pre = p->live_pre;
    const ptrdiff_t kp = fnn_gemm_kpanel(sizeof(T), 0, ni, no, bsz, p->ws, p->ws_bytes);
    const T *wc = (const T *)p->wc;
    T *dw = (T *)op->dw;
    if (kp <= 0 || fnn_gemm_kpanel(sizeof(T), 0, nc, no, bsz, p->ws, p->ws_bytes) != kp)
        return 0;
    FN(gemm)(1, 0, nc, no, bsz, 1, (const T *)p->xc, nc, g, no, 0, (T *)p->wc, no, NULL, p->ws,
             p->ws_bytes);
    FNN_PAR_FOR(ni * no > FNN_PAR_MIN, for (ptrdiff_t j = 0; j < ni; ++j) {
        if (pre[j + 1] > pre[j])
            memcpy(dw + j * no, wc + pre[j] * no, (size_t)no * sizeof(T));
        else
            memset(dw + j * no, 0, (size_t)no * sizeof(T));
    });
    return 1;
}

/* y := act(x·W + b), the activation fused into the GEMM epilogue when it can be; for the
 * first op with live >= 0, over the live input columns only (live_cols). */
static void LOC(dense_fwd)(fnn_plan *p, fnn_op *op, const T *x, ptrdiff_t bsz, ptrdiff_t live)
{
    fnn_epilogue epi = {FNN_ACT_IDENTITY, op->act_param, op->b, NULL, 0, NULL, 0, NULL};
    T *dst = (T *)op->y;
    if (op->act_in_gemm) {
        epi.act = op->act;
    } else if (op->act != FNN_ACT_IDENTITY) {
        dst = (T *)op->z; /* keep z: the derivative of gelu/silu/... needs it */
    }
    if (live >= 0)
        LOC(live_fwd)(p, op, bsz, live, dst, &epi);
    else if (p->sp_on && op == &p->ops[0])
        LOC(sp_product)(p->sp_ptr, p->sp_idx, (const T *)p->sp_val, bsz, op->n_in,
                        fnn_gemm_kpanel(sizeof(T), 0, bsz, op->n_out, op->n_in, p->ws,
                                        p->ws_bytes),
                        (const T *)op->w, op->n_out, dst, &epi);
    else
        FN(gemm)(0, 0, bsz, op->n_out, op->n_in, 1, x, op->n_in, (const T *)op->w, op->n_out,
                 0, dst, op->n_out, &epi, p->ws, p->ws_bytes);
    if (dst != (T *)op->y)
        FN(act_fwd)(op->act, op->act_param, dst, (T *)op->y, (size_t)(bsz * op->n_out));
}

static void LOC(forward)(fnn_plan *p, ptrdiff_t bsz, int64_t step, ptrdiff_t live)
{
    const T *x = (const T *)p->xb;
    for (int i = 0; i < p->n_ops; ++i) {
        fnn_op *op = &p->ops[i];
        size_t n = (size_t)(bsz * op->n_out);
        switch (op->kind) {
        case FNN_OP_DENSE: LOC(dense_fwd)(p, op, x, bsz, i == 0 ? live : -1); break;
        case FNN_OP_ACT: FN(act_fwd)(op->act, op->act_param, x, (T *)op->y, n); break;
        case FNN_OP_DROPOUT:
            FN(dropout_fwd)(x, (T *)op->y, (T *)op->mask, n, op->rate, op->seed,
                            (uint64_t)step);
            break;
        case FNN_OP_BATCHNORM:
            FN(batch_norm_fwd_train)(x, (const T *)op->w, (const T *)op->b, (T *)op->y,
                                     (T *)op->mean, (T *)op->invstd, (T *)op->run_mean,
                                     (T *)op->run_var, (size_t)bsz, (size_t)op->n_out,
                                     op->momentum, op->eps);
            break;
        case FNN_OP_LAYERNORM:
            FN(layer_norm_fwd)(x, (const T *)op->w, (const T *)op->b, (T *)op->y,
                               (T *)op->mean, (T *)op->invstd, (size_t)bsz, (size_t)op->n_out,
                               op->eps);
            break;
        default: break;
        }
        x = (const T *)op->y;
    }
}

/* Loss of the last op's output against the gathered targets; grad into g0. */
static double LOC(loss)(fnn_plan *p, ptrdiff_t bsz)
{
    const T *out = (const T *)p->ops[p->n_ops - 1].y, *t = (const T *)p->yb;
    const T *sw = p->has_sw ? (const T *)p->swb : NULL;
    T *g = (T *)p->g0;
    size_t n = (size_t)bsz, k = (size_t)p->n_out;
    switch (p->loss) {
    case FNN_LOSS_MSE: return FN(mse_loss)(out, t, sw, g, n, k, p->reduction);
    case FNN_LOSS_MAE: return FN(mae_loss)(out, t, sw, g, n, k, p->reduction);
    case FNN_LOSS_HUBER: return FN(huber_loss)(out, t, sw, g, n, k, p->loss_param, p->reduction);
    case FNN_LOSS_BCE: return FN(bce_loss)(out, t, sw, g, n, k, p->reduction);
    case FNN_LOSS_BCE_LOGITS: return FN(bce_logits_loss)(out, t, sw, g, n, k, p->reduction);
    default:
        return FN(softmax_xent)(out, p->labels ? p->lb : NULL, p->labels ? NULL : t, NULL, sw,
                                g, n, k, p->loss_param, p->reduction);
    }
}

/* Running statistics for metrics: correct predictions, squared and absolute errors. */
static void LOC(stats)(fnn_plan *p, ptrdiff_t bsz, double *st)
{
    const T *out = (const T *)p->ops[p->n_ops - 1].y, *t = (const T *)p->yb;
    const ptrdiff_t k = p->n_out;
    double correct = 0, sse = 0, sae = 0;
    for (ptrdiff_t r = 0; r < bsz; ++r) {
        const T *o = out + r * k;
        if (p->loss == FNN_LOSS_SOFTMAX_XENT) {
            ptrdiff_t am = 0, tm = 0;
            for (ptrdiff_t j = 1; j < k; ++j) am = o[j] > o[am] ? j : am;
            if (p->labels) {
                tm = (ptrdiff_t)p->lb[r];
            } else {
                for (ptrdiff_t j = 1; j < k; ++j) tm = t[r * k + j] > t[r * k + tm] ? j : tm;
            }
            correct += am == tm;
            continue;
        }
        for (ptrdiff_t j = 0; j < k; ++j) {
            double d = (double)o[j] - (double)t[r * k + j];
            T thr = p->loss == FNN_LOSS_BCE_LOGITS ? 0 : (T)0.5;
            correct += (o[j] > thr) == (t[r * k + j] > (T)0.5);
            sse += d * d;
            sae += fabs(d);
        }
    }
    st[1] += correct;
    st[2] += sse;
    st[3] += sae;
}

/* dW := xᵀ·g (over the live input columns when live >= 0), db := Σ_rows g, and
 * g_prev := g·Wᵀ (times act'(y_prev) when fused). */
static T *LOC(dense_bwd)(fnn_plan *p, int i, const T *x, T *g, T *other, ptrdiff_t bsz,
                         ptrdiff_t live)
{
    fnn_op *op = &p->ops[i];
    if (op->act != FNN_ACT_IDENTITY && !op->dact_fused)
        FN(act_bwd)(op->act, op->act_param, (const T *)op->z, (const T *)op->y, g, g,
                    (size_t)(bsz * op->n_out));
    if (p->sp_on && i == 0)
        LOC(sp_product)(p->sp_cptr, p->sp_ridx, (const T *)p->sp_rval, op->n_in, bsz,
                        fnn_gemm_kpanel(sizeof(T), 0, op->n_in, op->n_out, bsz, p->ws,
                                        p->ws_bytes),
                        g, op->n_out, (T *)op->dw, NULL);
    else if (live < 0 || !LOC(live_dw)(p, op, g, bsz, live))
        FN(gemm)(1, 0, op->n_in, op->n_out, bsz, 1, x, op->n_in, g, op->n_out, 0, (T *)op->dw,
                 op->n_out, NULL, p->ws, p->ws_bytes);
    if (op->db) FN(bias_grad)(g, (T *)op->db, (size_t)bsz, (size_t)op->n_out, 0);
    if (!op->need_dx) return g;
    fnn_epilogue epi = {FNN_ACT_IDENTITY, 0, NULL, NULL, 0, NULL, 0, NULL};
    if (i > 0 && p->ops[i - 1].dact_fused) { /* C := (g·Wᵀ) ⊙ act'(y_prev) */
        epi.act = p->ops[i - 1].act;
        epi.act_param = p->ops[i - 1].act_param;
        epi.dact_y = p->ops[i - 1].y;
        epi.ld_dact_y = op->n_in;
    }
    FN(gemm)(0, 1, bsz, op->n_in, op->n_out, 1, g, op->n_out, (const T *)op->w, op->n_out, 0,
             other, op->n_in, &epi, p->ws, p->ws_bytes);
    return other;
}

static void LOC(backward)(fnn_plan *p, ptrdiff_t bsz, ptrdiff_t live)
{
    T *g = (T *)p->g0, *other = (T *)p->g1;
    for (int i = p->n_ops - 1; i >= 0; --i) {
        fnn_op *op = &p->ops[i];
        const T *x = i == 0 ? (const T *)p->xb : (const T *)p->ops[i - 1].y;
        size_t n = (size_t)(bsz * op->n_out);
        T *res = g;
        switch (op->kind) {
        case FNN_OP_DENSE:
            res = LOC(dense_bwd)(p, i, x, g, other, bsz, i == 0 ? live : -1);
            break;
        case FNN_OP_ACT: FN(act_bwd)(op->act, op->act_param, x, (const T *)op->y, g, g, n); break;
        case FNN_OP_DROPOUT: FN(mul)(g, (const T *)op->mask, g, n); break;
        case FNN_OP_BATCHNORM:
        case FNN_OP_LAYERNORM:
            if (op->kind == FNN_OP_BATCHNORM)
                FN(batch_norm_bwd)(x, g, (const T *)op->w, (const T *)op->mean,
                                   (const T *)op->invstd, other, (T *)op->dw, (T *)op->db,
                                   (size_t)bsz, (size_t)op->n_out);
            else
                FN(layer_norm_bwd)(x, g, (const T *)op->w, (const T *)op->mean,
                                   (const T *)op->invstd, other, (T *)op->dw, (T *)op->db,
                                   (size_t)bsz, (size_t)op->n_out);
            res = other;
            break;
        default: break;
        }
        if (res == other) { other = g; g = res; }
    }
}

/* Penalty gradients into the arena; returns the penalty added to the loss. */
static double LOC(penalties)(fnn_plan *p)
{
    double pen = 0;
    for (int i = 0; i < p->n_ops; ++i) {
        fnn_op *op = &p->ops[i];
        if (op->kind != FNN_OP_DENSE) continue;
        size_t nw = (size_t)(op->n_in * op->n_out), nb = (size_t)op->n_out;
        if (op->l1) pen += FN(l1_penalty)((const T *)op->w, (T *)op->dw, nw, op->l1);
        if (op->l2) pen += FN(l2_penalty)((const T *)op->w, (T *)op->dw, nw, op->l2);
        if (op->b && op->bias_l1) pen += FN(l1_penalty)((const T *)op->b, (T *)op->db, nb, op->bias_l1);
        if (op->b && op->bias_l2) pen += FN(l2_penalty)((const T *)op->b, (T *)op->db, nb, op->bias_l2);
    }
    return pen;
}

static void LOC(optimize)(fnn_plan *p, int64_t t, double lr)
{
    T *w = (T *)p->params, *g = (T *)p->grads;
    T *s0 = (T *)p->state[0], *s1 = (T *)p->state[1], *s2 = (T *)p->state[2];
    const double *h = p->hp;
    size_t n = p->n_params;
    if (p->clipvalue > 0) FN(clip_value)(g, n, p->clipvalue);
    if (p->clipnorm > 0) FN(clip_norm)(g, n, p->clipnorm);
    switch (p->opt) {
    case FNN_OPT_SGD: FN(sgd_step)(w, g, s0, n, t, lr, h[0], h[1], h[2], p->opt_flags & 1); break;
    case FNN_OPT_ADAGRAD: FN(adagrad_step)(w, g, s0, n, t, lr, h[0], h[1], h[2]); break;
    case FNN_OPT_RMSPROP:
        FN(rmsprop_step)(w, g, s0, s1, s2, n, t, lr, h[0], h[1], h[2], h[3], p->opt_flags & 1);
        break;
    default:
        FN(adam_step)(w, g, s0, s1, s2, n, t, lr, h[0], h[1], h[2], h[3], p->opt_flags & 1,
                      (p->opt_flags >> 1) & 1);
        break;
    }
}

/* One training step on rows idx[0..bsz) of X and Y (int64 labels or T targets); `step`
 * keys the dropout masks, `opt_step` (from 1) is the optimizer's step for bias correction.
 * Returns the loss (+ penalties); when it is not finite nothing is updated.
 * stats[0..3] += loss·bsz, correct, squared error, absolute error. */
double FN(plan_step)(fnn_plan *p, const T *X, const void *Y, const T *SW, const int64_t *idx,
                     ptrdiff_t bsz, int64_t step, int64_t opt_step, double lr, double *stats)
{
    LOC(gather)(p, X, Y, SW, idx, bsz);
    p->sp_on = LOC(sp_rows)(p, (const T *)p->xb, bsz);
    const ptrdiff_t live = p->sp_on ? -1 : LOC(live_cols)(p, (const T *)p->xb, bsz);
    p->sp_steps += p->sp_on;
    p->live_steps += live >= 0;
    LOC(forward)(p, bsz, step, live);
    double loss = LOC(loss)(p, bsz);
    if (!isfinite(loss)) return loss;
    LOC(backward)(p, bsz, live);
    loss += LOC(penalties)(p);
    if (!isfinite(loss)) return loss;
    LOC(optimize)(p, opt_step, lr);
    stats[0] += loss * (double)bsz;
    LOC(stats)(p, bsz, stats);
    return loss;
}

/* y := epilogue(x·W) for a batch of at most FNN_LIVE_PREDICT_M rows, the first op's
 * product over the runs of input columns not zero in every row, one GEMV per run adding
 * into y (reference BLAS's GEMV also skips x(j) == 0). A single MNIST digit has 150 of
 * 784 pixels non-zero, in ~25 runs, so W is read a fifth as much. The GEMV row kernel
 * sums each output in k order whatever the runs, so y is the full product's (up to the
 * sign of a zero, and W's inf or NaN met by a zero input). 0: not taken (no runs
 * buffer, a small product, more than FNN_LIVE_PREDICT_M rows or under an eighth zero). */
static int LOC(live_predict)(fnn_plan *p, const fnn_op *op, const T *x, ptrdiff_t bsz, T *y,
                             const fnn_epilogue *epi)
{
    const ptrdiff_t ni = op->n_in, no = op->n_out;
    const T *w = (const T *)op->w;
    ptrdiff_t *runs = p->live_runs, nr = 0, nc = 0;
    if (!runs || op->kind != FNN_OP_DENSE || bsz > FNN_LIVE_PREDICT_M ||
        (double)ni * (double)no < p->live_predict_min)
        return 0;
    if (bsz == 1) /* vectorized: dense inputs pay only this (the loop below: 1.3 us) */
        for (ptrdiff_t j = 0; j < ni; ++j) nc += x[j] != 0; /* NaN is live */
    else
        for (ptrdiff_t j = 0; j < ni; ++j) {
            int zero = 1;
            for (ptrdiff_t r = 0; r < bsz; ++r) zero &= x[r * ni + j] == 0;
            nc += !zero;
        }
    if (ni - nc < ni / 8) return 0;
    for (ptrdiff_t j = 0; j < ni; ++j) {
        int live = 0;
        for (ptrdiff_t r = 0; r < bsz; ++r) live |= x[r * ni + j] != 0;
        if (!live) continue;
        if (nr && runs[2 * nr - 2] + runs[2 * nr - 1] == j)
            ++runs[2 * nr - 1];
        else
            runs[2 * nr] = j, runs[2 * nr + 1] = 1, ++nr;
    }
    ++p->live_steps;
    if (nr == 0) /* y := epilogue(0) */
        FN(gemm)(0, 0, bsz, no, 0, 1, x, ni, w, no, 0, y, no, epi, p->ws, p->ws_bytes);
    for (ptrdiff_t q = 0; q < nr; ++q)
        FN(gemm)(0, 0, bsz, no, runs[2 * q + 1], 1, x + runs[2 * q], ni, w + runs[2 * q] * no,
                 no, q == 0 ? 0 : 1, y, no, q == nr - 1 ? epi : NULL, p->ws, p->ws_bytes);
    return 1;
}

/* Chunks of up to 2 * live_chunk - 1 rows, the last one taking the remainder. */
static ptrdiff_t LOC(chunk_rows)(ptrdiff_t bsz, ptrdiff_t ch, ptrdiff_t r0)
{
    return bsz - r0 < 2 * ch ? bsz - r0 : ch;
}

static int LOC(zeros16)(const T *x)
{
    int z = 1;
    for (int j = 0; j < 16; ++j) z &= x[j] == 0;
    return z;
}

/* The row order of a chunked inference batch (live_predict_rows), or NULL for the rows as
 * they are: sorted by their first, then last, non-zero input (counting sorts, stable).
 * Rows with the same zero margins share more zero columns: a chunk of 128 MNIST digits
 * taken in order has 34% of its pixels zero in all of them, 48% sorted. Each row's outputs
 * do not depend on the others, so the plan runs the whole network in this order and puts
 * the outputs back (plan_predict). NULL also when every row has the same margins, or when
 * the chunks would not run their own GEMMs summing the whole batch's K panels. */
static const ptrdiff_t *LOC(live_order)(fnn_plan *p, const T *x, ptrdiff_t bsz)
{
    const fnn_op *op = &p->ops[0];
    const ptrdiff_t ni = p->n_in, no = op->n_out, ch = p->live_chunk;
    const ptrdiff_t line = 64 / (ptrdiff_t)sizeof(T);
    ptrdiff_t *perm = p->live_perm, *tmp, *first, *last, *cnt, kp, same = 1;
    if (!perm || ch <= 0 || bsz < 2 * ch || bsz > p->batch || op->kind != FNN_OP_DENSE ||
        (double)ch * (double)ni * (double)no < p->live_min)
        return NULL;
    kp = fnn_gemm_kpanel(sizeof(T), 0, bsz, no, ni, p->ws, p->ws_bytes);
    if (kp <= 0 || fnn_gemm_kpanel(sizeof(T), 0, ch, no, ni, p->ws, p->ws_bytes) != kp ||
        fnn_gemm_kpanel(sizeof(T), 0, LOC(chunk_rows)(bsz, ch, bsz / ch * ch - ch), no, ni, p->ws,
                        p->ws_bytes) != kp)
        return NULL;
    tmp = perm + p->batch, first = tmp + p->batch, last = first + p->batch;
    cnt = last + p->batch;
    FNN_PAR_FOR(bsz * 64 > FNN_PAR_MIN, for (ptrdiff_t r = 0; r < bsz; ++r) {
        const T *row = x + r * ni;
        ptrdiff_t f = 0, l = ni;
        if (r + FNN_GATHER_AHEAD < bsz) /* a row ahead, whole: its margins only was slower */
            for (ptrdiff_t j = 0; j < ni; j += line)
                __builtin_prefetch(row + FNN_GATHER_AHEAD * ni + j, 0, 2);
        while (f + 16 <= ni && LOC(zeros16)(row + f)) f += 16;
        while (f < ni && row[f] == 0) ++f;                      /* NaN is not zero */
        while (l - 16 >= f && LOC(zeros16)(row + l - 16)) l -= 16;
        while (l > f && row[l - 1] == 0) --l;
        first[r] = f, last[r] = f == ni ? ni : l - 1; /* a zero row: ni, ni */
    });
    for (ptrdiff_t r = 1; r < bsz && same; ++r)
        same = first[r] == first[0] && last[r] == last[0];
    if (same) return NULL;
    memset(cnt, 0, (size_t)(ni + 2) * sizeof(ptrdiff_t));
    for (ptrdiff_t r = 0; r < bsz; ++r) ++cnt[last[r] + 1];
    for (ptrdiff_t j = 0; j <= ni; ++j) cnt[j + 1] += cnt[j];
    for (ptrdiff_t r = 0; r < bsz; ++r) tmp[cnt[last[r]]++] = r;
    memset(cnt, 0, (size_t)(ni + 2) * sizeof(ptrdiff_t));
    for (ptrdiff_t r = 0; r < bsz; ++r) ++cnt[first[r] + 1];
    for (ptrdiff_t j = 0; j <= ni; ++j) cnt[j + 1] += cnt[j];
    for (ptrdiff_t i = 0; i < bsz; ++i) perm[cnt[first[tmp[i]]]++] = tmp[i];
    return perm;
}

/* The m rows of a chunk from row r0 in the plan's order: x's own rows, or, in a sorted
 * order, gathered into xg (the next rows prefetched, as in the training gather). */
static const T *LOC(chunk_x)(const T *x, ptrdiff_t ni, const ptrdiff_t *perm, ptrdiff_t r0,
                             ptrdiff_t m, T *xg)
{
    const ptrdiff_t line = 64 / (ptrdiff_t)sizeof(T);
    if (!perm) return x + r0 * ni;
    for (ptrdiff_t r = 0; r < m; ++r) {
        if (r + FNN_GATHER_AHEAD < m) {
            const T *nx = x + perm[r0 + r + FNN_GATHER_AHEAD] * ni;
            for (ptrdiff_t j = 0; j < ni; j += line) __builtin_prefetch(nx + j, 0, 2);
        }
        memcpy(xg + r * ni, x + perm[r0 + r] * ni, (size_t)ni * sizeof(T));
    }
    return xg;
}

/* One chunk: y := epilogue(x·W) over its live columns when at least an eighth are zero
 * (returns 1), else the full product on its rows (0). */
static int LOC(live_chunk)(fnn_plan *q, const fnn_op *op, const T *x, ptrdiff_t m, T *y,
                           const fnn_epilogue *epi)
{
    const ptrdiff_t ni = op->n_in, no = op->n_out, nc = LOC(live_cols)(q, x, m);
    if (nc >= 0) {
        LOC(live_fwd)(q, op, m, nc, y, epi);
        return 1;
    }
    FN(gemm)(0, 0, m, no, ni, 1, x, ni, (const T *)op->w, no, 0, y, no, epi, q->ws,
             q->ws_bytes);
    return 0;
}

/* live_predict_rows with the chunks split over p->live_threads threads (at least one
 * chunk each), each running whole chunks on its own buffers and 1-thread GEMMs: at 2
 * threads, the chunks' GEMMs of 128 rows split in two, and the copies, each a parallel
 * region ending in a join, made the skip gain 8% on 10,000 MNIST rows against 24% at 1
 * thread; split, 31%. A chunk with too few zeros runs the full product on its rows. Only when every chunk's GEMM sums the whole
 * batch's K panels (so every row's outputs are the full product's); 0: not taken. */
static int LOC(live_split)(fnn_plan *p, const fnn_op *op, const T *x, ptrdiff_t bsz, T *y,
                           const fnn_epilogue *epi, ptrdiff_t kp, const ptrdiff_t *perm)
{
#ifdef _OPENMP
    const ptrdiff_t ni = op->n_in, no = op->n_out, ch = p->live_chunk, nch = bsz / ch;
    const ptrdiff_t rows = p->batch < 2 * ch - 1 ? p->batch : 2 * ch - 1;
    const int nt = p->live_threads;
    int64_t steps = 0;
    if (nt < 2 || !p->live_ws || nch < nt || !fnn_par(1) || kp <= 0 ||
        fnn_gemm_kpanel(sizeof(T), 0, ch, no, ni, p->live_ws, p->live_ws_bytes) != kp ||
        fnn_gemm_kpanel(sizeof(T), 0, bsz - (nch - 1) * ch, no, ni, p->live_ws,
                        p->live_ws_bytes) != kp)
        return 0;
#pragma omp parallel num_threads(nt) reduction(+ : steps)
    {
        const int t = omp_get_thread_num();
        fnn_plan q = *p;
        q.xc = (T *)p->xc + t * rows * ni, q.wc = (T *)p->wc + t * ni * no;
        q.live_pre = p->live_pre + t * (ni + 1), q.live_sum = (T *)p->live_sum + t * ni;
        q.live_runs = p->live_runs + t * (ni + 2);
        q.ws = (char *)p->live_ws + t * p->live_ws_bytes, q.ws_bytes = p->live_ws_bytes;
#pragma omp for schedule(dynamic, 1)
        for (ptrdiff_t c = 0; c < nch; ++c) {
            const ptrdiff_t r0 = c * ch, m = LOC(chunk_rows)(bsz, ch, r0);
            const T *xr = LOC(chunk_x)(x, ni, perm, r0, m, p->xg ? (T *)p->xg + t * rows * ni
                                                                 : NULL);
            steps += LOC(live_chunk)(&q, op, xr, m, y + r0 * no, epi);
        }
    }
    p->live_steps += steps;
    return 1;
#else
    return (void)p, (void)op, (void)x, (void)bsz, (void)y, (void)epi, (void)kp, (void)perm, 0;
#endif
}

/* y := epilogue(x·W) for a batch of more rows, chunk by chunk (p->live_chunk rows, the
 * last chunk taking the remainder), in the order perm when not NULL (live_order; y's rows
 * then follow it): a chunk with at least an eighth of its columns zero in all its rows runs
 * on its live columns (live_cols, live_fwd); in x's own order the rows between such chunks
 * run as one GEMM of the full product. 128 MNIST digits have a third of their pixels zero
 * in all of them, 10,000 only 14%. Only when each chunk's GEMM sums panel by panel as the
 * whole batch's would (fnn_gemm_kpanel), so y is the full product's. 0: not taken (never
 * with perm: live_order checked the same). */
static int LOC(live_predict_rows)(fnn_plan *p, const fnn_op *op, const T *x, ptrdiff_t bsz,
                                  T *y, const fnn_epilogue *epi, const ptrdiff_t *perm)
{
    const ptrdiff_t ni = op->n_in, no = op->n_out, ch = p->live_chunk;
    const T *w = (const T *)op->w;
    ptrdiff_t kp, d0 = 0, taken = 0;
    if (!p->live_pre || ch <= 0 || op->kind != FNN_OP_DENSE || bsz < ch)
        return 0;
    kp = fnn_gemm_kpanel(sizeof(T), 0, bsz, no, ni, p->ws, p->ws_bytes);
    if (LOC(live_split)(p, op, x, bsz, y, epi, kp, perm)) return 1;
    for (ptrdiff_t r0 = 0, m; r0 < bsz; r0 += m) {
        ptrdiff_t nc = -1;
        m = LOC(chunk_rows)(bsz, ch, r0);
        if (perm) { /* live_order checked the K panels */
            taken += LOC(live_chunk)(p, op, LOC(chunk_x)(x, ni, perm, r0, m, (T *)p->xg), m,
                                     y + r0 * no, epi);
            continue;
        }
        if (kp > 0 && fnn_gemm_kpanel(sizeof(T), 0, m, no, ni, p->ws, p->ws_bytes) == kp)
            nc = LOC(live_cols)(p, x + r0 * ni, m);
        if (nc >= 0) {
            if (r0 > d0)
                FN(gemm)(0, 0, r0 - d0, no, ni, 1, x + d0 * ni, ni, w, no, 0, y + d0 * no, no,
                         epi, p->ws, p->ws_bytes);
            LOC(live_fwd)(p, op, m, nc, y + r0 * no, epi);
            d0 = r0 + m, ++taken;
        }
    }
    p->live_steps += taken;
    if (perm) return 1;
    if (!taken) return 0;
    if (bsz > d0)
        FN(gemm)(0, 0, bsz - d0, no, ni, 1, x + d0 * ni, ni, w, no, 0, y + d0 * no, no, epi,
                 p->ws, p->ws_bytes);
    return 1;
}

/* Inference: out[r, :] := model(X[r, :]) for r < bsz, using the plan's buffers
 * (dropout off, batch norm on running statistics). Every op maps rows to rows, so in a
 * sorted row order (live_order) the ops run on the sorted rows and the last op's outputs
 * are put back in X's order. */
void FN(plan_predict)(fnn_plan *p, const T *X, ptrdiff_t bsz, T *out)
{
    const ptrdiff_t *perm = LOC(live_order)(p, X, bsz);
    const T *x = X;
    for (int i = 0; i < p->n_ops; ++i) {
        fnn_op *op = &p->ops[i];
        T *y = i == p->n_ops - 1 && !perm ? out : (T *)op->y;
        size_t n = (size_t)(bsz * op->n_out);
        switch (op->kind) {
        case FNN_OP_DENSE: {
            fnn_epilogue epi = {op->act_in_gemm ? op->act : FNN_ACT_IDENTITY, op->act_param,
                                op->b, NULL, 0, NULL, 0, NULL};
            if (i > 0 ||
                !(bsz <= FNN_LIVE_PREDICT_M ? LOC(live_predict)(p, op, x, bsz, y, &epi)
                                            : LOC(live_predict_rows)(p, op, x, bsz, y, &epi,
                                                                     perm)))
                FN(gemm)(0, 0, bsz, op->n_out, op->n_in, 1, x, op->n_in, (const T *)op->w,
                         op->n_out, 0, y, op->n_out, &epi, p->ws, p->ws_bytes);
            if (!op->act_in_gemm && op->act != FNN_ACT_IDENTITY)
                FN(act_fwd)(op->act, op->act_param, y, y, n);
            break;
        }
        case FNN_OP_ACT: FN(act_fwd)(op->act, op->act_param, x, y, n); break;
        case FNN_OP_BATCHNORM:
            FN(batch_norm_fwd_eval)(x, (const T *)op->w, (const T *)op->b, y,
                                    (const T *)op->run_mean, (const T *)op->run_var,
                                    (size_t)bsz, (size_t)op->n_out, op->eps);
            break;
        case FNN_OP_LAYERNORM:
            FN(layer_norm_fwd)(x, (const T *)op->w, (const T *)op->b, y, (T *)op->mean,
                               (T *)op->invstd, (size_t)bsz, (size_t)op->n_out, op->eps);
            break;
        default: if (y != x) memcpy(y, x, n * sizeof(T)); break; /* dropout: identity */
        }
        x = y;
    }
    if (perm) {
        const ptrdiff_t no = p->ops[p->n_ops - 1].n_out;
        for (ptrdiff_t r = 0; r < bsz; ++r)
            memcpy(out + perm[r] * no, x + r * no, (size_t)no * sizeof(T));
    }
}

#endif
