/* CPU-feature detection and the kernel table: the only global state in src_c/. */
#include "fastnn.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(_MSC_VER) && defined(FNN_X86)
#include <immintrin.h>
#include <intrin.h>
#endif

/* Portable C needs no special instructions; width 0 means "scalar/auto-vectorised". */
int fnn_probe_generic(void) { return 0; }

/* Designated initialisers, so each kernel family adds its own lines. */
static const fnn_ktable table_generic = {
    .name = "generic", .isa = FNN_ISA_GENERIC, .probe = fnn_probe_generic,
    /* GEMM (gemm_ukr_generic.c): register tiles, cache blocks, edge/narrow/batch-1 kernels */
    .sgemm_ukr = {fnn_sgemm_ukr_generic_4x8, fnn_sgemm_ukr_generic_2x8, fnn_sgemm_ukr_generic_1x8},
    .dgemm_ukr = {fnn_dgemm_ukr_generic_4x4, fnn_dgemm_ukr_generic_2x4, fnn_dgemm_ukr_generic_1x4},
    .sgemm_ukr_pk = fnn_sgemm_ukr_generic_4x8_pk, .dgemm_ukr_pk = fnn_dgemm_ukr_generic_4x4_pk,
    .s_rows = {4, 2, 1}, .d_rows = {4, 2, 1},
    .s_nr = 8, .s_kc = 256, .s_nc = 512,
    .d_nr = 4, .d_kc = 256, .d_nc = 256,
    .sgemv_ukr = fnn_sgemm_ukr_generic_1x32, .dgemv_ukr = fnn_dgemm_ukr_generic_1x16,
    .s_gemv_nr = 32, .d_gemv_nr = 16,
    .sgemm_ukr_half = {fnn_sgemm_ukr_generic_4x4, fnn_sgemm_ukr_generic_2x4, fnn_sgemm_ukr_generic_1x4},
    .dgemm_ukr_half = {fnn_dgemm_ukr_generic_4x2, fnn_dgemm_ukr_generic_2x2, fnn_dgemm_ukr_generic_1x2},
    .spack_t = NULL, .dpack_t = NULL,
    .sgemm_epi_tile = fnn_sgemm_epi_tile_generic, .dgemm_epi_tile = fnn_dgemm_epi_tile_generic,
    .sgemm_dact_tile = fnn_sgemm_dact_tile_generic, .dgemm_dact_tile = fnn_dgemm_dact_tile_generic,
    .sspg_fwd = fnn_sspg_fwd_generic, .dspg_fwd = fnn_dspg_fwd_generic,
    .sspg_dw = fnn_sspg_dw_generic, .dspg_dw = fnn_dspg_dw_generic,
    .s_sp_nr = 32, .d_sp_nr = 16,
};
#ifdef FNN_X86
static const fnn_ktable table_avx2 = {
    .name = "avx2", .isa = FNN_ISA_AVX2, .probe = fnn_probe_avx2,
    /* GEMM (gemm_ukr_avx2.c): register tiles, cache blocks, edge/narrow/batch-1 kernels */
    .sgemm_ukr = {fnn_sgemm_ukr_avx2_6x16, fnn_sgemm_ukr_avx2_4x16, fnn_sgemm_ukr_avx2_2x16,
                  fnn_sgemm_ukr_avx2_1x16},
    .dgemm_ukr = {fnn_dgemm_ukr_avx2_6x8, fnn_dgemm_ukr_avx2_4x8, fnn_dgemm_ukr_avx2_2x8,
                  fnn_dgemm_ukr_avx2_1x8},
    .sgemm_ukr_pk = fnn_sgemm_ukr_avx2_6x16_pk, .dgemm_ukr_pk = fnn_dgemm_ukr_avx2_6x8_pk,
    .s_rows = {6, 4, 2, 1}, .d_rows = {6, 4, 2, 1},
    .s_nr = 16, .s_kc = 256, .s_nc = 512,
    .d_nr = 8, .d_kc = 256, .d_nc = 256,
    .sgemv_ukr = fnn_sgemm_ukr_avx2_1x64, .dgemv_ukr = fnn_dgemm_ukr_avx2_1x32,
    .s_gemv_nr = 64, .d_gemv_nr = 32,
    .sgemm_ukr_half = {fnn_sgemm_ukr_avx2_6x8, fnn_sgemm_ukr_avx2_4x8, fnn_sgemm_ukr_avx2_2x8,
                  fnn_sgemm_ukr_avx2_1x8},
    .dgemm_ukr_half = {fnn_dgemm_ukr_avx2_6x4, fnn_dgemm_ukr_avx2_4x4, fnn_dgemm_ukr_avx2_2x4,
                  fnn_dgemm_ukr_avx2_1x4},
    .spack_t = fnn_spack_t_avx2, .dpack_t = NULL,
    .sgemm_epi_tile = fnn_sgemm_epi_tile_avx2, .dgemm_epi_tile = fnn_dgemm_epi_tile_avx2,
    .sgemm_dact_tile = fnn_sgemm_dact_tile_avx2, .dgemm_dact_tile = fnn_dgemm_dact_tile_avx2,
    .sspg_fwd = fnn_sspg_fwd_avx2, .dspg_fwd = fnn_dspg_fwd_avx2,
    .sspg_dw = fnn_sspg_dw_avx2, .dspg_dw = fnn_dspg_dw_avx2,
    .s_sp_nr = 32, .d_sp_nr = 16,
};
static const fnn_ktable table_avx512 = {
    .name = "avx512", .isa = FNN_ISA_AVX512, .probe = fnn_probe_avx512,
    /* GEMM (gemm_ukr_avx512.c): register tiles, cache blocks, edge/narrow/batch-1 kernels */
    .sgemm_ukr = {fnn_sgemm_ukr_avx512_12x32, fnn_sgemm_ukr_avx512_10x32,
                  fnn_sgemm_ukr_avx512_8x32, fnn_sgemm_ukr_avx512_4x32,
                  fnn_sgemm_ukr_avx512_2x32, fnn_sgemm_ukr_avx512_1x32},
    .dgemm_ukr = {fnn_dgemm_ukr_avx512_12x16, fnn_dgemm_ukr_avx512_10x16,
                  fnn_dgemm_ukr_avx512_8x16, fnn_dgemm_ukr_avx512_4x16,
                  fnn_dgemm_ukr_avx512_2x16, fnn_dgemm_ukr_avx512_1x16},
    .sgemm_ukr_pk = fnn_sgemm_ukr_avx512_12x32_pk, .dgemm_ukr_pk = fnn_dgemm_ukr_avx512_12x16_pk,
    .s_rows = {12, 10, 8, 4, 2, 1}, .d_rows = {12, 10, 8, 4, 2, 1},
    .s_nr = 32, .s_kc = 512, .s_nc = 512, /* kc 512: 12x512 A panel (24 KiB) still in L1 */
    .d_nr = 16, .d_kc = 192, .d_nc = 256,
    .sgemv_ukr = fnn_sgemm_ukr_avx512_1x128, .dgemv_ukr = fnn_dgemm_ukr_avx512_1x64,
    .s_gemv_nr = 128, .d_gemv_nr = 64,
    .sgemv_rows = fnn_sgemv_rows_avx512, .dgemv_rows = fnn_dgemv_rows_avx512,
    .sgemm_ukr_half = {fnn_sgemm_ukr_avx512_12x16, fnn_sgemm_ukr_avx512_10x16,
                  fnn_sgemm_ukr_avx512_8x16, fnn_sgemm_ukr_avx512_4x16,
                  fnn_sgemm_ukr_avx512_2x16, fnn_sgemm_ukr_avx512_1x16},
    .dgemm_ukr_half = {fnn_dgemm_ukr_avx512_12x8, fnn_dgemm_ukr_avx512_10x8,
                  fnn_dgemm_ukr_avx512_8x8, fnn_dgemm_ukr_avx512_4x8,
                  fnn_dgemm_ukr_avx512_2x8, fnn_dgemm_ukr_avx512_1x8},
    .sgemm_dot = {{fnn_sgemm_dot_avx512_4x5, fnn_sgemm_dot_avx512_4x4, fnn_sgemm_dot_avx512_4x3,
                   fnn_sgemm_dot_avx512_4x2, fnn_sgemm_dot_avx512_4x1},
                  {fnn_sgemm_dot_avx512_1x5, fnn_sgemm_dot_avx512_1x4, fnn_sgemm_dot_avx512_1x3,
                   fnn_sgemm_dot_avx512_1x2, fnn_sgemm_dot_avx512_1x1}},
    .dgemm_dot = {{fnn_dgemm_dot_avx512_4x5, fnn_dgemm_dot_avx512_4x4, fnn_dgemm_dot_avx512_4x3,
                   fnn_dgemm_dot_avx512_4x2, fnn_dgemm_dot_avx512_4x1},
                  {fnn_dgemm_dot_avx512_1x5, fnn_dgemm_dot_avx512_1x4, fnn_dgemm_dot_avx512_1x3,
                   fnn_dgemm_dot_avx512_1x2, fnn_dgemm_dot_avx512_1x1}},
    .dot_rows = {4, 1}, .dot_nj = 5,
    .spack_t = fnn_spack_t_avx2, .dpack_t = NULL, /* AVX2 8x8 transpose: packing is store-bound */
    .sgemm_epi_tile = fnn_sgemm_epi_tile_avx512, .dgemm_epi_tile = fnn_dgemm_epi_tile_avx512,
    .sgemm_dact_tile = fnn_sgemm_dact_tile_avx512, .dgemm_dact_tile = fnn_dgemm_dact_tile_avx512,
    .sspg_fwd = fnn_sspg_fwd_avx512, .dspg_fwd = fnn_dspg_fwd_avx512,
    .sspg_dw = fnn_sspg_dw_avx512, .dspg_dw = fnn_dspg_dw_avx512,
    .sgemv_live = fnn_sgemv_live_avx512, .dgemv_live = fnn_dgemv_live_avx512,
    .s_sp_nr = 32, .d_sp_nr = 16,
};
#endif

const fnn_ktable *fnn_kt = &table_generic;

static const fnn_ktable *table_of(int isa)
{
    switch (isa) {
    case FNN_ISA_GENERIC: return &table_generic;
#ifdef FNN_X86
    case FNN_ISA_AVX2: return &table_avx2;
    case FNN_ISA_AVX512: return &table_avx512;
#endif
    default: return NULL;
    }
}

const char *fnn_isa_name(int isa)
{
    static const char *names[FNN_ISA_COUNT] = {"generic", "avx2", "avx512"};
    return (isa >= 0 && isa < FNN_ISA_COUNT) ? names[isa] : "unknown";
}

int fnn_isa_compiled(int isa) { return table_of(isa) != NULL; }

#if defined(_MSC_VER) && defined(FNN_X86)
/* MSVC has no __builtin_cpu_supports: read CPUID leaf 7 and XCR0 ourselves. */
static int msvc_supports(int isa)
{
    int r[4];
    unsigned long long xcr0;
    __cpuid(r, 1);
    if (!(r[2] & (1 << 27)) || !(r[2] & (1 << 12))) return 0; /* OSXSAVE, FMA */
    xcr0 = _xgetbv(0);
    if ((xcr0 & 0x6) != 0x6) return 0;                           /* XMM|YMM state */
    __cpuidex(r, 7, 0);
    if (isa == FNN_ISA_AVX2) return (r[1] >> 5) & 1;
    /* AVX-512 F, DQ, BW, VL and the opmask/ZMM state in XCR0 */
    return ((xcr0 & 0xe6) == 0xe6) && ((r[1] >> 16) & 1) && ((r[1] >> 17) & 1) &&
           ((r[1] >> 30) & 1) && ((r[1] >> 31) & 1);
}
#endif

int fnn_cpu_supports(int isa)
{
    if (isa == FNN_ISA_GENERIC) return 1;
#if defined(FNN_X86) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (isa == FNN_ISA_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == FNN_ISA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#elif defined(_MSC_VER) && defined(FNN_X86)
    if (isa == FNN_ISA_AVX2 || isa == FNN_ISA_AVX512) return msvc_supports(isa);
#endif
    return 0;
}

int fnn_best_isa(void)
{
    int isa;
    for (isa = FNN_ISA_COUNT - 1; isa > FNN_ISA_GENERIC; --isa)
        if (fnn_isa_compiled(isa) && fnn_cpu_supports(isa)) return isa;
    return FNN_ISA_GENERIC;
}

int fnn_set_isa(int isa)
{
    const fnn_ktable *t = table_of(isa);
    if (t == NULL) return -1;
    if (!fnn_cpu_supports(isa)) return -2;
    fnn_kt = t;
    return 0;
}

int fnn_get_isa(void) { return fnn_kt->isa; }

int fnn_openmp_version(void)
{
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}

int fnn_get_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void fnn_set_num_threads(int n)
{
#ifdef _OPENMP
    omp_set_num_threads(n < 1 ? 1 : n);
#else
    (void)n;
#endif
}
