/* Typed body of gemm.c, included once per dtype with T (float|double) and FN(x) naming
 * the copy (x##_s | x##_d). Knows no instruction set: the microkernel comes from fnn_kt.
 *
 * Loop nest (BLIS, with the roles of A and B swapped for row-major wide NR tiles):
 *   each thread owns an equal range of row panels or of NR tiles -> jc over NC columns
 *   -> pc over KC depth -> the thread packs its B[kc x nc] (stays in its L2; an
 *   untransposed B is packed by the first row panel's microkernels as they read it) ->
 *   per MR-row panel pack the A micro-panel [MR x kc] (stays in L1) -> microkernel per
 *   tile.
 * Every C element is summed over p in the same KC order whoever owns its tile, so the
 * result does not depend on the thread count. */

typedef void (*FN(ukr_fn))(ptrdiff_t, T, const T *, ptrdiff_t, ptrdiff_t, const T *, ptrdiff_t,
                           T, T *, ptrdiff_t);

typedef void (*FN(ukr_pk_fn))(ptrdiff_t, T, const T *, ptrdiff_t, ptrdiff_t, const T *,
                              ptrdiff_t, T *, T, T *, ptrdiff_t);

typedef struct FN(gemm_args) {
    int ta, tb, mr, nr, kc, nc;
    int ct; /* computing C^T = op(B)^T op(A)^T: tiles are stored transposed into C */
    ptrdiff_t m, n, k, lda, ldb, ldc;
    ptrdiff_t nb; /* columns of B readable in place: n, or the zero-padded width */
    T alpha, beta;
    const T *a, *b;
    T *c;
    const fnn_epilogue *epi;
    FN(ukr_fn) const *ukr; /* microkernels for rows[0] = MR, rows[1], ..., 0-terminated */
    const int *rows;
    void (*pack_t)(ptrdiff_t, ptrdiff_t, const T *, ptrdiff_t, T *, ptrdiff_t); /* or NULL */
    int (*epi_tile)(T *, ptrdiff_t, ptrdiff_t, ptrdiff_t, const T *, int, T, int); /* ISA's */
    int (*dact_tile)(T *, ptrdiff_t, const T *, ptrdiff_t, ptrdiff_t, ptrdiff_t, const T *, int,
                     T, int); /* C := (C + bias) * act'(Y), ISA's */
    FN(ukr_fn) const (*dot)[FNN_DOT_NJ]; /* dot[r][c]: dot_rows[r] x (dot_nj - c), or NULL */
    const int *dot_rows;
    int dot_nj;
    FN(ukr_pk_fn) ukr_pk; /* MR-row kernel packing the B it reads in place, or NULL */
} FN(gemm_args);

/* dst[p*MR + i] = op(A)[i0+i, p0+p], rows past m zero so edge panels run full tiles */
static void FN(pack_a)(const FN(gemm_args) *g, ptrdiff_t i0, ptrdiff_t p0, ptrdiff_t kc, T *dst)
{
    ptrdiff_t i, p, mr = FNN_MIN(g->mr, g->m - i0), MR = g->mr;
    if (g->ta) {
        for (p = 0; p < kc; ++p) {
            const T *src = g->a + (p0 + p) * g->lda + i0;
            for (i = 0; i < mr; ++i) dst[p * MR + i] = src[i];
            for (; i < MR; ++i) dst[p * MR + i] = 0;
        }
        return;
    }
    if (g->pack_t) {
        g->pack_t(kc, mr, g->a + i0 * g->lda + p0, g->lda, dst, MR);
        return;
    }
    for (i = 0; i < mr; ++i) {
        const T *src = g->a + (i0 + i) * g->lda + p0;
        for (p = 0; p < kc; ++p) dst[p * MR + i] = src[p];
    }
    for (; i < MR; ++i)
        for (p = 0; p < kc; ++p) dst[p * MR + i] = 0;
}

/* dst[p*NR + j] = op(B)[p0+p, j0+j], columns past n zero */
static void FN(pack_b)(const FN(gemm_args) *g, ptrdiff_t j0, ptrdiff_t p0, ptrdiff_t kc, T *dst)
{
    ptrdiff_t j, p, nr = FNN_MIN(g->nr, g->n - j0), NR = g->nr;
    if (!g->tb) {
        for (p = 0; p < kc; ++p) {
            const T *src = g->b + (p0 + p) * g->ldb + j0;
            for (j = 0; j < nr; ++j) dst[p * NR + j] = src[j];
            for (; j < NR; ++j) dst[p * NR + j] = 0;
        }
        return;
    }
    if (g->pack_t) {
        g->pack_t(kc, nr, g->b + j0 * g->ldb + p0, g->ldb, dst, NR);
        return;
    }
    for (j = 0; j < nr; ++j) {
        const T *src = g->b + (j0 + j) * g->ldb + p0;
        for (p = 0; p < kc; ++p) dst[p * NR + j] = src[p];
    }
    for (; j < NR; ++j)
        for (p = 0; p < kc; ++p) dst[p * NR + j] = 0;
}

/* B[p0:p0+kc, jc:jc+nc] into NR-wide panels, panel jp at dst + jp*NR*kc. An untransposed
 * B is walked row by row across all the panels: reads stay sequential, where packing
 * panel after panel read 128 bytes per row at the row stride (2 KiB for a 512-wide
 * weight matrix), which the prefetchers followed at a quarter of the speed. */
#ifndef FNN_PACK_ROWS
#define FNN_PACK_ROWS(BYTES)                                                                  \
    for (p = 0; p < kc; ++p) {                                                                \
        const T *src = g->b + (p0 + p) * g->ldb + jc;                                         \
        T *d = dst + p * NR;                                                                  \
        for (jp = 0; jp < nfull; ++jp, src += NR, d += NR * kc) memcpy(d, src, BYTES);      \
    }
#endif
static void FN(pack_b_block)(const FN(gemm_args) *g, ptrdiff_t jc, ptrdiff_t nc, ptrdiff_t p0,
                             ptrdiff_t kc, T *dst)
{
    ptrdiff_t NR = g->nr, nfull = nc / NR, rem = nc - nfull * NR, p, jp, j;
    if (g->tb) {
        for (jp = 0; jp < FNN_CDIV(nc, NR); ++jp)
            FN(pack_b)(g, jc + jp * NR, p0, kc, dst + jp * NR * kc);
        return;
    }
    switch ((size_t)NR * sizeof(T)) { /* constant-size copies: no loop per NR-wide piece */
    case 128: FNN_PACK_ROWS(128); break;
    case 64: FNN_PACK_ROWS(64); break;
    case 32: FNN_PACK_ROWS(32); break;
    default: FNN_PACK_ROWS((size_t)NR * sizeof(T)); break;
    }
    for (p = 0; rem && p < kc; ++p) {
        const T *src = g->b + (p0 + p) * g->ldb + jc + nfull * NR;
        T *d = dst + nfull * NR * kc + p * NR;
        for (j = 0; j < rem; ++j) d[j] = src[j];
        for (; j < NR; ++j) d[j] = 0;
    }
}

/* C tile (at row i0, col j0, already holding alpha*AB + beta*C) := epilogue(C tile): one
 * pass of the ISA's epi_tile, or of its dact_tile in the backward mode; when
 * pre-activations are kept, bias first, the copy, then the activation or its derivative */
static void FN(epilogue)(const FN(gemm_args) *g, T *c, ptrdiff_t i0, ptrdiff_t j0, ptrdiff_t mr,
                         ptrdiff_t nr)
{
    const fnn_epilogue *e = g->epi;
    const T *bias = e->bias ? (const T *)e->bias + j0 : NULL;
    const T *y = e->dact_y ? (const T *)e->dact_y + i0 * e->ld_dact_y + j0 : NULL;
    const T slope = (T)e->act_param;
    ptrdiff_t i;
    int check = e->nonfinite != NULL, bad;
    if (!e->preact) {
        bad = y ? g->dact_tile(c, g->ldc, y, e->ld_dact_y, mr, nr, bias, e->act, slope, check)
                : g->epi_tile(c, g->ldc, mr, nr, bias, e->act, slope, check);
        if (bad) FNN_SET_FLAG(*e->nonfinite);
        return;
    }
    if (g->epi_tile(c, g->ldc, mr, nr, bias, FNN_ACT_IDENTITY, 0, check))
        FNN_SET_FLAG(*e->nonfinite);
    for (i = 0; i < mr; ++i)
        memcpy((T *)e->preact + (i0 + i) * e->ld_preact + j0, c + i * g->ldc,
               (size_t)nr * sizeof(T));
    if (y)
        g->dact_tile(c, g->ldc, y, e->ld_dact_y, mr, nr, NULL, e->act, slope, 0);
    else if (e->act != FNN_ACT_IDENTITY)
        g->epi_tile(c, g->ldc, mr, nr, NULL, e->act, slope, 0);
}

/* C tile := alpha * A panel . B panel + beta * C tile, splitting the rows over the
 * microkernel ladder (MR, then smaller) so edge rows cost no padded work */
static void FN(rows_ukr)(const FN(gemm_args) *g, ptrdiff_t mr, ptrdiff_t kc, const T *ap,
                         ptrdiff_t rsa, ptrdiff_t csa, const T *bp, ptrdiff_t rsb, T beta,
                         T *c, ptrdiff_t ldc)
{
    ptrdiff_t i = 0;
    int r = 0;
    while (i < mr) {
        while (g->rows[r] > mr - i) ++r;
        g->ukr[r](kc, g->alpha, ap + i * rsa, rsa, csa, bp, rsb, beta, c + i * ldc, ldc);
        i += g->rows[r];
    }
}

/* C[i0:, j0:] (+)= one K panel; column edges and transposed C go through a scratch
 * tile, then the epilogue runs on the tile while it is still in L1 if this was the
 * last panel. With bpk, a full MR x NR tile of C reads B in place (bp, rsb) through
 * ukr_pk, which leaves the packed copy of the B panel in bpk. */
static void FN(tile)(const FN(gemm_args) *g, ptrdiff_t i0, ptrdiff_t j0, ptrdiff_t p0,
                     ptrdiff_t kc, const T *ap, ptrdiff_t rsa, ptrdiff_t csa, const T *bp,
                     ptrdiff_t rsb, T *bpk)
{
    ptrdiff_t i, j, mr = FNN_MIN(g->mr, g->m - i0), nr = FNN_MIN(g->nr, g->n - j0);
    ptrdiff_t ldc = g->ldc, si = g->ct ? 1 : ldc, sj = g->ct ? ldc : 1; /* C strides */
    T beta = p0 == 0 ? g->beta : 1, *c = g->c + i0 * si + j0 * sj;
    if (bpk) {
        g->ukr_pk(kc, g->alpha, ap, rsa, csa, bp, rsb, bpk, beta, c, ldc);
    } else if (nr == g->nr && !g->ct) {
        FN(rows_ukr)(g, mr, kc, ap, rsa, csa, bp, rsb, beta, c, ldc);
    } else {
        T tmp[FNN_GEMM_MAX_TILE];
        FN(rows_ukr)(g, mr, kc, ap, rsa, csa, bp, rsb, 0, tmp, g->nr);
        for (i = 0; i < mr; ++i)
            for (j = 0; j < nr; ++j)
                c[i * si + j * sj] = beta == 0 ? tmp[i * g->nr + j]
                                               : tmp[i * g->nr + j] + beta * c[i * si + j * sj];
    }
    if (g->epi && p0 + kc == g->k) {
        if (g->ct)
            FN(epilogue)(g, c, j0, i0, nr, mr); /* in C's own coordinates */
        else
            FN(epilogue)(g, c, i0, j0, mr, nr);
    }
}

/* k == 0 or alpha == 0: C := epilogue(beta * C) without touching A or B */
static void FN(no_product)(const FN(gemm_args) *g)
{
    ptrdiff_t i, j;
    for (i = 0; i < g->m; ++i) {
        T *row = g->c + i * g->ldc;
        for (j = 0; j < g->n; ++j) row[j] = g->beta == 0 ? 0 : g->beta * row[j];
        if (g->epi) FN(epilogue)(g, row, i, 0, 1, g->n);
    }
}

/* One work item of the unpacked path: rows [i0, i0+MR) x columns [j0, j1). A and B are
 * read in place; only B edge panels (and transposed B) are copied, into stack scratch. */
static void FN(direct_item)(const FN(gemm_args) *g, ptrdiff_t i0, ptrdiff_t j0, ptrdiff_t j1,
                            T *bbuf)
{
    ptrdiff_t p0, kc, j, kcd = fnn_even_block(FNN_MIN(g->kc, FNN_GEMM_STACK / g->nr), g->k);
    ptrdiff_t rsa = g->ta ? 1 : g->lda, csa = g->ta ? g->lda : 1;
    for (p0 = 0; p0 < g->k; p0 += kc) {
        const T *ap = g->a + i0 * rsa + p0 * csa;
        kc = FNN_MIN(kcd, g->k - p0);
        for (j = j0; j < j1; j += g->nr) {
            if (!g->tb && j + g->nr <= g->nb) {
                FN(tile)(g, i0, j, p0, kc, ap, rsa, csa, g->b + p0 * g->ldb + j, g->ldb, NULL);
            } else {
                FN(pack_b)(g, j, p0, kc, bbuf);
                FN(tile)(g, i0, j, p0, kc, ap, rsa, csa, bbuf, g->nr, NULL);
            }
        }
    }
}

/* Work item it of the unpacked path: row panel it / nq, columns [j0, j0 + qw) */
static void FN(direct_it)(const FN(gemm_args) *g, ptrdiff_t it, ptrdiff_t nq, ptrdiff_t qw,
                          T *bbuf)
{
    ptrdiff_t j0 = (it % nq) * qw;
    FN(direct_item)(g, (it / nq) * g->mr, j0, FNN_MIN(j0 + qw, g->n), bbuf);
}

/* Unpacked path for skinny problems (and the no-workspace fallback) */
static void FN(gemm_direct)(const FN(gemm_args) *g, int nt)
{
    ptrdiff_t nir = FNN_CDIV(g->m, g->mr), qw = FNN_GEMM_ITEM_TILES * (ptrdiff_t)g->nr;
    ptrdiff_t nq = FNN_CDIV(g->n, qw), it;
    if (nt <= 1) { /* no team of one: see FNN_PAR_FOR in fnn_util.h */
        T bbuf[FNN_GEMM_STACK];
        for (it = 0; it < nir * nq; ++it) FN(direct_it)(g, it, nq, qw, bbuf);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        T bbuf[FNN_GEMM_STACK];
#pragma omp for schedule(dynamic, 1)
        for (it = 0; it < nir * nq; ++it) FN(direct_it)(g, it, nq, qw, bbuf);
    }
}

/* A rows broadcast in place save the gather of packing, unless a 4 KiB-multiple row stride
 * would put all MR rows into one set of the 8-way L1 (2 KiB apart they share two sets,
 * 6 rows each, and reading in place measured 4% faster than packing at 128x512x256) */
static int FN(a_in_place)(const FN(gemm_args) *g)
{
    return (g->lda * (ptrdiff_t)sizeof(T)) % 4096 != 0;
}

/* Packed path: row panels [ir0, ir1) of one K panel of one NC block, B[kc x nc] packed
 * into bp; each A micro-panel is packed once (into ap) for all the block's tiles. With
 * pk, B is not packed yet: the first panel's full tiles pack it as they read it in place
 * (ukr_pk, so B's one read from L3 overlaps the FMAs) and an edge tile's B is packed
 * before its tile runs. */
static void FN(panel_items)(const FN(gemm_args) *g, ptrdiff_t ir0, ptrdiff_t ir1, ptrdiff_t jc,
                            ptrdiff_t nc, ptrdiff_t p0, ptrdiff_t kc, T *bp, T *ap, int pk)
{
    ptrdiff_t nb = FNN_CDIV(nc, g->nr), ir, jp, j;
    for (ir = ir0; ir < ir1; ++ir, pk = 0) {
        const T *pa = ap;
        ptrdiff_t rsa = 1, csa = g->mr;
        if (FN(a_in_place)(g) && g->ta)
            pa = g->a + p0 * g->lda + ir * g->mr, rsa = 1, csa = g->lda;
        else if (FN(a_in_place)(g))
            pa = g->a + ir * g->mr * g->lda + p0, rsa = g->lda, csa = 1;
        else
            FN(pack_a)(g, ir * g->mr, p0, kc, ap);
        for (jp = 0; jp < nb; ++jp) {
            T *bj = bp + jp * g->nr * kc;
            j = jc + jp * g->nr;
            if (pk && j + g->nr <= g->n) {
                FN(tile)(g, ir * g->mr, j, p0, kc, pa, rsa, csa, g->b + p0 * g->ldb + j, g->ldb,
                         bj);
                continue;
            }
            if (pk) FN(pack_b)(g, j, p0, kc, bj);
            FN(tile)(g, ir * g->mr, j, p0, kc, pa, rsa, csa, bj, g->nr, NULL);
        }
    }
}

/* Packed path, the share of thread t of nth: an equal share of the row panels or of the
 * NR tiles; it packs its own B panels into its workspace part (ws + t * part: B, then A),
 * so threads never wait for one another */
static void FN(packed_share)(const FN(gemm_args) *g, T *ws, size_t part, size_t b_elems,
                             int by_rows, int t, int nth)
{
    ptrdiff_t nir = FNN_CDIV(g->m, g->mr), ntiles = FNN_CDIV(g->n, g->nr);
    T *bp = ws + (size_t)t * part, *ap = bp + b_elems;
    ptrdiff_t ir0 = 0, ir1 = nir, j0 = 0, j1 = g->n, jc, nc, p0, kc;
    ptrdiff_t kstep = fnn_even_block(g->kc, g->k);
    int pk;
    if (by_rows)
        ir0 = nir * t / nth, ir1 = nir * (t + 1) / nth;
    else
        j0 = ntiles * t / nth * g->nr, j1 = FNN_MIN(g->n, ntiles * (t + 1) / nth * g->nr);
    /* B untransposed and the share's first row panel a full MR rows: pack B on the fly */
    pk = g->ukr_pk && !g->tb && !g->ct && ir0 < ir1 && (ir0 + 1) * g->mr <= g->m;
    for (jc = j0; jc < j1; jc += nc) {
        nc = FNN_MIN(g->nc, j1 - jc);
        for (p0 = 0; p0 < g->k; p0 += kc) {
            kc = FNN_MIN(kstep, g->k - p0);
            if (!pk) FN(pack_b_block)(g, jc, nc, p0, kc, bp);
            FN(panel_items)(g, ir0, ir1, jc, nc, p0, kc, bp, ap, pk);
        }
    }
}

/* Packed path over nt threads. The split goes along the operand whose packing it would
 * duplicate less: rows copy all of B per thread, columns all of packed A. One thread
 * runs outside any parallel region (a team of one costs syscalls, see fnn_util.h). */
static void FN(gemm_packed)(const FN(gemm_args) *g, T *ws, size_t part, size_t b_elems, int nt)
{
    ptrdiff_t nir = FNN_CDIV(g->m, g->mr), ntiles = FNN_CDIV(g->n, g->nr);
    int by_rows = (!FN(a_in_place)(g) || g->ta) && g->m > g->n;
    nt = (int)FNN_MIN(nt, by_rows ? nir : ntiles);
    if (nt <= 1) {
        FN(packed_share)(g, ws, part, b_elems, by_rows, 0, 1);
        return;
    }
#pragma omp parallel num_threads(nt)
    FN(packed_share)(g, ws, part, b_elems, by_rows, fnn_thread_num(), fnn_num_threads());
}

/* Narrow path (n <= 16, A rows in place): C rows [i0, i0+r) := alpha * A . Bt^T (+ beta C)
 * by the dot kernels of row variant ri over equal column chunks, then the epilogue */
static void FN(dot_rows)(const FN(gemm_args) *g, ptrdiff_t i0, int ri, const T *bt,
                         ptrdiff_t ldbt)
{
    ptrdiff_t nch = FNN_CDIV(g->n, g->dot_nj), j = 0, q, nj;
    T *c = g->c + i0 * g->ldc;
    for (q = 0; q < nch; j += nj, ++q) {
        nj = (g->n - j) / (nch - q);
        g->dot[ri][g->dot_nj - nj](g->k, g->alpha, g->a + i0 * g->lda, g->lda, 1,
                                   bt + j * ldbt, ldbt, g->beta, c + j, g->ldc);
    }
    if (g->epi) FN(epilogue)(g, c, i0, 0, g->dot_rows[ri], g->n);
}

/* Every output element is one dot kernel's k sum, so any row split is deterministic */
static void FN(gemm_dot)(const FN(gemm_args) *g, const T *bt, ptrdiff_t ldbt, int nt)
{
    ptrdiff_t mr = g->dot_rows[0], nfull = g->m / mr, it;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (it = 0; it < nfull; ++it) FN(dot_rows)(g, it * mr, 0, bt, ldbt);
    for (it = nfull * mr; it < g->m; ++it) FN(dot_rows)(g, it, 1, bt, ldbt);
}

/* dst[j*k + p] = B[p, j]: op(B)^T of an untransposed B, rows of length k */
static void FN(pack_bt)(const FN(gemm_args) *g, T *dst)
{
    ptrdiff_t j, p;
    if (g->pack_t) {
        g->pack_t(g->n, g->k, g->b, g->ldb, dst, g->k);
        return;
    }
    for (p = 0; p < g->k; ++p)
        for (j = 0; j < g->n; ++j) dst[j * g->k + p] = g->b[p * g->ldb + j];
}

/* n <= 16: dot kernels when A rows are in place (and op(B)^T is, or fits the workspace)
 * and half-width tiles would idle lanes;
 * else C^T := op(B)^T op(A)^T, whose rows of op(A)^T are in place when A is transposed;
 * else half-width tiles over op(B) zero-padded once into the workspace */
static void FN(gemm_narrow)(FN(gemm_args) *g, FN(ukr_fn) const *half, T *ws, size_t ws_elems)
{
    int nt = gemm_threads(g->m, g->n, g->k, 0, 0), nh = g->nr / 2;
    if (!g->ta && g->dot[0][0] && g->k >= FNN_GEMM_DOT_KMIN && g->n % nh != 0) {
        if (g->tb) {
            FN(gemm_dot)(g, g->b, g->ldb, nt);
            return;
        }
        if (ws_elems >= (size_t)(g->n * g->k)) {
            FN(pack_bt)(g, ws);
            FN(gemm_dot)(g, ws, g->k, nt);
            return;
        }
    }
    if (g->m > g->n && (g->ta || g->n > nh)) {
        FNN_GEMM_TRANSPOSE(*g);
    } else if (g->n <= nh) {
        g->nr = nh, g->ukr = half;
        if (ws_elems >= (size_t)(g->k * nh)) {
            FN(pack_b)(g, 0, 0, g->k, ws);
            g->b = ws, g->ldb = g->nb = nh, g->tb = 0;
        }
    }
    FN(gemm_direct)(g, nt);
}

typedef void (*FN(rows_fn))(ptrdiff_t, ptrdiff_t, ptrdiff_t, T, const T *, ptrdiff_t,
                            ptrdiff_t, const T *, ptrdiff_t, T, T *, ptrdiff_t);

/* The row kernel on columns [j, j + nj), then their epilogue; with `tile`, one row with
 * alpha 1, beta 0 and B's rows on 64-byte boundaries runs 1 x tile_nr tiles instead, the
 * sums in registers over all of k: the same FMA chain from zero, so the same bits. */
static void FN(gemv_chunk)(const FN(gemm_args) *g, FN(rows_fn) rows, FN(ukr_fn) tile,
                           int tile_nr, ptrdiff_t j, ptrdiff_t nj)
{
    ptrdiff_t i, jt = j;
    if (tile && g->m == 1 && g->alpha == 1 && g->beta == 0 &&
        (g->ldb * (ptrdiff_t)sizeof(T)) % 64 == 0 && (uintptr_t)(g->b + j) % 64 == 0)
        for (; jt + tile_nr <= j + nj; jt += tile_nr)
            tile(g->k, 1, g->a, 1, g->ta ? g->lda : 1, g->b + jt, g->ldb, 0, g->c + jt, g->ldc);
    if (jt < j + nj)
        rows(g->m, g->k, j + nj - jt, g->alpha, g->a, g->ta ? 1 : g->lda, g->ta ? g->lda : 1,
             g->b + jt, g->ldb, g->beta, g->c + jt, g->ldc);
    for (i = 0; g->epi && i < g->m; ++i) FN(epilogue)(g, g->c + i * g->ldc + j, i, j, 1, nj);
}

/* The row kernel on column chunks, one vector wide multiples, split over nt threads: each
 * element's sum is the same whatever chunk holds it. One thread stays out of OpenMP.
 * Tiles only on several threads: the batch-1 784-512-256-10 chain, tiles against rows
 * alternated in one process (40 rounds, medians), 19.7-23.3 against 23.5-25.9 us on 2
 * threads, but 29.1-29.9 against 28.6-29.3 on 1 (and no better in a C harness). */
static void FN(gemv_cols)(const FN(gemm_args) *g, FN(rows_fn) rows, FN(ukr_fn) tile,
                          int tile_nr, int nt)
{
    ptrdiff_t w = 64 / (ptrdiff_t)sizeof(T), step = FNN_CDIV(FNN_CDIV(g->n, nt), w) * w, j;
    if (nt <= 1) {
        FN(gemv_chunk)(g, rows, NULL, tile_nr, 0, g->n);
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (j = 0; j < g->n; j += step)
        FN(gemv_chunk)(g, rows, tile, tile_nr, j, FNN_MIN(step, g->n - j));
}

/* Batch 1 to FNN_GEMM_ROWS_M (op(B) = B): the ISA's kernel streaming B by rows, else for
 * m = 1 the 1 x tile_nr tiles; 0 when neither fits and the general paths take it. With
 * several rows of C or B 4 KiB apart, the row kernel's streams would share an L1 set.
 * Threads split the columns of a B of 512 KiB or more (gemv_threads in gemm.c). */
static int FN(gemv)(FN(gemm_args) *g, FN(rows_fn) rows, FN(ukr_fn) const *tile, int tile_nr)
{
    static const int one_row[2] = {1, 0};
    if (rows && g->n > FNN_GEMM_NARROW && g->m <= FNN_GEMM_ROWS_M &&
        (g->m == 1 || (g->ldc * sizeof(T) % 4096 != 0 && g->ldb * sizeof(T) % 4096 != 0))) {
        FN(gemv_cols)(g, rows, *tile, tile_nr,
                      gemv_threads((size_t)g->k * (size_t)g->n * sizeof(T)));
        return 1;
    }
    if (g->m > 1 || g->n < tile_nr) return 0;
    g->mr = 1, g->nr = tile_nr, g->ukr = tile, g->rows = one_row;
    FN(gemm_direct)(g, 1);
    return 1;
}
