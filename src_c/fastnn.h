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

#ifdef __cplusplus
}
#endif
#endif /* FASTNN_H */
