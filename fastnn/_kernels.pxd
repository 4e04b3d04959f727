# Cython declarations of every C kernel in src_c/fastnn.h, all nogil.
# Keep this file in the same order and sections as fastnn.h.

cdef extern from "fastnn.h" nogil:
    # ---- CPU features, ISA dispatch, threads (cpu.c) ----
    enum:
        FNN_ISA_GENERIC
        FNN_ISA_AVX2
        FNN_ISA_AVX512
        FNN_ISA_COUNT
    const char *fnn_isa_name(int isa)
    int fnn_isa_compiled(int isa)
    int fnn_cpu_supports(int isa)
    int fnn_best_isa()
    int fnn_set_isa(int isa)
    int fnn_get_isa()
    int fnn_probe_generic()
    int fnn_probe_avx2()
    int fnn_probe_avx512()
    int fnn_openmp_version()
    int fnn_get_max_threads()
    void fnn_set_num_threads(int n)

    # ---- activation ids (shared by gemm epilogues and act.c) ----
    enum:
        FNN_ACT_IDENTITY
        FNN_ACT_STEP
        FNN_ACT_SIGMOID
        FNN_ACT_TANH
        FNN_ACT_RELU
        FNN_ACT_LEAKY_RELU
        FNN_ACT_ELU
        FNN_ACT_GELU
        FNN_ACT_SILU
        FNN_ACT_SOFTPLUS
        FNN_ACT_COUNT

    # ---- GEMM (gemm.c, gemm_ukr_<isa>.c) ----
    ctypedef struct fnn_epilogue:
        int act
        double act_param
        const void *bias
        void *preact
        ptrdiff_t ld_preact
        const void *dact_y
        ptrdiff_t ld_dact_y
    int fnn_gemm_act_supported(int act)
    void fnn_sgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                   const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                   float *c, ptrdiff_t ldc, const fnn_epilogue *epi, void *ws, size_t ws_bytes)
    void fnn_dgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                   double alpha, const double *a, ptrdiff_t lda, const double *b,
                   ptrdiff_t ldb, double beta, double *c, ptrdiff_t ldc,
                   const fnn_epilogue *epi, void *ws, size_t ws_bytes)
    size_t fnn_gemm_ws_bytes(int elem_size, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, int nthreads)
