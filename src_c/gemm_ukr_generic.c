/* Portable GEMM microkernels: plain C that any compiler vectorises for the baseline ISA.
 * They also define the semantics every tuned microkernel must reproduce. */
#include "fastnn.h"
#include "gemm_act.h"

FNN_GEMM_ACT_ROWS(generic)

/* One body for both dtypes: the tile stays in a local array the compiler keeps in
 * registers; A is read through (rsa, csa) so packed panels and raw rows share it. */
#define FNN_UKR_GENERIC(NAME, T, MR, NR) FNN_UKR_GENERIC_BODY(NAME, T, MR, NR, , )
/* ... and NAME_pk, which also stores each B row it reads into bpk packed (row p at
 * bpk + p * NR): see FNN_UKR_VEC_PK */
#define FNN_UKR_GENERIC_PK(NAME, T, MR, NR)                                               \
    FNN_UKR_GENERIC_BODY(NAME##_pk, T, MR, NR, T *bpk FNN_COMMA,                          \
                         for (j = 0; j < NR; ++j) bpk[p * NR + j] = bp[j];)
#define FNN_COMMA ,
#define FNN_UKR_GENERIC_BODY(NAME, T, MR, NR, PK_ARG, PK_STORE)                           \
    void NAME(ptrdiff_t k, T alpha, const T *a, ptrdiff_t rsa, ptrdiff_t csa, const T *b, \
              ptrdiff_t rsb, PK_ARG T beta, T *c, ptrdiff_t ldc)                          \
    {                                                                                     \
        T acc[MR][NR] = {{0}};                                                            \
        ptrdiff_t p;                                                                      \
        int i, j;                                                                         \
        for (p = 0; p < k; ++p) {                                                         \
            const T *bp = b + p * rsb;                                                    \
            PK_STORE                                                                      \
            for (i = 0; i < MR; ++i) {                                                    \
                T ai = a[i * rsa + p * csa];                                              \
                for (j = 0; j < NR; ++j) acc[i][j] += ai * bp[j];                         \
            }                                                                             \
        }                                                                                 \
        for (i = 0; i < MR; ++i)                                                          \
            for (j = 0; j < NR; ++j)                                                      \
                c[i * ldc + j] = beta == 0 ? alpha * acc[i][j]                            \
                                           : alpha * acc[i][j] + beta * c[i * ldc + j];   \
    }

/* C[MRx8] := alpha * A[MRxk] . B[kx8] + beta * C */
FNN_UKR_GENERIC(fnn_sgemm_ukr_generic_4x8, float, 4, 8)
FNN_UKR_GENERIC(fnn_sgemm_ukr_generic_2x8, float, 2, 8)
FNN_UKR_GENERIC(fnn_sgemm_ukr_generic_1x8, float, 1, 8)
FNN_UKR_GENERIC_PK(fnn_sgemm_ukr_generic_4x8, float, 4, 8) /* packs B as it goes */
FNN_UKR_GENERIC(fnn_sgemm_ukr_generic_1x32, float, 1, 32) /* batch 1 */
/* C[MRx4] := alpha * A[MRxk] . B[kx4] + beta * C (float64) */
FNN_UKR_GENERIC(fnn_dgemm_ukr_generic_4x4, double, 4, 4)
FNN_UKR_GENERIC(fnn_dgemm_ukr_generic_2x4, double, 2, 4)
FNN_UKR_GENERIC(fnn_dgemm_ukr_generic_1x4, double, 1, 4)
FNN_UKR_GENERIC_PK(fnn_dgemm_ukr_generic_4x4, double, 4, 4)
FNN_UKR_GENERIC(fnn_dgemm_ukr_generic_1x16, double, 1, 16) /* batch 1 */
/* half-width tiles for narrow outputs: C[MRx4] (float32), C[MRx2] (float64) */
FNN_UKR_GENERIC(fnn_sgemm_ukr_generic_4x4, float, 4, 4)
FNN_UKR_GENERIC(fnn_sgemm_ukr_generic_2x4, float, 2, 4)
FNN_UKR_GENERIC(fnn_sgemm_ukr_generic_1x4, float, 1, 4)
FNN_UKR_GENERIC(fnn_dgemm_ukr_generic_4x2, double, 4, 2)
FNN_UKR_GENERIC(fnn_dgemm_ukr_generic_2x2, double, 2, 2)
FNN_UKR_GENERIC(fnn_dgemm_ukr_generic_1x2, double, 1, 2)

/* c[0, n) := Σ_q val[q] · B[idx[q], :] (+ c) for n <= NR: a sparse row times B, summed as
 * the tiles above sum a K panel (see FNN_SPROW_VEC) */
#define FNN_SPROW_GENERIC(NAME, T, NR)                                                    \
    void NAME(ptrdiff_t nnz, const int32_t *idx, const T *val, const T *b, ptrdiff_t ldb, \
              ptrdiff_t n, T *c, int add)                                                 \
    {                                                                                     \
        T acc[NR];                                                                        \
        ptrdiff_t q, j;                                                                   \
        for (j = 0; j < n; ++j) acc[j] = 0;                                               \
        for (q = 0; q < nnz; ++q) {                                                       \
            const T x = val[q], *bq = b + (ptrdiff_t)idx[q] * ldb;                        \
            for (j = 0; j < n; ++j) acc[j] += x * bq[j];                                  \
        }                                                                                 \
        for (j = 0; j < n; ++j) c[j] = add ? acc[j] + c[j] : acc[j];                      \
    }
FNN_SPROW_GENERIC(fnn_sspmv_row_generic, float, 32)
FNN_SPROW_GENERIC(fnn_dspmv_row_generic, double, 16)
