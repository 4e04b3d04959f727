/* fastnn C kernels: every prototype lives here.
 *
 * Conventions (see ../shared/DESIGN.md): row-major, X[batch, features], W[in, out],
 * b[out]. Names are fnn_<s|d><op>[_variant]; both float32 (s) and float64 (d) exist.
 * Kernels never allocate in hot paths and never touch Python. Callers (the Cython
 * wrappers) validate shapes before calling, so kernels trust their arguments.
 */
#ifndef FASTNN_H
#define FASTNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------
 * CPU features, instruction-set dispatch and threads (cpu.c, cpu_<isa>.c)
 * ---------------------------------------------------------------------------- */
enum { FNN_ISA_GENERIC = 0, FNN_ISA_AVX2 = 1, FNN_ISA_AVX512 = 2, FNN_ISA_COUNT = 3 };

#define FNN_DOT_NJ 5 /* widest dot microkernel (columns) */

/* One row of the kernel table: every ISA-specific entry point, chosen once. */
typedef struct fnn_ktable {
    const char *name;
    int isa;
    int (*probe)(void); /* vector width in bits of the code compiled for this path */
    /* GEMM microkernels (gemm_ukr_<isa>.c) go here. */
    /* C[r x NR] := alpha * A[r x k] . B[k x NR] + beta * C for r = *_rows[i] (MR first, then
     * smaller row counts for edges, 0-terminated); A(i,p) = a[i*rsa + p*csa], B row p at
     * b + p*rsb (unit stride), beta == 0 never reads C. */
    void (*sgemm_ukr[6])(ptrdiff_t k, float alpha, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                         const float *b, ptrdiff_t rsb, float beta, float *c, ptrdiff_t ldc);
    void (*dgemm_ukr[6])(ptrdiff_t k, double alpha, const double *a, ptrdiff_t rsa,
                         ptrdiff_t csa, const double *b, ptrdiff_t rsb, double beta, double *c,
                         ptrdiff_t ldc);
    /* the MR-row microkernel that also stores each row of B it reads into bpk, packed
     * (row p at bpk + p * NR): B is read in place at row stride rsb */
    void (*sgemm_ukr_pk)(ptrdiff_t k, float alpha, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                         const float *b, ptrdiff_t rsb, float *bpk, float beta, float *c,
                         ptrdiff_t ldc);
    void (*dgemm_ukr_pk)(ptrdiff_t k, double alpha, const double *a, ptrdiff_t rsa,
                         ptrdiff_t csa, const double *b, ptrdiff_t rsb, double *bpk, double beta,
                         double *c, ptrdiff_t ldc);
    int s_rows[6], d_rows[6];   /* rows of each microkernel; s_rows[0] = MR */
    int s_nr, s_kc, s_nc;       /* float32 tile width and cache blocks */
    int d_nr, d_kc, d_nc;       /* float64 tile width and cache blocks */
    /* one-row (GEMV, batch-1) microkernels: 1 x *_gemv_nr, enough accumulators to hide
     * FMA latency when only one row of A exists; same signature */
    void (*sgemv_ukr)(ptrdiff_t k, float alpha, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                      const float *b, ptrdiff_t rsb, float beta, float *c, ptrdiff_t ldc);
    void (*dgemv_ukr)(ptrdiff_t k, double alpha, const double *a, ptrdiff_t rsa,
                      ptrdiff_t csa, const double *b, ptrdiff_t rsb, double beta, double *c,
                      ptrdiff_t ldc);
    int s_gemv_nr, d_gemv_nr;
    /* Y[m x n] := alpha * X[m x k] . W[k x n] + beta * Y for m <= 4, X(i,p) = x[i*rsx +
     * p*csx], W rows streamed in order (batch 1-4); NULL: the gemv_ukr tiles above */
    void (*sgemv_rows)(ptrdiff_t m, ptrdiff_t k, ptrdiff_t n, float alpha, const float *x,
                       ptrdiff_t rsx, ptrdiff_t csx, const float *w, ptrdiff_t ldw, float beta,
                       float *y, ptrdiff_t ldy);
    void (*dgemv_rows)(ptrdiff_t m, ptrdiff_t k, ptrdiff_t n, double alpha, const double *x,
                       ptrdiff_t rsx, ptrdiff_t csx, const double *w, ptrdiff_t ldw,
                       double beta, double *y, ptrdiff_t ldy);
    /* half-width (NR/2) tiles with the same row ladder, for outputs with n <= NR/2 */
    void (*sgemm_ukr_half[6])(ptrdiff_t k, float alpha, const float *a, ptrdiff_t rsa,
                              ptrdiff_t csa, const float *b, ptrdiff_t rsb, float beta, float *c,
                              ptrdiff_t ldc);
    void (*dgemm_ukr_half[6])(ptrdiff_t k, double alpha, const double *a, ptrdiff_t rsa,
                              ptrdiff_t csa, const double *b, ptrdiff_t rsb, double beta,
                              double *c, ptrdiff_t ldc);
    /* dot microkernels for n <= 16 with A rows in place: C[r x c] := alpha * A[r x k] .
     * Bt[c x k]^T + beta * C, vectors along k (rsa = lda, csa = 1, rsb = Bt row stride),
     * for r = dot_rows[i] (MR, then 1) and c = dot_nj - j columns; NULL if none */
    void (*sgemm_dot[2][FNN_DOT_NJ])(ptrdiff_t k, float alpha, const float *a, ptrdiff_t rsa,
                                     ptrdiff_t csa, const float *b, ptrdiff_t rsb, float beta,
                                     float *c, ptrdiff_t ldc);
    void (*dgemm_dot[2][FNN_DOT_NJ])(ptrdiff_t k, double alpha, const double *a, ptrdiff_t rsa,
                                     ptrdiff_t csa, const double *b, ptrdiff_t rsb, double beta,
                                     double *c, ptrdiff_t ldc);
    int dot_rows[2], dot_nj;
    /* dst[p*ldd + j] = src[j*lds + p] (j < nr; zero up to ldd): packing of a transposed
     * operand, or NULL to use gemm.c's scalar loop */
    void (*spack_t)(ptrdiff_t kc, ptrdiff_t nr, const float *src, ptrdiff_t lds, float *dst,
                    ptrdiff_t ldd);
    void (*dpack_t)(ptrdiff_t kc, ptrdiff_t nr, const double *src, ptrdiff_t lds, double *dst,
                    ptrdiff_t ldd);
    /* GEMM epilogue, vectorised for this ISA (gemm_act.h): C tile := act(C + bias) (bias
     * may be NULL), with check returning 1 if some C + bias is NaN or +-inf (0 without);
     * and the backward mode C tile := (C + bias) * act'(Y), Y [mr x nr] at y (stride ldy) */
    int (*sgemm_epi_tile)(float *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr, const float *bias,
                          int act, float slope, int check);
    int (*dgemm_epi_tile)(double *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr,
                          const double *bias, int act, double slope, int check);
    int (*sgemm_dact_tile)(float *c, ptrdiff_t ldc, const float *y, ptrdiff_t ldy, ptrdiff_t mr,
                           ptrdiff_t nr, const float *bias, int act, float slope, int check);
    int (*dgemm_dact_tile)(double *c, ptrdiff_t ldc, const double *y, ptrdiff_t ldy,
                           ptrdiff_t mr, ptrdiff_t nr, const double *bias, int act, double slope,
                           int check);
    /* The first layer on sparse inputs (plan.c sp_*), on groups of two adjacent input
     * columns: the forward product into a row block's tile P and the weight gradient, for
     * n <= *_sp_nr columns at a time; each output one chain of FMAs in k order from zero
     * per K panel, as the GEMM's, so the results are the full product's (see spg.h) */
    void (*sspg_fwd)(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt, const uint8_t *row,
                     const float *val, ptrdiff_t cap, const float *w, ptrdiff_t ldw,
                     ptrdiff_t n, float *P);
    void (*dspg_fwd)(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt, const uint8_t *row,
                     const double *val, ptrdiff_t cap, const double *w, ptrdiff_t ldw,
                     ptrdiff_t n, double *P);
    void (*sspg_dw)(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt, const uint8_t *row,
                    const float *val, ptrdiff_t cap, ptrdiff_t bstride, ptrdiff_t nrb,
                    ptrdiff_t rb, ptrdiff_t m, ptrdiff_t kp, const float *G, ptrdiff_t n,
                    float *dw, ptrdiff_t lddw);
    void (*dspg_dw)(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt, const uint8_t *row,
                    const double *val, ptrdiff_t cap, ptrdiff_t bstride, ptrdiff_t nrb,
                    ptrdiff_t rb, ptrdiff_t m, ptrdiff_t kp, const double *G, ptrdiff_t n,
                    double *dw, ptrdiff_t lddw);
    int s_sp_nr, d_sp_nr; /* 128 bytes on every ISA: plan.c sizes its tiles so */
    /* one-row GEMV over the live inputs idx[0..nl) alone, each output one FMA chain from
     * zero in k order (plan.c live_hidden, gvl.h); only where the one-row GEMM sums so
     * too (sgemv_rows), else NULL */
    void (*sgemv_live)(ptrdiff_t nl, const ptrdiff_t *idx, const float *x, const float *w,
                       ptrdiff_t ldw, ptrdiff_t n, float *y);
    void (*dgemv_live)(ptrdiff_t nl, const ptrdiff_t *idx, const double *x, const double *w,
                       ptrdiff_t ldw, ptrdiff_t n, double *y);
} fnn_ktable;

extern const fnn_ktable *fnn_kt;   /* the selected row; generic until fnn_set_isa */

const char *fnn_isa_name(int isa);
int fnn_isa_compiled(int isa);     /* 1 if this build contains the path */
int fnn_cpu_supports(int isa);     /* 1 if this CPU (and OS) can run it */
int fnn_best_isa(void);            /* widest path that is compiled and supported */
int fnn_set_isa(int isa);          /* 0 ok; -1 not compiled; -2 not supported */
int fnn_get_isa(void);

int fnn_probe_generic(void);
int fnn_probe_avx2(void);
int fnn_probe_avx512(void);

int fnn_openmp_version(void);      /* _OPENMP date, 0 when built without OpenMP */
int fnn_get_max_threads(void);     /* omp_get_max_threads(), 1 without OpenMP */
void fnn_set_num_threads(int n);   /* omp_set_num_threads(n), n >= 1 */

/* ---- activation ids (shared by gemm epilogues and act.c) ---- */
enum { FNN_ACT_IDENTITY = 0, FNN_ACT_STEP = 1, FNN_ACT_SIGMOID = 2, FNN_ACT_TANH = 3, FNN_ACT_RELU = 4,
       FNN_ACT_LEAKY_RELU = 5, FNN_ACT_ELU = 6, FNN_ACT_GELU = 7, FNN_ACT_SILU = 8, FNN_ACT_SOFTPLUS = 9,
       FNN_ACT_COUNT = 10 };

/* ---- GEMM (gemm.c, gemm_ukr_<isa>.c) ---- */
/* What to do with each output tile after its last K panel (see fnn_sgemm). */
typedef struct fnn_epilogue {
    int act;               /* FNN_ACT_*: IDENTITY, RELU, LEAKY_RELU, SIGMOID, TANH */
    double act_param;      /* leaky_relu negative slope */
    const void *bias;      /* [n] same dtype as C, or NULL */
    void *preact;          /* optional [m, ld_preact]: z = alpha*op(A)op(B) + beta*C + bias */
    ptrdiff_t ld_preact;
    const void *dact_y;    /* optional backward mode: C := z * act'(Y), Y = dact_y [m, ld_dact_y] */
    ptrdiff_t ld_dact_y;   /*   the forward output of `act`; act' is computed from Y */
    int *nonfinite;        /* optional: set to 1 if any z is NaN or +-inf (never cleared) */
} fnn_epilogue;

/* 1 if `act` is implemented by the GEMM epilogue (forward and act'(Y)); others act as identity */
int fnn_gemm_act_supported(int act);

/* C := act(alpha * op(A) * op(B) + beta * C + bias); row-major, op = transpose if trans_* */
void fnn_sgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
               const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
               float *c, ptrdiff_t ldc, const fnn_epilogue *epi, void *ws, size_t ws_bytes);
void fnn_dgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
               const double *a, ptrdiff_t lda, const double *b, ptrdiff_t ldb, double beta,
               double *c, ptrdiff_t ldc, const fnn_epilogue *epi, void *ws, size_t ws_bytes);
/* packing workspace for up to nthreads threads with the selected ISA's blocking; 0 if none */
size_t fnn_gemm_ws_bytes(int elem_size, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, int nthreads);
/* The depth kp of the K panels fnn_sgemm / fnn_dgemm (trans_a either) sums this call in:
 * C(i, j) := beta C(i, j) + the panel sums over p in [0, kp), [kp, 2 kp), ..., each panel
 * summed in p order and added in panel order. A caller may skip exact zeros of op(A)'s
 * columns panel by panel, one call per panel, and get the same values. 0 when the call's
 * path sums otherwise (the narrow dot kernels) or makes no such promise (m <= 3). */
ptrdiff_t fnn_gemm_kpanel(int elem_size, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                          const void *ws, size_t ws_bytes);

/* Microkernels: fnn_<s|d>gemm_ukr_<isa>_<rows>x<NR>, the signature of fnn_ktable.sgemm_ukr */
#define FNN_SUKR(name)                                                                       \
    void name(ptrdiff_t k, float alpha, const float *a, ptrdiff_t rsa, ptrdiff_t csa,         \
              const float *b, ptrdiff_t rsb, float beta, float *c, ptrdiff_t ldc)
#define FNN_DUKR(name)                                                                       \
    void name(ptrdiff_t k, double alpha, const double *a, ptrdiff_t rsa, ptrdiff_t csa,       \
              const double *b, ptrdiff_t rsb, double beta, double *c, ptrdiff_t ldc)
#define FNN_SUKR_PK(name)                                                                    \
    void name(ptrdiff_t k, float alpha, const float *a, ptrdiff_t rsa, ptrdiff_t csa,         \
              const float *b, ptrdiff_t rsb, float *bpk, float beta, float *c, ptrdiff_t ldc)
#define FNN_DUKR_PK(name)                                                                    \
    void name(ptrdiff_t k, double alpha, const double *a, ptrdiff_t rsa, ptrdiff_t csa,       \
              const double *b, ptrdiff_t rsb, double *bpk, double beta, double *c,            \
              ptrdiff_t ldc)
FNN_SUKR_PK(fnn_sgemm_ukr_generic_4x8_pk); FNN_DUKR_PK(fnn_dgemm_ukr_generic_4x4_pk);
FNN_SUKR_PK(fnn_sgemm_ukr_avx2_6x16_pk); FNN_DUKR_PK(fnn_dgemm_ukr_avx2_6x8_pk);
FNN_SUKR_PK(fnn_sgemm_ukr_avx512_12x32_pk); FNN_DUKR_PK(fnn_dgemm_ukr_avx512_12x16_pk);
/* the epilogue tile, forward and backward (act') modes, per ISA (gemm_act.h) */
#define FNN_GEMM_ACT_DECL(ISA)                                                               \
    int fnn_sgemm_epi_tile_##ISA(float *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr,        \
                                 const float *bias, int act, float slope, int check);       \
    int fnn_dgemm_epi_tile_##ISA(double *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr,       \
                                 const double *bias, int act, double slope, int check);     \
    int fnn_sgemm_dact_tile_##ISA(float *c, ptrdiff_t ldc, const float *y, ptrdiff_t ldy,    \
                                  ptrdiff_t mr, ptrdiff_t nr, const float *bias, int act,    \
                                  float slope, int check);                                   \
    int fnn_dgemm_dact_tile_##ISA(double *c, ptrdiff_t ldc, const double *y, ptrdiff_t ldy,  \
                                  ptrdiff_t mr, ptrdiff_t nr, const double *bias, int act,   \
                                  double slope, int check);
FNN_GEMM_ACT_DECL(generic)
FNN_GEMM_ACT_DECL(avx2)
FNN_GEMM_ACT_DECL(avx512)
/* the sparse first layer's kernels, per ISA (fnn_ktable.sspg_fwd, spg.h) */
#define FNN_SPG_DECL(ISA)                                                                    \
    void fnn_sspg_fwd_##ISA(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt,              \
                            const uint8_t *row, const float *val, ptrdiff_t cap,              \
                            const float *w, ptrdiff_t ldw, ptrdiff_t n, float *P);            \
    void fnn_dspg_fwd_##ISA(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt,              \
                            const uint8_t *row, const double *val, ptrdiff_t cap,             \
                            const double *w, ptrdiff_t ldw, ptrdiff_t n, double *P);          \
    void fnn_sspg_dw_##ISA(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt,               \
                           const uint8_t *row, const float *val, ptrdiff_t cap,               \
                           ptrdiff_t bstride, ptrdiff_t nrb, ptrdiff_t rb, ptrdiff_t m,       \
                           ptrdiff_t kp, const float *G, ptrdiff_t n, float *dw,              \
                           ptrdiff_t lddw);                                                   \
    void fnn_dspg_dw_##ISA(ptrdiff_t ng, const int32_t *gk, const int32_t *cnt,               \
                           const uint8_t *row, const double *val, ptrdiff_t cap,              \
                           ptrdiff_t bstride, ptrdiff_t nrb, ptrdiff_t rb, ptrdiff_t m,       \
                           ptrdiff_t kp, const double *G, ptrdiff_t n, double *dw,            \
                           ptrdiff_t lddw);
FNN_SPG_DECL(generic)
FNN_SPG_DECL(avx2)
FNN_SPG_DECL(avx512)
/* the one-row GEMV over live inputs, per ISA (fnn_ktable.sgemv_live, gvl.h) */
#define FNN_GVL_DECL_ISA(ISA)                                                                \
    void fnn_sgemv_live_##ISA(ptrdiff_t nl, const ptrdiff_t *idx, const float *x,             \
                              const float *w, ptrdiff_t ldw, ptrdiff_t n, float *y);          \
    void fnn_dgemv_live_##ISA(ptrdiff_t nl, const ptrdiff_t *idx, const double *x,            \
                              const double *w, ptrdiff_t ldw, ptrdiff_t n, double *y);
FNN_GVL_DECL_ISA(avx512)
void fnn_spack_t_avx2(ptrdiff_t kc, ptrdiff_t nr, const float *src, ptrdiff_t lds, float *dst,
                      ptrdiff_t ldd);
FNN_SUKR(fnn_sgemm_ukr_generic_4x8); FNN_SUKR(fnn_sgemm_ukr_generic_2x8);
FNN_SUKR(fnn_sgemm_ukr_generic_1x8); FNN_SUKR(fnn_sgemm_ukr_generic_1x32);
FNN_DUKR(fnn_dgemm_ukr_generic_4x4); FNN_DUKR(fnn_dgemm_ukr_generic_2x4);
FNN_DUKR(fnn_dgemm_ukr_generic_1x4); FNN_DUKR(fnn_dgemm_ukr_generic_1x16);
FNN_SUKR(fnn_sgemm_ukr_avx2_6x16); FNN_SUKR(fnn_sgemm_ukr_avx2_4x16);
FNN_SUKR(fnn_sgemm_ukr_avx2_2x16); FNN_SUKR(fnn_sgemm_ukr_avx2_1x16);
FNN_SUKR(fnn_sgemm_ukr_avx2_1x64);
FNN_DUKR(fnn_dgemm_ukr_avx2_6x8); FNN_DUKR(fnn_dgemm_ukr_avx2_4x8);
FNN_DUKR(fnn_dgemm_ukr_avx2_2x8); FNN_DUKR(fnn_dgemm_ukr_avx2_1x8);
FNN_DUKR(fnn_dgemm_ukr_avx2_1x32);
FNN_SUKR(fnn_sgemm_ukr_avx512_12x32); FNN_SUKR(fnn_sgemm_ukr_avx512_10x32);
FNN_SUKR(fnn_sgemm_ukr_avx512_8x32);
FNN_SUKR(fnn_sgemm_ukr_avx512_4x32); FNN_SUKR(fnn_sgemm_ukr_avx512_2x32);
FNN_SUKR(fnn_sgemm_ukr_avx512_1x32); FNN_SUKR(fnn_sgemm_ukr_avx512_1x128);
FNN_DUKR(fnn_dgemm_ukr_avx512_12x16); FNN_DUKR(fnn_dgemm_ukr_avx512_10x16);
FNN_DUKR(fnn_dgemm_ukr_avx512_8x16);
FNN_DUKR(fnn_dgemm_ukr_avx512_4x16); FNN_DUKR(fnn_dgemm_ukr_avx512_2x16);
FNN_DUKR(fnn_dgemm_ukr_avx512_1x16); FNN_DUKR(fnn_dgemm_ukr_avx512_1x64);
FNN_SUKR(fnn_sgemm_ukr_generic_4x4); FNN_SUKR(fnn_sgemm_ukr_generic_2x4);
FNN_SUKR(fnn_sgemm_ukr_generic_1x4);
FNN_DUKR(fnn_dgemm_ukr_generic_4x2); FNN_DUKR(fnn_dgemm_ukr_generic_2x2);
FNN_DUKR(fnn_dgemm_ukr_generic_1x2);
FNN_SUKR(fnn_sgemm_ukr_avx2_6x8); FNN_SUKR(fnn_sgemm_ukr_avx2_4x8);
FNN_SUKR(fnn_sgemm_ukr_avx2_2x8); FNN_SUKR(fnn_sgemm_ukr_avx2_1x8);
FNN_DUKR(fnn_dgemm_ukr_avx2_6x4); FNN_DUKR(fnn_dgemm_ukr_avx2_4x4);
FNN_DUKR(fnn_dgemm_ukr_avx2_2x4); FNN_DUKR(fnn_dgemm_ukr_avx2_1x4);
FNN_SUKR(fnn_sgemm_ukr_avx512_12x16); FNN_SUKR(fnn_sgemm_ukr_avx512_10x16);
FNN_SUKR(fnn_sgemm_ukr_avx512_8x16);
FNN_SUKR(fnn_sgemm_ukr_avx512_4x16); FNN_SUKR(fnn_sgemm_ukr_avx512_2x16);
FNN_SUKR(fnn_sgemm_ukr_avx512_1x16);
FNN_DUKR(fnn_dgemm_ukr_avx512_12x8); FNN_DUKR(fnn_dgemm_ukr_avx512_10x8);
FNN_DUKR(fnn_dgemm_ukr_avx512_8x8);
FNN_DUKR(fnn_dgemm_ukr_avx512_4x8); FNN_DUKR(fnn_dgemm_ukr_avx512_2x8);
FNN_DUKR(fnn_dgemm_ukr_avx512_1x8);
FNN_SUKR(fnn_sgemm_dot_avx512_4x5); FNN_SUKR(fnn_sgemm_dot_avx512_4x4);
FNN_SUKR(fnn_sgemm_dot_avx512_4x3); FNN_SUKR(fnn_sgemm_dot_avx512_4x2);
FNN_SUKR(fnn_sgemm_dot_avx512_4x1);
FNN_SUKR(fnn_sgemm_dot_avx512_1x5); FNN_SUKR(fnn_sgemm_dot_avx512_1x4);
FNN_SUKR(fnn_sgemm_dot_avx512_1x3); FNN_SUKR(fnn_sgemm_dot_avx512_1x2);
FNN_SUKR(fnn_sgemm_dot_avx512_1x1);
FNN_DUKR(fnn_dgemm_dot_avx512_4x5); FNN_DUKR(fnn_dgemm_dot_avx512_4x4);
FNN_DUKR(fnn_dgemm_dot_avx512_4x3); FNN_DUKR(fnn_dgemm_dot_avx512_4x2);
FNN_DUKR(fnn_dgemm_dot_avx512_4x1);
FNN_DUKR(fnn_dgemm_dot_avx512_1x5); FNN_DUKR(fnn_dgemm_dot_avx512_1x4);
FNN_DUKR(fnn_dgemm_dot_avx512_1x3); FNN_DUKR(fnn_dgemm_dot_avx512_1x2);
FNN_DUKR(fnn_dgemm_dot_avx512_1x1);

void fnn_sgemv_rows_avx512(ptrdiff_t m, ptrdiff_t k, ptrdiff_t n, float alpha, const float *x,
                           ptrdiff_t rsx, ptrdiff_t csx, const float *w, ptrdiff_t ldw,
                           float beta, float *y, ptrdiff_t ldy);
void fnn_dgemv_rows_avx512(ptrdiff_t m, ptrdiff_t k, ptrdiff_t n, double alpha, const double *x,
                           ptrdiff_t rsx, ptrdiff_t csx, const double *w, ptrdiff_t ldw,
                           double beta, double *y, ptrdiff_t ldy);

/* ------------------------------------------------------------------------------
 * Activations (act.c): y := act(x); dx := dy * act'(.) from y, or from x when
 * fnn_act_bwd_uses_x(act) (gelu, silu). param = alpha of leaky_relu / elu.
 * Row-wise softmax / log_softmax over x[rows, cols]. x == y (in place) is allowed.
 * ---------------------------------------------------------------------------- */
int fnn_act_bwd_uses_x(int act);
void fnn_sact_fwd(int act, double param, const float *x, float *y, size_t n);
void fnn_dact_fwd(int act, double param, const double *x, double *y, size_t n);
void fnn_sact_bwd(int act, double param, const float *x, const float *y, const float *dy,
                  float *dx, size_t n);
void fnn_dact_bwd(int act, double param, const double *x, const double *y, const double *dy,
                  double *dx, size_t n);
void fnn_ssoftmax_fwd(const float *x, float *y, size_t rows, size_t cols);
void fnn_dsoftmax_fwd(const double *x, double *y, size_t rows, size_t cols);
void fnn_slog_softmax_fwd(const float *x, float *y, size_t rows, size_t cols);
void fnn_dlog_softmax_fwd(const double *x, double *y, size_t rows, size_t cols);
void fnn_ssoftmax_bwd(const float *y, const float *dy, float *dx, size_t rows, size_t cols);
void fnn_dsoftmax_bwd(const double *y, const double *dy, double *dx, size_t rows, size_t cols);
void fnn_slog_softmax_bwd(const float *y, const float *dy, float *dx, size_t rows, size_t cols);
void fnn_dlog_softmax_bwd(const double *y, const double *dy, double *dx, size_t rows, size_t cols);

/* ------------------------------------------------------------------------------
 * Losses (loss.c): return the reduced loss and write grad = d loss / d pred
 * (grad may be NULL except for softmax_xent). pred/target/grad [n, k]; sw [n] per-
 * sample weights or NULL. MEAN divides by n*k (softmax_xent: by n), SUM does not.
 * ---------------------------------------------------------------------------- */
enum { FNN_REDUCE_MEAN = 0, FNN_REDUCE_SUM = 1 };
double fnn_smse_loss(const float *pred, const float *target, const float *sw, float *grad,
                     size_t n, size_t k, int reduction);
double fnn_dmse_loss(const double *pred, const double *target, const double *sw, double *grad,
                     size_t n, size_t k, int reduction);
double fnn_smae_loss(const float *pred, const float *target, const float *sw, float *grad,
                     size_t n, size_t k, int reduction);
double fnn_dmae_loss(const double *pred, const double *target, const double *sw, double *grad,
                     size_t n, size_t k, int reduction);
double fnn_shuber_loss(const float *pred, const float *target, const float *sw, float *grad,
                       size_t n, size_t k, double delta, int reduction);
double fnn_dhuber_loss(const double *pred, const double *target, const double *sw, double *grad,
                       size_t n, size_t k, double delta, int reduction);
double fnn_sbce_loss(const float *pred, const float *target, const float *sw, float *grad,
                     size_t n, size_t k, int reduction);
double fnn_dbce_loss(const double *pred, const double *target, const double *sw, double *grad,
                     size_t n, size_t k, int reduction);
double fnn_sbce_logits_loss(const float *pred, const float *target, const float *sw, float *grad,
                            size_t n, size_t k, int reduction);
double fnn_dbce_logits_loss(const double *pred, const double *target, const double *sw,
                            double *grad, size_t n, size_t k, int reduction);
/* labels [n] int64 in [0, c) or target [n, c]: exactly one non-NULL; cw [c] or NULL */
double fnn_ssoftmax_xent(const float *logits, const int64_t *labels, const float *target,
                         const float *cw, const float *sw, float *grad, size_t n, size_t c,
                         double smoothing, int reduction);
/* labels [n] int64 in [0, c) or target [n, c]: exactly one non-NULL; cw [c] or NULL */
double fnn_dsoftmax_xent(const double *logits, const int64_t *labels, const double *target,
                         const double *cw, const double *sw, double *grad, size_t n, size_t c,
                         double smoothing, int reduction);

/* ------------------------------------------------------------------------------
 * Reductions, regularisation, clipping (reduce.c): fixed partitions, results
 * bit-identical for any thread count. Penalties return their value and add their
 * gradient into g (g may be NULL): L2 = lam sum p^2 (grad 2 lam p), L1 = lam sum |p|.
 * ---------------------------------------------------------------------------- */
void fnn_sbias_grad(const float *dy, float *db, size_t n, size_t k, int accumulate);
void fnn_dbias_grad(const double *dy, double *db, size_t n, size_t k, int accumulate);
int fnn_sall_finite(const float *x, size_t n);
int fnn_dall_finite(const double *x, size_t n);
double fnn_ssum_sq(const float *x, size_t n);
double fnn_dsum_sq(const double *x, size_t n);
double fnn_sgrad_norm(const float *g, size_t n);
double fnn_dgrad_norm(const double *g, size_t n);
double fnn_sl2_penalty(const float *p, float *g, size_t n, double lam);
double fnn_dl2_penalty(const double *p, double *g, size_t n, double lam);
double fnn_sl1_penalty(const float *p, float *g, size_t n, double lam);
double fnn_dl1_penalty(const double *p, double *g, size_t n, double lam);
void fnn_sclip_value(float *g, size_t n, double clip);
void fnn_dclip_value(double *g, size_t n, double clip);
double fnn_sclip_norm(float *g, size_t n, double max_norm);
double fnn_dclip_norm(double *g, size_t n, double max_norm);
void fnn_smul(const float *x, const float *a, float *out, size_t n);
void fnn_dmul(const double *x, const double *a, double *out, size_t n);

/* ------------------------------------------------------------------------------
 * Normalisation (norm.c): batch norm over rows of x[n, c] (mean/invstd/running [c]),
 * layer norm over columns of x[n, d] (mean/invstd [n], gamma/beta [d]).
 * ---------------------------------------------------------------------------- */
void fnn_sbatch_norm_fwd_train(const float *x, const float *gamma, const float *beta, float *y,
                               float *mean, float *invstd, float *run_mean, float *run_var,
                               size_t n, size_t c, double momentum, double eps,
                               int unbiased);
void fnn_dbatch_norm_fwd_train(const double *x, const double *gamma, const double *beta,
                               double *y, double *mean, double *invstd, double *run_mean,
                               double *run_var, size_t n, size_t c, double momentum, double eps,
                               int unbiased);
void fnn_sbatch_norm_fwd_eval(const float *x, const float *gamma, const float *beta, float *y,
                              const float *run_mean, const float *run_var, size_t n, size_t c,
                              double eps);
void fnn_dbatch_norm_fwd_eval(const double *x, const double *gamma, const double *beta, double *y,
                              const double *run_mean, const double *run_var, size_t n, size_t c,
                              double eps);
void fnn_sbatch_norm_bwd(const float *x, const float *dy, const float *gamma, const float *mean,
                         const float *invstd, float *dx, float *dgamma, float *dbeta, size_t n,
                         size_t c);
void fnn_dbatch_norm_bwd(const double *x, const double *dy, const double *gamma,
                         const double *mean, const double *invstd, double *dx, double *dgamma,
                         double *dbeta, size_t n, size_t c);
void fnn_slayer_norm_fwd(const float *x, const float *gamma, const float *beta, float *y,
                         float *mean, float *invstd, size_t n, size_t d, double eps);
void fnn_dlayer_norm_fwd(const double *x, const double *gamma, const double *beta, double *y,
                         double *mean, double *invstd, size_t n, size_t d, double eps);
void fnn_slayer_norm_bwd(const float *x, const float *dy, const float *gamma, const float *mean,
                         const float *invstd, float *dx, float *dgamma, float *dbeta, size_t n,
                         size_t d);
void fnn_dlayer_norm_bwd(const double *x, const double *dy, const double *gamma,
                         const double *mean, const double *invstd, double *dx, double *dgamma,
                         double *dbeta, size_t n, size_t d);

/* ------------------------------------------------------------------------------
 * Counter-based RNG and dropout (rng.c): Philox4x32-10; element i of stream
 * (seed, step) is word i%4 of block (counter = {i/4 lo, i/4 hi, step lo, step hi},
 * key = {seed lo, seed hi}); keep iff (word >> 8) >= fnn_dropout_threshold(p).
 * Dropout writes mask = keep / (1 - p) and y = x * mask (x, y may be NULL);
 * backward is dx = dy * mask (fnn_<s|d>mul).
 * ---------------------------------------------------------------------------- */
void fnn_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
uint32_t fnn_dropout_threshold(double p);
void fnn_sdropout_fwd(const float *x, float *y, float *mask, size_t n, double p, uint64_t seed,
                      uint64_t step);
void fnn_ddropout_fwd(const double *x, double *y, double *mask, size_t n, double p, uint64_t seed,
                      uint64_t step);

/* ------------------------------------------------------------------------------
 * Optimizer steps over a flat arena (optim.c), torch.optim semantics, step >= 1,
 * one parallel pass. State arrays have n elements; unused ones may be NULL.
 * Denormal results and inputs are flushed to zero while a step runs (x86, on by
 * default; fnn_set_flush_denormal(0) keeps IEEE's): returns whether it is supported.
 * ---------------------------------------------------------------------------- */
int fnn_set_flush_denormal(int on);
int fnn_get_flush_denormal(void);
int fnn_flush_denormal_supported(void);
void fnn_ssgd_step(float *p, const float *g, float *buf, size_t n, int64_t step, double lr,
                   double momentum, double dampening, double weight_decay, int nesterov);
void fnn_dsgd_step(double *p, const double *g, double *buf, size_t n, int64_t step, double lr,
                   double momentum, double dampening, double weight_decay, int nesterov);
void fnn_sadagrad_step(float *p, const float *g, float *sum, size_t n, int64_t step, double lr,
                       double lr_decay, double eps, double weight_decay);
void fnn_dadagrad_step(double *p, const double *g, double *sum, size_t n, int64_t step, double lr,
                       double lr_decay, double eps, double weight_decay);
void fnn_srmsprop_step(float *p, const float *g, float *sq, float *buf, float *gavg, size_t n,
                       int64_t step, double lr, double alpha, double eps, double weight_decay,
                       double momentum, int centered);
void fnn_drmsprop_step(double *p, const double *g, double *sq, double *buf, double *gavg,
                       size_t n, int64_t step, double lr, double alpha, double eps,
                       double weight_decay, double momentum, int centered);
void fnn_sadam_step(float *p, const float *g, float *m, float *v, float *vmax, size_t n,
                    int64_t step, double lr, double beta1, double beta2, double eps,
                    double weight_decay, int decoupled, int amsgrad);
void fnn_dadam_step(double *p, const double *g, double *m, double *v, double *vmax, size_t n,
                    int64_t step, double lr, double beta1, double beta2, double eps,
                    double weight_decay, int decoupled, int amsgrad);


/* ------------------------------------------------------------------------------
 * The compiled training plan (plan.c): a model lowered to a list of ops over planned
 * buffers; one call runs a whole training step. Built and owned by fastnn/_train.pyx.
 * ---------------------------------------------------------------------------- */
enum { FNN_OP_DENSE = 0, FNN_OP_ACT = 1, FNN_OP_DROPOUT = 2, FNN_OP_BATCHNORM = 3,
       FNN_OP_LAYERNORM = 4 };
enum { FNN_LOSS_MSE = 0, FNN_LOSS_MAE = 1, FNN_LOSS_HUBER = 2, FNN_LOSS_BCE = 3,
       FNN_LOSS_BCE_LOGITS = 4, FNN_LOSS_SOFTMAX_XENT = 5 };
enum { FNN_OPT_SGD = 0, FNN_OPT_ADAGRAD = 1, FNN_OPT_RMSPROP = 2, FNN_OPT_ADAM = 3 };

typedef struct fnn_op {
    int kind;              /* FNN_OP_* */
    int act;               /* FNN_ACT_* applied by this op (dense: after the bias) */
    int act_in_gemm;       /* dense: the activation runs in the GEMM epilogue */
    int dact_fused;        /* the next dense op's input-gradient GEMM applies this act' */
    int need_dx;           /* compute the input gradient (false for the first op) */
    double act_param;
    ptrdiff_t n_in, n_out;
    void *w, *b, *dw, *db; /* dense kernel [n_in, n_out] and bias [n_out] (b may be NULL);
                              norms: gamma, beta [n_out] */
    void *y;               /* output [batch, n_out] */
    void *z;               /* dense pre-activation when act runs outside the GEMM */
    void *mask;            /* dropout keep mask / (1 - rate), [batch, n_out] */
    void *mean, *invstd;   /* norm statistics: [n_out] (batch norm) or [batch] (layer norm) */
    void *run_mean, *run_var;
    double rate, momentum, eps;
    int unbiased;          /* batch norm: the running variance averages the unbiased batch
                              variance (PyTorch), else the biased one (Keras) */
    uint64_t seed;
    double l1, l2, bias_l1, bias_l2;
} fnn_op;

typedef struct fnn_plan {
    int n_ops;
    fnn_op *ops;
    ptrdiff_t batch, n_in, n_out; /* largest batch; model input and output widths */
    void *xb, *yb, *swb;          /* gathered inputs, float targets, sample weights */
    int64_t *lb;                  /* gathered integer labels */
    int labels, has_sw;           /* targets are int64 labels; sample weights given */
    void *g0, *g1;                /* gradient ping-pong buffers [batch, widest] */
    void *ws;                     /* GEMM packing workspace */
    size_t ws_bytes;
    int loss, reduction;
    double loss_param;            /* huber delta or label smoothing */
    int opt, opt_flags;           /* FNN_OPT_*; bit 0 nesterov/centered/decoupled, bit 1 amsgrad */
    double hp[4];                 /* optimizer hyperparameters, see plan.c optimize() */
    double clipnorm, clipvalue;   /* <= 0: off */
    void *params, *grads, *state[3];
    size_t n_params;
    /* Input columns that are zero in the whole batch, skipped by the first op when it is
     * Dense (plan.c live_cols); off when live_pre is NULL */
    double live_min;              /* from this many multiply-adds (batch x n_in x n_out) */
    ptrdiff_t *live_pre;          /* [n_in + 1] live columns before column j */
    ptrdiff_t *live_runs;         /* [n_in + 2] (start, length) of each run of live columns */
    void *live_sum;               /* [n_in] sum of |x| down each column */
    void *xc, *wc;                /* [batch, n_in], [n_in, n_out of op 0]: x's live columns,
                                   * W's live rows, then the live rows of dW */
    int64_t live_steps;           /* steps and inference batches that skipped zero columns
                                   * (a count for tests) */
    double live_predict_min;      /* inference of up to 3 rows skips zero input columns from
                                   * this many weights of op 0 (plan.c live_predict; uses
                                   * live_runs) */
    ptrdiff_t *live_idx;          /* [widest input of ops 1..]: one-row inference runs the
                                   * hidden Dense ops on their non-zero inputs alone (plan.c
                                   * live_hidden, from live_predict_min weights); NULL: off */
    int64_t live_hidden_calls;    /* hidden ops so run (a count for tests) */
    ptrdiff_t live_chunk;         /* inference of more rows skips them chunk by chunk, in
                                   * chunks of this many rows (plan.c live_predict_rows; uses
                                   * live_min and the buffers above, xc of min(batch,
                                   * 2 * live_chunk - 1) rows); <= 0: off */
    int live_threads;             /* > 1: inference splits the chunks over this many threads,
                                   * each with its own copy of xc, wc, live_pre, live_sum and
                                   * live_runs (thread t's after t copies of each) and its own
                                   * GEMM workspace of live_ws_bytes in live_ws */
    void *live_ws;
    size_t live_ws_bytes;
    ptrdiff_t *live_perm;         /* [4 batch + n_in + 2]: inference's sorted row order and
                                   * its scratch (plan.c live_order); NULL: rows as given */
    void *xg;                     /* [live_threads or 1, xc's rows, n_in]: the rows of a
                                   * chunk gathered in that order */
    /* Training batches whose inputs are mostly zeros run the first Dense op on the non-zero
     * entries alone, paired by adjacent columns (plan.c sp_build); off when sp_buf is NULL */
    double sp_ratio;              /* taken when twice the pairs are at most this fraction of
                                   * the live columns' entries */
    void *sp_buf;                 /* fnn_sparse_bytes(batch, n_in, sizeof(T), sp_threads) */
    int sp_threads;               /* threads it has room for (more run it on one) */
    int64_t sp_steps;             /* steps that took it (a count for tests) */
    int sp_on;                    /* the current step takes it */
} fnn_plan;

double fnn_splan_step(fnn_plan *p, const float *X, const void *Y, const float *SW,
                      const int64_t *idx, ptrdiff_t bsz, int64_t step, int64_t opt_step,
                      double lr, double *stats);
double fnn_dplan_step(fnn_plan *p, const double *X, const void *Y, const double *SW,
                      const int64_t *idx, ptrdiff_t bsz, int64_t step, int64_t opt_step,
                      double lr, double *stats);
void fnn_splan_predict(fnn_plan *p, const float *X, ptrdiff_t bsz, float *out);
/* the sparse first layer on its own (plan.c), for tests: where x is not zero (as bits,
 * ceil(n / 64) words), and out := x·B
 * (grad 0; x m x k, B k x n, K panels of kp) or xᵀ·B (grad 1; B m x n, panels of kp rows)
 * through the paired non-zeros and the kernels above, with `buf` of
 * fnn_sparse_bytes(m, k, sizeof(T), threads) bytes; returns the entries (row, pair). */
void fnn_snonzero_bits(const float *x, ptrdiff_t n, uint64_t *bits);
void fnn_dnonzero_bits(const double *x, ptrdiff_t n, uint64_t *bits);
size_t fnn_sparse_bytes(ptrdiff_t m, ptrdiff_t k, int elem_size, int threads);
ptrdiff_t fnn_ssparse_product(const float *x, ptrdiff_t m, ptrdiff_t k, const float *b,
                              ptrdiff_t n, ptrdiff_t kp, int grad, float *out, void *buf,
                              int threads);
ptrdiff_t fnn_dsparse_product(const double *x, ptrdiff_t m, ptrdiff_t k, const double *b,
                              ptrdiff_t n, ptrdiff_t kp, int grad, double *out, void *buf,
                              int threads);
void fnn_dplan_predict(fnn_plan *p, const double *X, ptrdiff_t bsz, double *out);


/* ------------------------------------------------------------------------------
 * Classic single-neuron rules (classic.c)
 * ---------------------------------------------------------------------------- */
size_t fnn_sperceptron_epoch(const float *X, const float *y, float *w, float *b,
                             const int64_t *order, size_t n, size_t d, double lr);
size_t fnn_dperceptron_epoch(const double *X, const double *y, double *w, double *b,
                             const int64_t *order, size_t n, size_t d, double lr);

#ifdef __cplusplus
}
#endif
#endif /* FASTNN_H */
