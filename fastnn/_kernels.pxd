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
        int *nonfinite
    int fnn_gemm_act_supported(int act)
    void fnn_sgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                   const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                   float *c, ptrdiff_t ldc, const fnn_epilogue *epi, void *ws, size_t ws_bytes)
    void fnn_dgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                   double alpha, const double *a, ptrdiff_t lda, const double *b,
                   ptrdiff_t ldb, double beta, double *c, ptrdiff_t ldc,
                   const fnn_epilogue *epi, void *ws, size_t ws_bytes)
    size_t fnn_gemm_ws_bytes(int elem_size, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, int nthreads)

# ---- non-GEMM kernels: act.c, loss.c, reduce.c, norm.c, rng.c, optim.c ----
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t

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
    int fnn_sall_finite(const float *x, size_t n)
    int fnn_dall_finite(const double *x, size_t n)
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
    void fnn_sbatch_norm_fwd_train(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *invstd, float *run_mean, float *run_var, size_t n, size_t c, double momentum, double eps, int unbiased)
    void fnn_dbatch_norm_fwd_train(const double *x, const double *gamma, const double *beta, double *y, double *mean, double *invstd, double *run_mean, double *run_var, size_t n, size_t c, double momentum, double eps, int unbiased)
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
    int fnn_set_flush_denormal(int on)
    int fnn_get_flush_denormal()
    int fnn_flush_denormal_supported()
    void fnn_ssgd_step(float *p, const float *g, float *buf, size_t n, int64_t step, double lr, double momentum, double dampening, double weight_decay, int nesterov)
    void fnn_dsgd_step(double *p, const double *g, double *buf, size_t n, int64_t step, double lr, double momentum, double dampening, double weight_decay, int nesterov)
    void fnn_sadagrad_step(float *p, const float *g, float *sum, size_t n, int64_t step, double lr, double lr_decay, double eps, double weight_decay)
    void fnn_dadagrad_step(double *p, const double *g, double *sum, size_t n, int64_t step, double lr, double lr_decay, double eps, double weight_decay)
    void fnn_srmsprop_step(float *p, const float *g, float *sq, float *buf, float *gavg, size_t n, int64_t step, double lr, double alpha, double eps, double weight_decay, double momentum, int centered)
    void fnn_drmsprop_step(double *p, const double *g, double *sq, double *buf, double *gavg, size_t n, int64_t step, double lr, double alpha, double eps, double weight_decay, double momentum, int centered)
    void fnn_sadam_step(float *p, const float *g, float *m, float *v, float *vmax, size_t n, int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay, int decoupled, int amsgrad)
    void fnn_dadam_step(double *p, const double *g, double *m, double *v, double *vmax, size_t n, int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay, int decoupled, int amsgrad)

# ---- the compiled training plan (plan.c) ----
cdef extern from "fastnn.h" nogil:
    enum:
        FNN_OP_DENSE
        FNN_OP_ACT
        FNN_OP_DROPOUT
        FNN_OP_BATCHNORM
        FNN_OP_LAYERNORM
    ctypedef struct fnn_op:
        int kind, act, act_in_gemm, dact_fused, need_dx
        double act_param
        ptrdiff_t n_in, n_out
        void *w
        void *b
        void *dw
        void *db
        void *y
        void *z
        void *mask
        void *mean
        void *invstd
        void *run_mean
        void *run_var
        double rate, momentum, eps
        int unbiased
        uint64_t seed
        double l1, l2, bias_l1, bias_l2
    ctypedef struct fnn_plan:
        int n_ops
        fnn_op *ops
        ptrdiff_t batch, n_in, n_out
        void *xb
        void *yb
        void *swb
        int64_t *lb
        int labels, has_sw
        void *g0
        void *g1
        void *ws
        size_t ws_bytes
        int loss, reduction
        double loss_param
        int opt, opt_flags
        double hp[4]
        double clipnorm, clipvalue
        void *params
        void *grads
        void *state[3]
        size_t n_params
        double live_min
        ptrdiff_t *live_pre
        ptrdiff_t *live_runs
        void *live_sum
        void *xc
        void *wc
        int64_t live_steps
        double live_predict_min
        ptrdiff_t *live_idx
        int64_t live_hidden_calls
        ptrdiff_t live_chunk
        int live_threads
        void *live_ws
        size_t live_ws_bytes
        ptrdiff_t *live_perm
        void *xg
        double sp_ratio
        void *sp_buf
        int sp_threads
        int64_t sp_steps
        int sp_on
    double fnn_splan_step(fnn_plan *p, const float *X, const void *Y, const float *SW,
                          const int64_t *idx, ptrdiff_t bsz, int64_t step, int64_t opt_step,
                          double lr, double *stats)
    double fnn_dplan_step(fnn_plan *p, const double *X, const void *Y, const double *SW,
                          const int64_t *idx, ptrdiff_t bsz, int64_t step, int64_t opt_step,
                          double lr, double *stats)
    void fnn_splan_predict(fnn_plan *p, const float *X, ptrdiff_t bsz, float *out)
    void fnn_dplan_predict(fnn_plan *p, const double *X, ptrdiff_t bsz, double *out)
    void fnn_snonzero_bits(const float *x, ptrdiff_t n, uint64_t *bits)
    void fnn_dnonzero_bits(const double *x, ptrdiff_t n, uint64_t *bits)
    size_t fnn_sparse_bytes(ptrdiff_t m, ptrdiff_t k, int elem_size, int threads)
    ptrdiff_t fnn_ssparse_product(const float *x, ptrdiff_t m, ptrdiff_t k, const float *b,
                                  ptrdiff_t n, ptrdiff_t kp, int grad, float *out, void *buf,
                                  int threads)
    ptrdiff_t fnn_dsparse_product(const double *x, ptrdiff_t m, ptrdiff_t k, const double *b,
                                  ptrdiff_t n, ptrdiff_t kp, int grad, double *out, void *buf,
                                  int threads)

# ---- classic single-neuron rules (classic.c) ----
cdef extern from "fastnn.h" nogil:
    size_t fnn_sperceptron_epoch(const float *X, const float *y, float *w, float *b,
                                 const int64_t *order, size_t n, size_t d, double lr)
    size_t fnn_dperceptron_epoch(const double *X, const double *y, double *w, double *b,
                                 const int64_t *order, size_t n, size_t d, double lr)
