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
