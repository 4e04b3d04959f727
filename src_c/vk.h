/* Internal: per-ISA variants of hot loops (vk_body.h) and their dispatch on the
 * selected kernel-table row (fnn_kt->isa), so FASTNN_ISA / set_isa reach them. They are
 * chosen per call rather than stored in fnn_ktable to keep cpu.c untouched by this
 * family; moving them into the table is a mechanical change. */
#ifndef FNN_VK_H
#define FNN_VK_H
#include "fastnn.h"

#define VK_DECLS(sfx)                                                                 \
    float fnn_sexpsum_##sfx(const float *x, float *y, size_t n, float m);             \
    void fnn_ssigmoid_range_##sfx(const float *x, float *y, size_t n, int silu);      \
    double fnn_sbce_range_##sfx(const float *pred, const float *target, float *grad,  \
                                size_t n, float gs, int logits);                      \
    void fnn_philox_keep64_##sfx(uint64_t seed, uint64_t step, uint64_t b0, uint32_t thr, \
                                 uint8_t *keep);                                      \
    void fnn_sadam_range_##sfx(float *p, const float *g, float *m, float *v,          \
                               float *vmax, size_t n, const double *k);               \
    void fnn_dadam_range_##sfx(double *p, const double *g, double *m, double *v,      \
                               double *vmax, size_t n, const double *k);              \
    void fnn_sadagrad_range_##sfx(float *p, const float *g, float *sum, size_t n,     \
                                  const double *k);                                   \
    void fnn_dadagrad_range_##sfx(double *p, const double *g, double *sum, size_t n,  \
                                  const double *k);                                   \
    void fnn_srmsprop_range_##sfx(float *p, const float *g, float *sq, float *buf,    \
                                  float *gavg, size_t n, const double *k);            \
    void fnn_drmsprop_range_##sfx(double *p, const double *g, double *sq, double *buf, \
                                  double *gavg, size_t n, const double *k);           \
    void fnn_snzbits_##sfx(const float *x, ptrdiff_t n, uint64_t *bits);                \
    void fnn_dnzbits_##sfx(const double *x, ptrdiff_t n, uint64_t *bits);
VK_DECLS(generic)
#ifdef FNN_X86
VK_DECLS(avx2)
VK_DECLS(avx512)
#define VK_PICK_(name, ...)                                                           \
    (fnn_kt->isa == FNN_ISA_AVX512 ? name##avx512(__VA_ARGS__)                        \
     : fnn_kt->isa == FNN_ISA_AVX2 ? name##avx2(__VA_ARGS__)                          \
                                   : name##generic(__VA_ARGS__))
#else
#define VK_PICK_(name, ...) name##generic(__VA_ARGS__)
#endif
/* VK_PICK(fnn_sexpsum_, args): the variant of the selected path (name expanded first) */
#define VK_PICK(name, ...) VK_PICK_(name, __VA_ARGS__)
#endif /* FNN_VK_H */
