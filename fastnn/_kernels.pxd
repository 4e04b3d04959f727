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


# ---- non-GEMM kernels: act.c, loss.c, reduce.c, norm.c, rng.c, optim.c ----
from libc.stdint cimport int64_t, uint32_t, uint64_t

cdef extern from "fastnn.h" nogil:
    # ---- activations (act.c) ----
    int fnn_act_bwd_uses_x(int act)
    void fnn_sact_fwd(int act, double param, const float *x, float *y, size_t n)
    void fnn_dact_fwd(int act, double param, const double *x, double *y, size_t n)
    void fnn_sact_bwd(int act, double param, const float *x, const float *y, const float *dy, float *dx, size_t n)
    void fnn_dact_bwd(int act, double param, const double *x, const double *y, const double *dy, double *dx, size_t n)
    void fnn_ssoftmax_fwd(const float *x, float *y, size_t rows, size_t cols)
    void fnn_dsoftmax_fwd(const double *x, double *y, size_t rows, size_t cols)
    void fnn_slog_softmax_fwd(const float *x, float *y, size_t rows, size_t cols)
    void fnn_dlog_softmax_fwd(const double *x, double *y, size_t rows, size_t cols)
    void fnn_ssoftmax_bwd(const float *y, const float *dy, float *dx, size_t rows, size_t cols)
    void fnn_dsoftmax_bwd(const double *y, const double *dy, double *dx, size_t rows, size_t cols)
    void fnn_slog_softmax_bwd(const float *y, const float *dy, float *dx, size_t rows, size_t cols)
    void fnn_dlog_softmax_bwd(const double *y, const double *dy, double *dx, size_t rows, size_t cols)
    # ---- losses (loss.c) ----
    enum:
        FNN_REDUCE_MEAN
        FNN_REDUCE_SUM
    double fnn_smse_loss(const float *pred, const float *target, const float *sw, float *grad, size_t n, size_t k, int reduction)
    double fnn_dmse_loss(const double *pred, const double *target, const double *sw, double *grad, size_t n, size_t k, int reduction)
    double fnn_smae_loss(const float *pred, const float *target, const float *sw, float *grad, size_t n, size_t k, int reduction)
    double fnn_dmae_loss(const double *pred, const double *target, const double *sw, double *grad, size_t n, size_t k, int reduction)
    double fnn_shuber_loss(const float *pred, const float *target, const float *sw, float *grad, size_t n, size_t k, double delta, int reduction)
    double fnn_dhuber_loss(const double *pred, const double *target, const double *sw, double *grad, size_t n, size_t k, double delta, int reduction)
    double fnn_sbce_loss(const float *pred, const float *target, const float *sw, float *grad, size_t n, size_t k, int reduction)
    double fnn_dbce_loss(const double *pred, const double *target, const double *sw, double *grad, size_t n, size_t k, int reduction)
    double fnn_sbce_logits_loss(const float *pred, const float *target, const float *sw, float *grad, size_t n, size_t k, int reduction)
    double fnn_dbce_logits_loss(const double *pred, const double *target, const double *sw, double *grad, size_t n, size_t k, int reduction)
    double fnn_ssoftmax_xent(const float *logits, const int64_t *labels, const float *target, const float *cw, const float *sw, float *grad, size_t n, size_t c, double smoothing, int reduction)
    double fnn_dsoftmax_xent(const double *logits, const int64_t *labels, const double *target, const double *cw, const double *sw, double *grad, size_t n, size_t c, double smoothing, int reduction)
    # ---- reductions, regularisation, clipping (reduce.c) ----
    void fnn_sbias_grad(const float *dy, float *db, size_t n, size_t k, int accumulate)
    void fnn_dbias_grad(const double *dy, double *db, size_t n, size_t k, int accumulate)
    double fnn_ssum_sq(const float *x, size_t n)
    double fnn_dsum_sq(const double *x, size_t n)
    double fnn_sgrad_norm(const float *g, size_t n)
    double fnn_dgrad_norm(const double *g, size_t n)
    double fnn_sl2_penalty(const float *p, float *g, size_t n, double lam)
    double fnn_dl2_penalty(const double *p, double *g, size_t n, double lam)
    double fnn_sl1_penalty(const float *p, float *g, size_t n, double lam)
    double fnn_dl1_penalty(const double *p, double *g, size_t n, double lam)
    void fnn_sclip_value(float *g, size_t n, double clip)
    void fnn_dclip_value(double *g, size_t n, double clip)
    double fnn_sclip_norm(float *g, size_t n, double max_norm)
    double fnn_dclip_norm(double *g, size_t n, double max_norm)
    void fnn_smul(const float *x, const float *a, float *out, size_t n)
    void fnn_dmul(const double *x, const double *a, double *out, size_t n)
    # ---- normalisation (norm.c) ----
    void fnn_sbatch_norm_fwd_train(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *invstd, float *run_mean, float *run_var, size_t n, size_t c, double momentum, double eps)
    void fnn_dbatch_norm_fwd_train(const double *x, const double *gamma, const double *beta, double *y, double *mean, double *invstd, double *run_mean, double *run_var, size_t n, size_t c, double momentum, double eps)
    void fnn_sbatch_norm_fwd_eval(const float *x, const float *gamma, const float *beta, float *y, const float *run_mean, const float *run_var, size_t n, size_t c, double eps)
    void fnn_dbatch_norm_fwd_eval(const double *x, const double *gamma, const double *beta, double *y, const double *run_mean, const double *run_var, size_t n, size_t c, double eps)
    void fnn_sbatch_norm_bwd(const float *x, const float *dy, const float *gamma, const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta, size_t n, size_t c)
    void fnn_dbatch_norm_bwd(const double *x, const double *dy, const double *gamma, const double *mean, const double *invstd, double *dx, double *dgamma, double *dbeta, size_t n, size_t c)
    void fnn_slayer_norm_fwd(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *invstd, size_t n, size_t d, double eps)
    void fnn_dlayer_norm_fwd(const double *x, const double *gamma, const double *beta, double *y, double *mean, double *invstd, size_t n, size_t d, double eps)
    void fnn_slayer_norm_bwd(const float *x, const float *dy, const float *gamma, const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta, size_t n, size_t d)
    void fnn_dlayer_norm_bwd(const double *x, const double *dy, const double *gamma, const double *mean, const double *invstd, double *dx, double *dgamma, double *dbeta, size_t n, size_t d)
    # ---- RNG and dropout (rng.c) ----
    void fnn_philox4x32_10(const uint32_t *ctr, const uint32_t *key, uint32_t *out)
    uint32_t fnn_dropout_threshold(double p)
    void fnn_sdropout_fwd(const float *x, float *y, float *mask, size_t n, double p, uint64_t seed, uint64_t step)
    void fnn_ddropout_fwd(const double *x, double *y, double *mask, size_t n, double p, uint64_t seed, uint64_t step)
    # ---- optimizers (optim.c) ----
    void fnn_ssgd_step(float *p, const float *g, float *buf, size_t n, int64_t step, double lr, double momentum, double dampening, double weight_decay, int nesterov)
    void fnn_dsgd_step(double *p, const double *g, double *buf, size_t n, int64_t step, double lr, double momentum, double dampening, double weight_decay, int nesterov)
    void fnn_sadagrad_step(float *p, const float *g, float *sum, size_t n, int64_t step, double lr, double lr_decay, double eps, double weight_decay)
    void fnn_dadagrad_step(double *p, const double *g, double *sum, size_t n, int64_t step, double lr, double lr_decay, double eps, double weight_decay)
    void fnn_srmsprop_step(float *p, const float *g, float *sq, float *buf, float *gavg, size_t n, int64_t step, double lr, double alpha, double eps, double weight_decay, double momentum, int centered)
    void fnn_drmsprop_step(double *p, const double *g, double *sq, double *buf, double *gavg, size_t n, int64_t step, double lr, double alpha, double eps, double weight_decay, double momentum, int centered)
    void fnn_sadam_step(float *p, const float *g, float *m, float *v, float *vmax, size_t n, int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay, int decoupled, int amsgrad)
    void fnn_dadam_step(double *p, const double *g, double *m, double *v, double *vmax, size_t n, int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay, int decoupled, int amsgrad)
