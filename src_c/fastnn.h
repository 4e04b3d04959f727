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

/* One row of the kernel table: every ISA-specific entry point, chosen once. */
typedef struct fnn_ktable {
    const char *name;
    int isa;
    int (*probe)(void); /* vector width in bits of the code compiled for this path */
    /* GEMM microkernels (gemm_ukr_<isa>.c) go here. */
    /* C[r x NR] := alpha * A[r x k] . B[k x NR] + beta * C for r = *_rows[i] (MR first, then
     * smaller row counts for edges, 0-terminated); A(i,p) = a[i*rsa + p*csa], B row p at
     * b + p*rsb (unit stride), beta == 0 never reads C. */
    void (*sgemm_ukr[5])(ptrdiff_t k, float alpha, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                         const float *b, ptrdiff_t rsb, float beta, float *c, ptrdiff_t ldc);
    void (*dgemm_ukr[5])(ptrdiff_t k, double alpha, const double *a, ptrdiff_t rsa,
                         ptrdiff_t csa, const double *b, ptrdiff_t rsb, double beta, double *c,
                         ptrdiff_t ldc);
    int s_rows[5], d_rows[5];   /* rows of each microkernel; s_rows[0] = MR */
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
    /* half-width (NR/2) tiles with the same row ladder, for outputs with n <= NR/2 */
    void (*sgemm_ukr_half[5])(ptrdiff_t k, float alpha, const float *a, ptrdiff_t rsa,
                              ptrdiff_t csa, const float *b, ptrdiff_t rsb, float beta, float *c,
                              ptrdiff_t ldc);
    void (*dgemm_ukr_half[5])(ptrdiff_t k, double alpha, const double *a, ptrdiff_t rsa,
                              ptrdiff_t csa, const double *b, ptrdiff_t rsb, double beta,
                              double *c, ptrdiff_t ldc);
    /* dst[p*ldd + j] = src[j*lds + p] (j < nr; zero up to ldd): packing of a transposed
     * operand, or NULL to use gemm.c's scalar loop */
    void (*spack_t)(ptrdiff_t kc, ptrdiff_t nr, const float *src, ptrdiff_t lds, float *dst,
                    ptrdiff_t ldd);
    void (*dpack_t)(ptrdiff_t kc, ptrdiff_t nr, const double *src, ptrdiff_t lds, double *dst,
                    ptrdiff_t ldd);
    /* epilogue activations on a row, vectorised for this ISA (gemm_act.h) */
    void (*sgemm_act_row)(float *x, ptrdiff_t n, int act, float slope);
    void (*dgemm_act_row)(double *x, ptrdiff_t n, int act, double slope);
    void (*sgemm_dact_row)(float *x, const float *y, ptrdiff_t n, int act, float slope);
    void (*dgemm_dact_row)(double *x, const double *y, ptrdiff_t n, int act, double slope);
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

/* Microkernels: fnn_<s|d>gemm_ukr_<isa>_<rows>x<NR>, the signature of fnn_ktable.sgemm_ukr */
#define FNN_SUKR(name)                                                                       \
    void name(ptrdiff_t k, float alpha, const float *a, ptrdiff_t rsa, ptrdiff_t csa,         \
              const float *b, ptrdiff_t rsb, float beta, float *c, ptrdiff_t ldc)
#define FNN_DUKR(name)                                                                       \
    void name(ptrdiff_t k, double alpha, const double *a, ptrdiff_t rsa, ptrdiff_t csa,       \
              const double *b, ptrdiff_t rsb, double beta, double *c, ptrdiff_t ldc)
/* x := act(x) and x := x * act'(y) on one row, per ISA (gemm_act.h) */
#define FNN_GEMM_ACT_DECL(ISA)                                                               \
    void fnn_sgemm_act_row_##ISA(float *x, ptrdiff_t n, int act, float slope);              \
    void fnn_dgemm_act_row_##ISA(double *x, ptrdiff_t n, int act, double slope);            \
    void fnn_sgemm_dact_row_##ISA(float *x, const float *y, ptrdiff_t n, int act, float slope); \
    void fnn_dgemm_dact_row_##ISA(double *x, const double *y, ptrdiff_t n, int act, double slope);
FNN_GEMM_ACT_DECL(generic)
FNN_GEMM_ACT_DECL(avx2)
FNN_GEMM_ACT_DECL(avx512)
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
FNN_SUKR(fnn_sgemm_ukr_avx512_12x32); FNN_SUKR(fnn_sgemm_ukr_avx512_8x32);
FNN_SUKR(fnn_sgemm_ukr_avx512_4x32); FNN_SUKR(fnn_sgemm_ukr_avx512_2x32);
FNN_SUKR(fnn_sgemm_ukr_avx512_1x32); FNN_SUKR(fnn_sgemm_ukr_avx512_1x128);
FNN_DUKR(fnn_dgemm_ukr_avx512_12x16); FNN_DUKR(fnn_dgemm_ukr_avx512_8x16);
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
FNN_SUKR(fnn_sgemm_ukr_avx512_12x16); FNN_SUKR(fnn_sgemm_ukr_avx512_8x16);
FNN_SUKR(fnn_sgemm_ukr_avx512_4x16); FNN_SUKR(fnn_sgemm_ukr_avx512_2x16);
FNN_SUKR(fnn_sgemm_ukr_avx512_1x16);
FNN_DUKR(fnn_dgemm_ukr_avx512_12x8); FNN_DUKR(fnn_dgemm_ukr_avx512_8x8);
FNN_DUKR(fnn_dgemm_ukr_avx512_4x8); FNN_DUKR(fnn_dgemm_ukr_avx512_2x8);
FNN_DUKR(fnn_dgemm_ukr_avx512_1x8);

#ifdef __cplusplus
}
#endif
#endif /* FASTNN_H */
