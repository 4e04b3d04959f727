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
/* One-row inference runs a hidden Dense op on its non-zero inputs from this many outputs:
 * gemm.c's one-row GEMM sums in k order (its row kernel) only above FNN_GEMM_NARROW (16);
 * narrower outputs take dot kernels, whose sums run in another order */
#define FNN_LIVE_HIDDEN_N 17

/* The sparse first layer (sp_build): a row block's entries keep their row as an offset
 * in a byte */
#define FNN_SP_RB 128

/* Where its pieces sit in the buffer of fnn_sparse_bytes(m, k, elem_size, threads) bytes,
 * for up to m rows of k columns: the grouping of the columns into pairs for the current K
 * panels (kept from step to step in the head), then each row block's lists. */
typedef struct {
    ptrdiff_t kp, k, ng, npan; /* the grouping: K panel, columns, groups, panels */
} sp_head;
typedef struct {
    sp_head *head;
    int32_t *gk;   /* [k + 1] each group's first column, then k */
    int32_t *gof;  /* [k] each column's group */
    int32_t *gop;  /* [k / 2 + 1] the group of columns (2i, 2i + 1), -1: two (a K panel
                    * starts at 2i + 1) */
    int32_t *gpan; /* [k + 1] each panel's first group, then ng */
    uint64_t *act; /* [2 nrb, act_ld] half block h's rows with a non-zero in group g, as
                    * bits (act_ld >= k, a multiple of 8 words, so that the scan's threads
                    * never write one cache line: 44-45 -> 38-41 us a step on 2 threads,
                    * against ~50 on 1; bits_ld likewise) */
    uint64_t *bits, *lvb; /* [2 nrb, bits_ld] a half block's row scan, and its columns' OR */
    int64_t *res;  /* [2 nrb] entries of half block h, or -1: gave up */
    int32_t *cnt;  /* [nrb, k] entries of block b's group g */
    uint8_t *row;  /* [nrb, k, FNN_SP_RB] an entry's row in its block */
    void *val;     /* [nrb, k, FNN_SP_RB, 2] an entry's two values */
    void *tmp;     /* [threads, 2 FNN_SP_RB + m, NB] P, Q (forward) and G (gradient) */
    ptrdiff_t tmp_stride, threads, act_ld, bits_ld;
} sp_lay;

static size_t sp_layout(void *buf, ptrdiff_t m, ptrdiff_t k, int es, int threads, sp_lay *L)
{
    const ptrdiff_t nrb = (m + FNN_SP_RB - 1) / FNN_SP_RB, nb = 128 / es, kw = (k + 63) / 64;
    const ptrdiff_t act_ld = (k + 7) / 8 * 8, bits_ld = (kw + 7) / 8 * 8;
    char *b = (char *)buf;
    size_t off = 64;
#define SP_PIECE(field, type, count)                                                      \
    do {                                                                                  \
        if (L) L->field = (type)(void *)(b + off);                                        \
        off += ((size_t)(count) + 63) / 64 * 64;                                          \
    } while (0)
    SP_PIECE(gk, int32_t *, 4 * (k + 2));
    SP_PIECE(gof, int32_t *, 4 * k);
    SP_PIECE(gop, int32_t *, 4 * (k / 2 + 1));
    SP_PIECE(gpan, int32_t *, 4 * (k + 2));
    SP_PIECE(act, uint64_t *, 16 * nrb * act_ld);
    SP_PIECE(bits, uint64_t *, 16 * nrb * bits_ld);
    SP_PIECE(lvb, uint64_t *, 16 * nrb * bits_ld);
    SP_PIECE(res, int64_t *, 16 * nrb);
    SP_PIECE(cnt, int32_t *, 4 * nrb * k);
    SP_PIECE(row, uint8_t *, nrb * k * FNN_SP_RB);
    SP_PIECE(val, void *, 2 * es * nrb * k * FNN_SP_RB);
    SP_PIECE(tmp, void *, (size_t)threads * es * (2 * FNN_SP_RB + m) * nb);
#undef SP_PIECE
    if (L) {
        L->head = (sp_head *)buf;
        L->tmp_stride = (2 * FNN_SP_RB + m) * nb;
        L->threads = threads;
        L->act_ld = act_ld, L->bits_ld = bits_ld;
    }
    return off;
}

size_t fnn_sparse_bytes(ptrdiff_t m, ptrdiff_t k, int elem_size, int threads)
{
    return m > 0 && k > 0 ? sp_layout(NULL, m, k, elem_size, threads < 1 ? 1 : threads, NULL) : 0;
}

/* The plan's sparse layer buffer */
static sp_lay sp_plan_lay(const fnn_plan *p, int es)
{
    sp_lay L;
    sp_layout(p->sp_buf, p->batch, p->n_in, es, p->sp_threads, &L);
    return L;
}

/* The scratch of the calling thread in a parallel loop of the sparse layer (the first when
 * it runs on one thread inside some other parallel region) */
static inline void *sp_tmp(const sp_lay *L, int es)
{
#ifdef _OPENMP
    const int t = omp_get_thread_num();
#else
    const int t = 0;
#endif
    return (char *)L->tmp + (t < L->threads ? t : 0) * L->tmp_stride * es;
}

/* The selected ISA's kernels and epilogue tile, named by dtype for the body */
static inline void spg_fwd_s(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt,
                             const uint8_t *row, const float *val, ptrdiff_t cap,
                             const float *w, ptrdiff_t ldw, ptrdiff_t n, float *P)
{
    fnn_kt->sspg_fwd(ng, gk, cnt, row, val, cap, w, ldw, n, P);
}
static inline void spg_fwd_d(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt,
                             const uint8_t *row, const double *val, ptrdiff_t cap,
                             const double *w, ptrdiff_t ldw, ptrdiff_t n, double *P)
{
    fnn_kt->dspg_fwd(ng, gk, cnt, row, val, cap, w, ldw, n, P);
}
static inline void spg_dw_s(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt,
                            const uint8_t *row, const float *val, ptrdiff_t nrb, ptrdiff_t k,
                            ptrdiff_t m, ptrdiff_t kp, const float *G, ptrdiff_t n, float *dw,
                            ptrdiff_t lddw)
{
    fnn_kt->sspg_dw(ng, gk, cnt, row, val, FNN_SP_RB, k, nrb, FNN_SP_RB, m, kp, G, n, dw, lddw);
}
static inline void spg_dw_d(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt,
                            const uint8_t *row, const double *val, ptrdiff_t nrb, ptrdiff_t k,
                            ptrdiff_t m, ptrdiff_t kp, const double *G, ptrdiff_t n, double *dw,
                            ptrdiff_t lddw)
{
    fnn_kt->dspg_dw(ng, gk, cnt, row, val, FNN_SP_RB, k, nrb, FNN_SP_RB, m, kp, G, n, dw, lddw);
}
static inline void gemv_live_s(ptrdiff_t nl, const ptrdiff_t *idx, const float *x,
                               const float *w, ptrdiff_t ldw, ptrdiff_t n, float *y)
{
    fnn_kt->sgemv_live(nl, idx, x, w, ldw, n, y);
}
static inline void gemv_live_d(ptrdiff_t nl, const ptrdiff_t *idx, const double *x,
                               const double *w, ptrdiff_t ldw, ptrdiff_t n, double *y)
{
    fnn_kt->dgemv_live(nl, idx, x, w, ldw, n, y);
}
static inline int sp_epi_s(float *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr,
                           const float *bias, int act, double slope)
{
    return fnn_kt->sgemm_epi_tile(c, ldc, mr, nr, bias, act, (float)slope, 0);
}
static inline int sp_epi_d(double *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr,
                           const double *bias, int act, double slope)
{
    return fnn_kt->dgemm_epi_tile(c, ldc, mr, nr, bias, act, slope, 0);
}

/* Work items of a sparse product: nblk column blocks of the output, each split into
 * enough ranges of `rows` that every thread gets two or more items. */
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
 * the batch's non-zeros alone, paired by adjacent columns. The columns are grouped two by
 * two, (2i, 2i + 1), except where a K panel of the forward GEMM (kp) starts between them.
 * Each row with a non-zero in a group is an entry of it, holding both of the row's values
 * there: 128 MNIST digits have 19,400 non-zeros in 11,300 entries, so the kernels (spg.h)
 * do 17% more multiply-adds than the non-zeros and share each load between two of them.
 * The rows come in blocks of FNN_SP_RB. First each half block's rows are scanned into
 * bits, their groups' bits set in act (in parallel, each half its own lines); then each
 * group's entries are listed from its bits, in row order (in parallel over groups).
 *
 * Returns the entries, or -1 when twice them (the multiply-adds per output column) are
 * more than `ratio` of the live columns' entries (columns not zero in every row), the row
 * scan of a half block giving up once it is sure. */
static ptrdiff_t LOC(sp_build)(const sp_lay *L, const T *x, ptrdiff_t m, ptrdiff_t k,
                               ptrdiff_t kp, double ratio, int par)
{
    sp_head *h = L->head;
    const ptrdiff_t nrb = (m + FNN_SP_RB - 1) / FNN_SP_RB, kw = (k + 63) / 64, nh = 2 * nrb;
    const double lim = ratio * (double)k;
    ptrdiff_t total = 0, live = 0;
    if (h->kp != kp || h->k != k) { /* the grouping of this K panel */
        ptrdiff_t g = 0, np = 0;
        for (ptrdiff_t p0 = 0; p0 < k; p0 += kp, ++np) {
            const ptrdiff_t p1 = p0 + kp < k ? p0 + kp : k;
            L->gpan[np] = (int32_t)g;
            for (ptrdiff_t j = p0; j < p1; ++g) {
                L->gk[g] = (int32_t)j;
                L->gof[j] = (int32_t)g;
                if (j % 2 == 0 && j + 1 < p1) L->gof[j + 1] = (int32_t)g, j += 2;
                else ++j;
            }
        }
        L->gk[g] = (int32_t)k, L->gpan[np] = (int32_t)g;
        for (ptrdiff_t i = 0; 2 * i < k; ++i)
            L->gop[i] = 2 * i + 1 < k && L->gof[2 * i + 1] != L->gof[2 * i] ? -1 : L->gof[2 * i];
        h->kp = kp, h->k = k, h->ng = g, h->npan = np;
    }
    const ptrdiff_t ng = h->ng;
    const int32_t *gk = L->gk, *gof = L->gof, *gop = L->gop;
    FNN_PAR_FOR(par && nh > 1, for (ptrdiff_t hb = 0; hb < nh; ++hb) {
        const ptrdiff_t r0 = hb * (FNN_SP_RB / 2);
        const ptrdiff_t r1 = r0 + FNN_SP_RB / 2 < m ? r0 + FNN_SP_RB / 2 : m;
        uint64_t *act = L->act + hb * L->act_ld, *bits = L->bits + hb * L->bits_ld;
        uint64_t *lv = L->lvb + hb * L->bits_ld;
        ptrdiff_t pairs = 0, r;
        for (ptrdiff_t g = 0; g < ng; ++g) act[g] = 0;
        for (ptrdiff_t w = 0; w < kw; ++w) lv[w] = 0;
        for (r = r0; r < r1; ++r) {
            const uint64_t rb = (uint64_t)1 << (r - r0);
            if (2.0 * (double)pairs > lim * (double)(r - r0) + 2.0 * (double)k) break;
            VK_PICK(FN(nzbits_), x + r * k, k, bits);
            for (ptrdiff_t w = 0; w < kw; ++w) {
                const uint64_t nz = bits[w];
                uint64_t pm = (nz | nz >> 1) & 0x5555555555555555ull; /* pairs with a non-zero */
                lv[w] |= nz;
                for (; pm; pm &= pm - 1) {
                    const int t = fnn_ctz64(pm);
                    const ptrdiff_t i = w * 32 + t / 2;
                    if (gop[i] >= 0) {
                        act[gop[i]] |= rb;
                        ++pairs;
                    } else { /* a K panel starts at 2i + 1: two groups */
                        if (nz >> t & 1) act[gof[2 * i]] |= rb, ++pairs;
                        if (nz >> (t + 1) & 1) act[gof[2 * i + 1]] |= rb, ++pairs;
                    }
                }
            }
        }
        L->res[hb] = r < r1 ? -1 : pairs;
    });
    for (ptrdiff_t hb = 0; hb < nh; ++hb) {
        if (L->res[hb] < 0) return -1;
        total += L->res[hb];
    }
    for (ptrdiff_t w = 0; w < kw; ++w) {
        uint64_t any = 0;
        for (ptrdiff_t hb = 0; hb < nh; ++hb) any |= L->lvb[hb * L->bits_ld + w];
        for (; any; any &= any - 1) ++live;
    }
    if (2.0 * (double)total > ratio * (double)live * (double)m) return -1;
    const ptrdiff_t rc = par ? sp_split(nrb, ng) : 1, per = (ng + rc - 1) / rc;
    FNN_PAR_FOR(par && nrb * rc > 1, for (ptrdiff_t it = 0; it < nrb * rc; ++it) {
        const ptrdiff_t b = it / rc, g0 = it % rc * per, g1 = g0 + per < ng ? g0 + per : ng;
        for (ptrdiff_t g = g0; g < g1; ++g) {
            const ptrdiff_t l = b * k + g, two = gk[g + 1] - gk[g] > 1;
            const T *xg = x + b * FNN_SP_RB * k + gk[g];
            uint8_t *row = L->row + l * FNN_SP_RB;
            T *val = (T *)L->val + 2 * l * FNN_SP_RB;
            ptrdiff_t e = 0;
            for (int hw = 0; hw < 2; ++hw)
                for (uint64_t a = L->act[(2 * b + hw) * L->act_ld + g]; a; a &= a - 1, ++e) {
                    const ptrdiff_t r = hw * 64 + fnn_ctz64(a);
                    row[e] = (uint8_t)r;
                    val[2 * e] = xg[r * k];
                    val[2 * e + 1] = two ? xg[r * k + 1] : 0;
                }
            L->cnt[l] = (int32_t)e;
        }
    });
    return total;
}

/* y[m, n] := epilogue(x·W) from the entries of sp_build: work items of NB columns by a
 * row block, each summing its K panels in a tile P (the later ones in Q, then added) and
 * putting P's rows in y with the bias and activation. */
static void LOC(sp_fwd)(const sp_lay *L, ptrdiff_t m, const T *w, ptrdiff_t n, T *y,
                        const fnn_epilogue *epi, int par)
{
    const ptrdiff_t nb = sizeof(T) == 4 ? fnn_kt->s_sp_nr : fnn_kt->d_sp_nr, k = L->head->k;
    const ptrdiff_t nblk = (n + nb - 1) / nb, nrb = (m + FNN_SP_RB - 1) / FNN_SP_RB;
    const ptrdiff_t npan = L->head->npan;
    const int32_t *gk = L->gk, *gpan = L->gpan;
    FNN_PAR_FOR(par, for (ptrdiff_t it = 0; it < nblk * nrb; ++it) {
        const ptrdiff_t n0 = it / nrb * nb, b = it % nrb, r0 = b * FNN_SP_RB;
        const ptrdiff_t nw = n - n0 < nb ? n - n0 : nb, rows = m - r0 < FNN_SP_RB ? m - r0 : FNN_SP_RB;
        T *P = (T *)sp_tmp(L, (int)sizeof(T)), *Q = P + FNN_SP_RB * nb;
        for (ptrdiff_t pi = 0; pi < npan; ++pi) {
            const ptrdiff_t g0 = gpan[pi], l0 = b * k + g0;
            T *t = pi ? Q : P;
            memset(t, 0, (size_t)(rows * nb) * sizeof(T));
            LOC(spg_fwd)(gpan[pi + 1] - g0, gk + g0, L->cnt + l0, L->row + l0 * FNN_SP_RB,
                         (const T *)L->val + 2 * l0 * FNN_SP_RB, FNN_SP_RB, w + n0, n, nw, t);
            if (pi)
                for (ptrdiff_t i = 0; i < rows * nb; ++i) P[i] += Q[i];
        }
        if (epi) /* the bias and activation on the whole tile, then its rows into y */
            LOC(sp_epi)(P, nb, rows, nw, epi->bias ? (const T *)epi->bias + n0 : NULL, epi->act,
                        epi->act_param);
        for (ptrdiff_t i = 0; i < rows; ++i)
            memcpy(y + (r0 + i) * n + n0, P + i * nb, (size_t)nw * sizeof(T));
    });
}

/* dw[k, n] := xᵀ·g from the entries of sp_build, K panels of kp rows: work items of NB
 * columns by a range of groups, each copying g's columns into G (rows NB apart, so they
 * stay in L1) for the kernel. Every row of dw is written (all-zero columns' with 0). */
static void LOC(sp_dw)(const sp_lay *L, ptrdiff_t m, const T *g, ptrdiff_t n, ptrdiff_t kp,
                       T *dw, int par)
{
    const ptrdiff_t nb = sizeof(T) == 4 ? fnn_kt->s_sp_nr : fnn_kt->d_sp_nr, k = L->head->k;
    const ptrdiff_t nblk = (n + nb - 1) / nb, nrb = (m + FNN_SP_RB - 1) / FNN_SP_RB;
    const ptrdiff_t ng = L->head->ng, rc = par ? sp_split(nblk, ng) : 1, per = (ng + rc - 1) / rc;
    FNN_PAR_FOR(par, for (ptrdiff_t it = 0; it < nblk * rc; ++it) {
        const ptrdiff_t n0 = it / rc * nb, nw = n - n0 < nb ? n - n0 : nb;
        const ptrdiff_t g0 = it % rc * per, g1 = g0 + per < ng ? g0 + per : ng;
        T *G = (T *)sp_tmp(L, (int)sizeof(T)) + 2 * FNN_SP_RB * nb;
        for (ptrdiff_t r = 0; r < m; ++r)
            memcpy(G + r * nb, g + r * n + n0, (size_t)nw * sizeof(T));
        if (g1 > g0)
            LOC(spg_dw)(g1 - g0, L->gk + g0, L->cnt + g0, L->row + g0 * FNN_SP_RB,
                        (const T *)L->val + 2 * g0 * FNN_SP_RB, nrb, k, m, kp, G, nw, dw + n0, n);
    });
}

/* The plan's sparse layer for this batch: 1 when taken (see sp_build), when the product
 * is not small (live_min), the first op is Dense and both its GEMMs would sum K panel by
 * K panel (fnn_gemm_kpanel), so leaving out the zeros keeps every output's sums. */
static int LOC(sp_rows)(fnn_plan *p, const T *xb, ptrdiff_t bsz)
{
    const fnn_op *op = &p->ops[0];
    const ptrdiff_t ni = p->n_in, no = op->n_out;
    if (!p->sp_buf || op->kind != FNN_OP_DENSE || bsz > p->batch ||
        (double)bsz * (double)ni * (double)no < p->live_min ||
        fnn_gemm_kpanel(sizeof(T), 0, ni, no, bsz, p->ws, p->ws_bytes) <= 0)
        return 0;
    const ptrdiff_t kp = fnn_gemm_kpanel(sizeof(T), 0, bsz, no, ni, p->ws, p->ws_bytes);
    if (kp <= 0) return 0;
    const sp_lay L = sp_plan_lay(p, (int)sizeof(T));
    return LOC(sp_build)(&L, xb, bsz, ni, kp, p->sp_ratio,
                         fnn_get_max_threads() <= p->sp_threads) >= 0;
}

/* The sparse layer's pieces on their own, for tests: where x[0, n) is not zero, as bits
 * (bits holds ceil(n / 64) words), and x·B or xᵀ·B through the pairs. */
void FN(nonzero_bits)(const T *x, ptrdiff_t n, uint64_t *bits)
{
    VK_PICK(FN(nzbits_), x, n, bits);
}

ptrdiff_t FN(sparse_product)(const T *x, ptrdiff_t m, ptrdiff_t k, const T *b, ptrdiff_t n,
                             ptrdiff_t kp, int grad, T *out, void *buf, int threads)
{
    sp_lay L;
    const int par = fnn_get_max_threads() <= threads;
    if (m <= 0 || k <= 0 || n <= 0 || kp <= 0) return -1;
    memset(buf, 0, sizeof(sp_head));
    sp_layout(buf, m, k, (int)sizeof(T), threads, &L);
    const ptrdiff_t e = LOC(sp_build)(&L, x, m, k, grad ? k : kp, HUGE_VAL, par);
    if (grad)
        LOC(sp_dw)(&L, m, b, n, kp, out, par);
    else
        LOC(sp_fwd)(&L, m, b, n, out, NULL, par);
    return e;
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
    else if (p->sp_on && op == &p->ops[0]) {
        const sp_lay L = sp_plan_lay(p, (int)sizeof(T));
        LOC(sp_fwd)(&L, bsz, (const T *)op->w, op->n_out, dst, &epi,
                    fnn_get_max_threads() <= p->sp_threads);
    } else
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
                                     op->momentum, op->eps, op->unbiased);
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

/* Running statistics for metrics, as fastnn.metrics defines them: st[1] rows whose
 * arg-max output is the target's arg-max (one output: on the target's side of the
 * threshold), st[4] outputs on their target's side, st[2] and st[3] squared and absolute
 * errors. */
static void LOC(stats)(fnn_plan *p, ptrdiff_t bsz, double *st)
{
    const T *out = (const T *)p->ops[p->n_ops - 1].y, *t = (const T *)p->yb;
    const ptrdiff_t k = p->n_out;
    const T thr = p->loss == FNN_LOSS_BCE_LOGITS ? 0 : (T)0.5;
    double correct = 0, sides = 0, sse = 0, sae = 0;
    for (ptrdiff_t r = 0; r < bsz; ++r) {
        const T *o = out + r * k, *tr = t + r * k;
        ptrdiff_t am = 0, tm = 0;
        if (k > 1) {
            for (ptrdiff_t j = 1; j < k; ++j) am = o[j] > o[am] ? j : am;
            if (p->labels)
                tm = (ptrdiff_t)p->lb[r];
            else
                for (ptrdiff_t j = 1; j < k; ++j) tm = tr[j] > tr[tm] ? j : tm;
            correct += am == tm;
        }
        if (p->loss == FNN_LOSS_SOFTMAX_XENT) continue;
        for (ptrdiff_t j = 0; j < k; ++j) {
            double d = (double)o[j] - (double)tr[j];
            sides += (o[j] > thr) == (tr[j] > (T)0.5);
            sse += d * d;
            sae += fabs(d);
        }
    }
    st[1] += k > 1 ? correct : sides;
    st[2] += sse;
    st[3] += sae;
    st[4] += sides;
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
    if (p->sp_on && i == 0) {
        const sp_lay L = sp_plan_lay(p, (int)sizeof(T));
        LOC(sp_dw)(&L, bsz, g, op->n_out,
                   fnn_gemm_kpanel(sizeof(T), 0, op->n_in, op->n_out, bsz, p->ws, p->ws_bytes),
                   (T *)op->dw, fnn_get_max_threads() <= p->sp_threads);
    } else if (live < 0 || !LOC(live_dw)(p, op, g, bsz, live))
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

/* One optimizer pass over the whole arena after the backward. Running each layer's update
 * right after its weight gradient (while the gradient is in cache) was measured twice, for
 * the dense layers and for the sparse first layer with its rows prefetched: no faster
 * (benchmarks/RESULTS.md, "Tried ... and not kept"). */
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
 * stats[0..4] += loss·bsz, rows right, squared error, absolute error, outputs right
 * (LOC(stats)). */
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

/* y := epilogue(x·W) for one row, a hidden Dense op's product over its non-zero inputs
 * alone (gemv_live, gvl.h): after ReLU about half of them are zero, and the rows of W they
 * would multiply are not read. Each output is one FMA chain from zero in k order, as the
 * one-row GEMM's, so y is the full product's (up to the sign of a zero, and W's inf or NaN
 * met by a zero input). 0: not taken (no index buffer, more than one row, a small product,
 * or under an eighth of the inputs zero). */
static int LOC(live_hidden)(fnn_plan *p, const fnn_op *op, const T *x, ptrdiff_t bsz, T *y,
                            const fnn_epilogue *epi)
{
    const ptrdiff_t ni = op->n_in, no = op->n_out;
    ptrdiff_t *idx = p->live_idx, nl = 0;
    if (!idx || bsz != 1 || !(sizeof(T) == 4 ? (void *)fnn_kt->sgemv_live
                                             : (void *)fnn_kt->dgemv_live) ||
        no < FNN_LIVE_HIDDEN_N || (double)ni * (double)no < p->live_predict_min)
        return 0;
    for (ptrdiff_t j = 0; j < ni; ++j) { /* branch-free; NaN is live */
        idx[nl] = j;
        nl += x[j] != 0;
    }
    if (ni - nl < ni / 8) return 0;
    LOC(gemv_live)(nl, idx, x, (const T *)op->w, no, no, y);
    LOC(sp_epi)(y, no, 1, no, (const T *)epi->bias, epi->act, epi->act_param);
    ++p->live_hidden_calls;
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
            if (i > 0 ? !LOC(live_hidden)(p, op, x, bsz, y, &epi)
                      : !(bsz <= FNN_LIVE_PREDICT_M
                              ? LOC(live_predict)(p, op, x, bsz, y, &epi)
                              : LOC(live_predict_rows)(p, op, x, bsz, y, &epi, perm)))
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
