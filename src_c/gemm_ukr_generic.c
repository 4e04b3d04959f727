/* Portable GEMM microkernels: plain C that any compiler vectorises for the baseline ISA.
 * They also define the semantics every tuned microkernel must reproduce. */
#include "fastnn.h"
#include "gemm_act.h"
#include "spg.h"

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

/* The sparse first layer's kernels (see FNN_SPG_VEC), with separate multiplies and adds
 * as the tiles above */
#define FNN_MULADD(a, b, c) ((a) * (b) + (c))
FNN_SPG_SCALAR(sspg_fwd, sspg_dw, float, 32, FNN_MULADD)
FNN_SPG_SCALAR(dspg_fwd, dspg_dw, double, 16, FNN_MULADD)
FNN_SPG_DECL_FWD(fnn_sspg_fwd_generic, float)
{
    sspg_fwd(ng, gk, cnt, row, val, cap, w, ldw, n, P);
}
FNN_SPG_DECL_FWD(fnn_dspg_fwd_generic, double)
{
    dspg_fwd(ng, gk, cnt, row, val, cap, w, ldw, n, P);
}
FNN_SPG_DECL_DW(fnn_sspg_dw_generic, float)
{
    sspg_dw(ng, gk, cnt, row, val, cap, bstride, nrb, rb, m, kp, G, n, dw, lddw);
}
FNN_SPG_DECL_DW(fnn_dspg_dw_generic, double)
{
    dspg_dw(ng, gk, cnt, row, val, cap, bstride, nrb, rb, m, kp, G, n, dw, lddw);
}
