/* GEMM: C := act(alpha * op(A) * op(B) + beta * C + bias), float32 and float64.
 * Packing, cache blocking, the loop nest, threads and the fused epilogue; no ISA code:
 * the MR x NR microkernel and its block sizes come from the kernel table row fnn_kt. */
#include <stdint.h>
#include <string.h>

#include "fastnn.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define FNN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FNN_MAX(a, b) ((a) > (b) ? (a) : (b))
#define FNN_CDIV(a, b) (((a) + (b) - 1) / (b))
#define FNN_GEMM_MAX_TILE 512       /* >= MR * NR of every table row */
#define FNN_GEMM_STACK 8192         /* elements of each per-thread unpacked-path scratch */
#define FNN_GEMM_ITEM_TILES 4       /* NR tiles per work item of the unpacked path */
#define FNN_GEMM_MT_MIN (1 << 20)   /* m*n*k below this (~20 us) runs on one thread: a fork
                                     * and join costs more than it saves */
#define FNN_GEMM_ALIGN 64
#define FNN_GEMM_NARROW 16          /* n up to this takes the narrow paths */
#define FNN_GEMM_DOT_KMIN 32        /* dot kernels need k to fill their lanes */
#define FNN_GEMM_ROWS_M 3           /* batches up to this stream B by rows (gemv_rows): at
                                     * m = 4 two threads on 2-row tiles beat it */
#define FNN_GEMM_ROWS_MT_BYTES (512 << 10) /* B bytes from which gemv_rows splits columns:
                                           * 1x784x512 f32 20.4 -> 14.6 us on 2 threads,
                                           * 3x784x512 26.0 -> 26.2 (09:20 UTC, idle) */

static int fnn_thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int fnn_num_threads(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* flag := 1 from any thread (every writer stores the same value) */
#ifdef _OPENMP
#define FNN_SET_FLAG(flag) do { _Pragma("omp atomic write") flag = 1; } while (0)
#else
#define FNN_SET_FLAG(flag) ((flag) = 1)
#endif

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* Split n into equal blocks of at most bmax: k = 784 as 4 x 196, not 3 x 256 + 16,
 * so no K panel is a short one that reloads C for little work */
static ptrdiff_t fnn_even_block(ptrdiff_t bmax, ptrdiff_t n)
{
    ptrdiff_t nblk = FNN_CDIV(n, bmax);
    return nblk > 1 ? FNN_CDIV(n, nblk) : bmax;
}

/* Bytes of each thread's packed-B panel and A micro-panel */
static void ws_parts(size_t es, int mr, int nr, int kc, int nc, ptrdiff_t n, ptrdiff_t k,
                     size_t *b_bytes, size_t *a_bytes)
{
    size_t kk = (size_t)FNN_MIN((ptrdiff_t)kc, k), nn = (size_t)FNN_MIN((ptrdiff_t)nc, n);
    *b_bytes = round_up(kk * round_up(nn, (size_t)nr) * es, FNN_GEMM_ALIGN);
    *a_bytes = round_up((size_t)mr * kk * es, FNN_GEMM_ALIGN);
}

size_t fnn_gemm_ws_bytes(int elem_size, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, int nthreads)
{
    const fnn_ktable *t = fnn_kt;
    size_t bb, ab, half = (size_t)(elem_size == 4 ? t->s_nr : t->d_nr) / 2;
    if (m <= 0 || n <= 0 || k <= 0) return 0;
    if (n <= FNN_GEMM_NARROW) /* op(B) zero-padded to half a tile, or op(B)^T for the dots */
        return FNN_GEMM_ALIGN + round_up((size_t)k * FNN_MAX((size_t)n, half) * elem_size, 64);
    if (elem_size == 4)
        ws_parts(4, t->s_rows[0], t->s_nr, t->s_kc, t->s_nc, n, k, &bb, &ab);
    else
        ws_parts(8, t->d_rows[0], t->d_nr, t->d_kc, t->d_nc, n, k, &bb, &ab);
    return FNN_GEMM_ALIGN + (size_t)FNN_MAX(nthreads, 1) * (bb + ab);
}

int fnn_gemm_act_supported(int act)
{
    return act == FNN_ACT_IDENTITY || act == FNN_ACT_RELU || act == FNN_ACT_LEAKY_RELU ||
           act == FNN_ACT_SIGMOID || act == FNN_ACT_TANH;
}

/* Threads for this call: OpenMP's max, 1 for small work, capped by the workspace */
static int gemm_threads(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, size_t spare, size_t a_bytes)
{
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    if ((double)m * (double)n * (double)k < FNN_GEMM_MT_MIN) nt = 1;
    if (a_bytes && spare / a_bytes < (size_t)nt) nt = (int)(spare / a_bytes);
    return nt;
}

/* C := act(alpha op(A) op(B) + beta C + bias) via C^T := op(B)^T op(A)^T when n is tiny:
 * vectors then run along m instead of wasting most lanes of an NR-wide tile */
#define FNN_GEMM_TRANSPOSE(g)                                                                 \
    do {                                                                                      \
        const void *pt = (g).a;                                                               \
        ptrdiff_t st = (g).m;                                                                 \
        int tt = (g).ta;                                                                      \
        (g).a = (g).b, (g).b = pt, (g).m = (g).n, (g).n = st, st = (g).lda;                   \
        (g).lda = (g).ldb, (g).ldb = st, (g).ta = !(g).tb, (g).tb = !tt, (g).ct = 1;          \
        (g).nb = (g).n;                                                                       \
    } while (0)

/* Threads for a small-batch GEMV streaming b_bytes of B: all of them from
 * FNN_GEMM_ROWS_MT_BYTES, where each core then streams its share of B's columns */
static int gemv_threads(size_t b_bytes)
{
#ifdef _OPENMP
    if (b_bytes >= FNN_GEMM_ROWS_MT_BYTES && !omp_in_parallel()) return omp_get_max_threads();
#endif
    (void)b_bytes;
    return 1;
}

#define T float
#define FN(x) x##_s
#include "gemm_tmpl.h"
#undef T
#undef FN

#define T double
#define FN(x) x##_d
#include "gemm_tmpl.h"
#undef T
#undef FN

/* Threads of the packed path for a call that is neither a GEMV nor narrow, and its
 * per-thread workspace parts; 0: the unpacked path (a skinny batch reading B in place, or
 * too little workspace for one thread's packing). rows: the table's MR first. */
static int packed_threads(size_t es, const int *rows, int nr, int kc, int nc, int trans_b,
                          ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const void *ws, size_t ws_bytes,
                          size_t *bb, size_t *ab)
{
    uintptr_t base = ((uintptr_t)ws + FNN_GEMM_ALIGN - 1) & ~(uintptr_t)(FNN_GEMM_ALIGN - 1);
    size_t spare = 0;
    ws_parts(es, rows[0], nr, kc, nc, n, k, bb, ab);
    if (ws && ws_bytes >= (base - (uintptr_t)ws)) spare = ws_bytes - (base - (uintptr_t)ws);
    if (m <= 32 && !trans_b) return 0;
    return FNN_MAX(gemm_threads(m, n, k, spare, *bb + *ab), 0);
}

ptrdiff_t fnn_gemm_kpanel(int elem_size, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                          const void *ws, size_t ws_bytes)
{
    const fnn_ktable *t = fnn_kt;
    const int *rows = elem_size == 4 ? t->s_rows : t->d_rows;
    int nr = elem_size == 4 ? t->s_nr : t->d_nr, kc = elem_size == 4 ? t->s_kc : t->d_kc;
    int nc = elem_size == 4 ? t->s_nc : t->d_nc;
    size_t bb, ab;
    if (m <= 0 || n <= 0 || k <= 0 || (m <= FNN_GEMM_ROWS_M && !trans_b) ||
        n <= FNN_GEMM_NARROW)
        return 0;
    if (packed_threads((size_t)elem_size, rows, nr, kc, nc, trans_b, m, n, k, ws, ws_bytes,
                       &bb, &ab) < 1)
        return fnn_even_block(FNN_MIN(kc, FNN_GEMM_STACK / nr), k);
    return fnn_even_block(kc, k);
}

/* Path choice depends on the shape and the workspace only, never on the thread count:
 * skinny problems (batch <= 32 with B in place, or n <= 16) skip packing. */
#define FNN_GEMM_DRIVER(FNAME, T, P)                                                          \
    void FNAME(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, T alpha,     \
               const T *a, ptrdiff_t lda, const T *b, ptrdiff_t ldb, T beta, T *c,            \
               ptrdiff_t ldc, const fnn_epilogue *epi, void *ws, size_t ws_bytes)             \
    {                                                                                         \
        const fnn_ktable *t = fnn_kt;                                                         \
        gemm_args_##P g = {trans_a != 0, trans_b != 0, t->P##_rows[0], t->P##_nr, t->P##_kc,  \
                           t->P##_nc, 0, m, n, k, lda, ldb, ldc, n, alpha, beta, a, b, c, epi, \
                           t->P##gemm_ukr, t->P##_rows, t->P##pack_t, t->P##gemm_epi_tile,     \
                           t->P##gemm_dact_tile, t->P##gemm_dot, t->dot_rows, t->dot_nj,       \
                           t->P##gemm_ukr_pk};                                                \
        size_t bb, ab;                                                                        \
        uintptr_t base = ((uintptr_t)ws + FNN_GEMM_ALIGN - 1) & ~(uintptr_t)(FNN_GEMM_ALIGN - 1); \
        int nt;                                                                               \
        if (m <= 0 || n <= 0) return;                                                         \
        if (k <= 0 || alpha == 0) {                                                           \
            no_product_##P(&g);                                                               \
            return;                                                                           \
        }                                                                                     \
        if (m <= FNN_GEMM_ROWS_M && !trans_b &&                                               \
            gemv_##P(&g, t->P##gemv_rows, &t->P##gemv_ukr, t->P##_gemv_nr))                   \
            return;                                                                           \
        if (n <= FNN_GEMM_NARROW) {                                                           \
            size_t off = base - (uintptr_t)ws;                                                \
            gemm_narrow_##P(&g, t->P##gemm_ukr_half, (T *)base,                               \
                            ws && ws_bytes > off ? (ws_bytes - off) / sizeof(T) : 0);         \
            return;                                                                           \
        }                                                                                     \
        nt = packed_threads(sizeof(T), &t->P##_rows[0], t->P##_nr, t->P##_kc, t->P##_nc,       \
                            trans_b, m, n, k, ws, ws_bytes, &bb, &ab);                        \
        if (nt < 1)                                                                           \
            gemm_direct_##P(&g, gemm_threads(m, n, k, 0, 0));                                 \
        else                                                                                  \
            gemm_packed_##P(&g, (T *)base, (bb + ab) / sizeof(T), bb / sizeof(T), nt);        \
    }

FNN_GEMM_DRIVER(fnn_sgemm, float, s)
FNN_GEMM_DRIVER(fnn_dgemm, double, d)
