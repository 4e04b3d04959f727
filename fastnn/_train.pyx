"""The training driver: lowers a Sequential model to a C plan (src_c/plan.c) and runs
whole chunks of training steps, or batched inference, with the GIL released.

Every buffer the plan touches is allocated here, once, when the plan is built; a chunk
of steps allocates nothing.
"""
from libc.math cimport isfinite
from libc.stdint cimport int32_t, int64_t, uint64_t
from cpython.pythread cimport (WAIT_LOCK, PyThread_acquire_lock, PyThread_allocate_lock,
                               PyThread_free_lock, PyThread_release_lock, PyThread_type_lock)
from libc.stdlib cimport calloc, free
cimport numpy as cnp

import numpy as np

from fastnn._data import zeros_aligned

from fastnn._kernels cimport (
    FNN_ACT_SIGMOID, FNN_OP_ACT, FNN_OP_BATCHNORM, FNN_OP_DENSE, FNN_OP_DROPOUT,
    FNN_OP_LAYERNORM, fnn_dact_fwd, fnn_dplan_predict, fnn_dplan_step, fnn_dsoftmax_fwd,
    fnn_dall_finite, fnn_gemm_ws_bytes, fnn_get_max_threads, fnn_op, fnn_plan, fnn_sact_fwd,
    fnn_sparse_bytes,
    fnn_sall_finite, fnn_splan_predict, fnn_splan_step, fnn_ssoftmax_fwd,
)

include "_isa.pxi"

cnp.import_array()

# Training skips the input columns that are zero in a whole batch (plan.c live_cols): the
# same results, less work on sparse inputs such as MNIST's blank margins. False: never.
# From this many multiply-adds of the first layer's product (batch x n_in x n_out): the
# 8x8 digits' 32 x 64 x 64 step took 15 -> 21 us with the skip, MNIST's 128 x 784 x 512
# one 20% less time.
SKIP_ZERO_INPUTS = True
SKIP_ZERO_MIN = 1 << 22
# Inference of 1-3 rows skips them too (plan.c live_predict), from this many weights in the
# first layer: one GEMV per run of live columns.
SKIP_ZERO_PREDICT_MIN = 1 << 16
# Inference of more rows skips them chunk by chunk (plan.c live_predict_rows), in chunks of
# this many rows, from SKIP_ZERO_MIN multiply-adds a chunk, taking the rows sorted by their
# zero margins (plan.c live_order) when the batch has two chunks or more. 10,000 MNIST rows,
# 784-512-256-10, 1 thread: 105 ms full; chunks of 128 in order 84 ms; sorted, chunks of
# 256 / 128 / 64 rows 78.9 / 79.1 / 77.1 ms.
SKIP_ZERO_PREDICT_CHUNK = 64
# Inference of one row runs the hidden Dense layers on their non-zero inputs alone (plan.c
# live_hidden), from SKIP_ZERO_PREDICT_MIN weights: after ReLU about half are zero, and
# the weight rows they would multiply are not read.
SKIP_ZERO_HIDDEN = True
SKIP_ZERO_PREDICT_SORT = True
# Training batches whose non-zero inputs, paired by adjacent columns, need at most
# SPARSE_INPUT_RATIO of the multiply-adds of their live columns (those not zero in every
# row) run the first layer on those pairs alone (plan.c sp_build), from SKIP_ZERO_MIN
# multiply-adds; else the zero-column skip above. Batches of 128 MNIST digits: 0.33 (19%
# of the pixels are non-zero, in 11,300 row-pairs). A paired multiply-add costs 1.0-1.4
# times a GEMM one (spg.h); 0.6 leaves a margin and was not swept. 0: never.
SPARSE_INPUT_RATIO = 0.6
LOSS_ID = {"mse": 0, "mae": 1, "huber": 2, "binary_cross_entropy": 3, "softmax_cross_entropy": 5}
PLAN_METRICS = ("accuracy", "binary_accuracy", "mse", "mae")


def current_threads():
    """Threads the kernels would use now (plans are sized for it)."""
    return fnn_get_max_threads()


cdef void *_ptr(object a):
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


class Unsupported(Exception):
    """The model has something the C plan does not run (it then trains from Python)."""


def _lower(model):
    """``[(kind, layer), ...]``: the plan's ops, or raise Unsupported."""
    from fastnn import activations as A
    from fastnn.layers import Activation, Dense, Dropout, Flatten
    from fastnn.normalization import BatchNorm, LayerNorm
    ops = []
    for layer in model.layers:
        t = type(layer)
        if t is Dense:
            if layer.train_activation not in A.ACT_ID:
                raise Unsupported(f"{layer!r}: row-wise activation")
            ops.append((FNN_OP_DENSE, layer))
        elif t is Activation:
            if layer.train_activation == "identity":
                continue                      # fused into the loss, or no-op
            if layer.activation not in A.ACT_ID:
                raise Unsupported(f"{layer!r}: row-wise activation")
            ops.append((FNN_OP_ACT, layer))
        elif t is Dropout:
            if layer.rate > 0:
                ops.append((FNN_OP_DROPOUT, layer))
        elif t is BatchNorm:
            ops.append((FNN_OP_BATCHNORM, layer))
        elif t is LayerNorm:
            ops.append((FNN_OP_LAYERNORM, layer))
        elif t is not Flatten:
            raise Unsupported(f"{layer!r} is not a built-in layer")
    if not ops:
        raise Unsupported("no ops")
    return ops


cdef class Plan:
    """A model lowered to C structs with its buffers, for one batch size and thread count."""

    cdef fnn_plan p
    cdef fnn_op *ops
    cdef PyThread_type_lock lock  # predict's buffers serve one call at a time
    cdef list keep
    cdef readonly Py_ssize_t batch
    cdef readonly int nthreads, training
    cdef readonly object dtype
    cdef bint flat  # the model maps [n, n_in] to [n, n_out]: predict_fast may take X as is

    def __cinit__(self):
        self.ops = NULL
        self.lock = PyThread_allocate_lock()
        if self.lock == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.ops)
        if self.lock != NULL:
            PyThread_free_lock(self.lock)

    def __init__(self, model, Py_ssize_t batch, bint training=True):
        from fastnn import activations as A
        cdef fnn_op *op
        cdef fnn_op *prev
        lowered = _lower(model)
        self.batch, self.training, self.dtype = batch, training, model.dtype
        self.nthreads = fnn_get_max_threads()
        self.keep = []
        self.ops = <fnn_op *>calloc(len(lowered), sizeof(fnn_op))
        if self.ops == NULL:
            raise MemoryError()
        self.p.ops, self.p.n_ops = self.ops, len(lowered)
        self.p.batch = batch
        self.p.n_in = int(np.prod(model.input_shape))
        self.p.n_out = int(np.prod(model.output_shape))
        self.flat = len(model.input_shape) == 1 and len(model.output_shape) == 1
        width, widest, ws = self.p.n_in, self.p.n_in, 0
        for i, (kind, layer) in enumerate(lowered):
            op = &self.ops[i]
            op.kind, op.n_in = kind, width
            op.n_out = int(np.prod(layer.output_shape))
            op.need_dx = i > 0
            op.y = self._buf((batch, op.n_out))
            # the plan holds raw pointers into these: keep them alive even if the layer is
            # re-bound (shared by another model that is built again)
            self.keep.append(list(getattr(layer, "params", ())) +
                             list(getattr(layer, "grads", ())) + list(getattr(layer, "buffers", ())))
            if kind == FNN_OP_DENSE:
                ws = max(ws, self._dense(op, layer, A))
            elif kind == FNN_OP_ACT:
                op.act, op.act_param = A.ACT_ID[layer.activation], layer.act_param
            elif kind == FNN_OP_DROPOUT:
                op.rate, op.seed = layer.rate, <uint64_t>layer.seed
                op.mask = self._buf((batch, op.n_out))
            else:
                op.w, op.b = _ptr(layer.params[0]), _ptr(layer.params[1])
                op.dw, op.db = _ptr(layer.grads[0]), _ptr(layer.grads[1])
                op.eps = layer.eps
                stat = op.n_out if kind == FNN_OP_BATCHNORM else batch
                op.mean, op.invstd = self._buf((stat,)), self._buf((stat,))
                if kind == FNN_OP_BATCHNORM:
                    op.momentum = 1.0 - layer.momentum    # kernel: weight of the new value
                    op.unbiased = layer.unbiased
                    op.run_mean, op.run_var = _ptr(layer.buffers[0]), _ptr(layer.buffers[1])
            if i > 0 and kind == FNN_OP_DENSE:
                prev = &self.ops[i - 1]
                prev.dact_fused = prev.kind == FNN_OP_DENSE and prev.act_in_gemm \
                    and prev.act != 0
            width, widest = op.n_out, max(widest, op.n_out)
        self.p.g0, self.p.g1 = self._buf((batch, widest)), self._buf((batch, widest))
        wsa = self._keep(np.empty(ws + 64, np.uint8))
        self.p.ws = <void *>(((<size_t>_ptr(wsa)) + 63) & ~(<size_t>63))
        self.p.ws_bytes = ws
        if SKIP_ZERO_INPUTS and self.ops[0].kind == FNN_OP_DENSE:
            self.p.live_runs = <ptrdiff_t *>_ptr(self._keep(np.zeros(self.p.n_in + 2, np.intp)))
            self.p.live_predict_min = SKIP_ZERO_PREDICT_MIN
            ch = SKIP_ZERO_PREDICT_CHUNK
            if not training and 0 < ch <= batch and \
                    ch * self.p.n_in * self.ops[0].n_out >= SKIP_ZERO_MIN:
                self.p.live_chunk = ch
                self._live_buffers(min(batch, 2 * ch - 1), self.nthreads)
                if SKIP_ZERO_PREDICT_SORT and batch >= 2 * ch:
                    self.p.live_perm = <ptrdiff_t *>_ptr(self._keep(
                        np.zeros(4 * batch + self.p.n_in + 2, np.intp)))
                    self.p.xg = self._buf((self.nthreads, min(batch, 2 * ch - 1),
                                           self.p.n_in))
        hidden = [self.ops[i].n_in for i in range(1, self.p.n_ops)
                  if self.ops[i].kind == FNN_OP_DENSE]
        if SKIP_ZERO_HIDDEN and not training and hidden:
            self.p.live_idx = <ptrdiff_t *>_ptr(self._keep(np.zeros(max(hidden), np.intp)))
            self.p.live_predict_min = SKIP_ZERO_PREDICT_MIN
        if training:
            self._training(model, batch)

    @property
    def live_hidden_calls(self):
        """Hidden Dense ops that one-row inference ran on their non-zero inputs alone
        (SKIP_ZERO_HIDDEN)."""
        return self.p.live_hidden_calls

    @property
    def live_steps(self):
        """Steps (and inference batches) that skipped the batch's all-zero input columns
        (SKIP_ZERO_INPUTS)."""
        return self.p.live_steps

    cdef void _live_buffers(self, Py_ssize_t rows, int copies):
        """Buffers of the zero-column skip (plan.c live_cols) for up to ``rows`` rows;
        ``copies`` > 1: one set per thread, and a 1-thread GEMM workspace each (inference
        splitting its chunks over the threads, plan.c live_split)."""
        ni, no, e = self.p.n_in, self.ops[0].n_out, self.dtype.itemsize
        self.p.live_min = SKIP_ZERO_MIN
        self.p.live_pre = <ptrdiff_t *>_ptr(self._keep(np.zeros(copies * (ni + 1), np.intp)))
        self.p.live_runs = <ptrdiff_t *>_ptr(self._keep(np.zeros(copies * (ni + 2), np.intp)))
        self.p.live_sum = self._buf((copies, ni))
        self.p.xc = self._buf((copies, rows, ni))
        self.p.wc = self._buf((copies, ni, no))
        if copies > 1:
            wsb = (fnn_gemm_ws_bytes(e, rows, no, ni, 1) + 63) // 64 * 64
            wsa = self._keep(np.empty(copies * wsb + 64, np.uint8))
            self.p.live_ws = <void *>(((<size_t>_ptr(wsa)) + 63) & ~(<size_t>63))
            self.p.live_ws_bytes = wsb
            self.p.live_threads = copies

    cdef void _sparse_buffers(self, Py_ssize_t rows):
        """Buffers of the sparse first layer (plan.c sp_build) for up to ``rows`` rows."""
        ni, t = self.p.n_in, self.nthreads
        self.p.sp_ratio, self.p.sp_threads = SPARSE_INPUT_RATIO, t
        nbytes = fnn_sparse_bytes(rows, ni, self.dtype.itemsize, t)
        self.p.sp_buf = <void *>_ptr(self._keep(np.zeros(nbytes, np.uint8)))

    @property
    def sparse_steps(self):
        """Steps that ran the first layer on the batch's non-zero inputs alone
        (SPARSE_INPUT_RATIO)."""
        return self.p.sp_steps

    cdef void *_buf(self, shape):
        return _ptr(self._keep(zeros_aligned(shape, self.dtype)))

    cdef object _keep(self, a):
        self.keep.append(a)
        return a

    cdef size_t _dense(self, fnn_op *op, layer, A):
        act = layer.train_activation
        op.act, op.act_param = A.ACT_ID[act], layer.act_param
        op.act_in_gemm = act in A.GEMM_FUSABLE
        if not op.act_in_gemm and act != "identity":
            op.z = self._buf((self.batch, op.n_out))
        op.w, op.dw = _ptr(layer.params[0]), _ptr(layer.grads[0])
        if layer.use_bias:
            op.b, op.db = _ptr(layer.params[1]), _ptr(layer.grads[1])
        for reg, attr in ((layer.kernel_regularizer, "w"), (layer.bias_regularizer, "b")):
            if reg is not None and attr == "w":
                op.l1, op.l2 = reg.l1, reg.l2
            elif reg is not None:
                op.bias_l1, op.bias_l2 = reg.l1, reg.l2
        e, b, ni, no, t = self.dtype.itemsize, self.batch, op.n_in, op.n_out, self.nthreads
        return max(fnn_gemm_ws_bytes(e, b, no, ni, t), fnn_gemm_ws_bytes(e, ni, no, b, t),
                   fnn_gemm_ws_bytes(e, b, ni, no, t))

    def _training(self, model, Py_ssize_t batch):
        from fastnn import optimizers as O
        loss, opt = model.loss, model.optimizer
        self.p.labels = loss.name == "softmax_cross_entropy"
        self.p.loss = LOSS_ID[loss.name] + (1 if getattr(loss, "from_logits", False) else 0)
        self.p.reduction = 0 if loss.reduction == "mean" else 1
        self.p.loss_param = getattr(loss, "delta", getattr(loss, "label_smoothing", 0.0))
        self.p.xb = self._buf((batch, self.p.n_in))
        self.p.yb = self._buf((batch, self.p.n_out))
        self.p.swb = self._buf((batch,))
        self.p.lb = <int64_t *>_ptr(self._keep(np.zeros(batch, np.int64)))
        if SKIP_ZERO_INPUTS and self.ops[0].kind == FNN_OP_DENSE:
            self._live_buffers(batch, 1)
            if SPARSE_INPUT_RATIO > 0:
                self._sparse_buffers(batch)
        opt._bind(model.params)
        s = opt.state
        if isinstance(opt, O.SGD):
            self.p.opt, st = 0, [s.get("momentum_buffer")]
            hp, flags = (opt.momentum, opt.dampening, opt.weight_decay, 0), int(opt.nesterov)
        elif isinstance(opt, O.Adagrad):
            self.p.opt, st = 1, [s["sum"]]
            hp, flags = (opt.lr_decay, opt.eps, opt.weight_decay, 0), 0
        elif isinstance(opt, O.RMSProp):
            self.p.opt, st = 2, [s["square_avg"], s.get("momentum_buffer"), s.get("grad_avg")]
            hp, flags = (opt.rho, opt.eps, opt.weight_decay, opt.momentum), int(opt.centered)
        elif isinstance(opt, O.Adam):
            self.p.opt, st = 3, [s["m"], s["v"], s.get("vmax")]
            hp = (opt.beta1, opt.beta2, opt.eps, opt.weight_decay)
            flags = int(opt.decoupled) | (int(opt.amsgrad) << 1)
        else:
            raise Unsupported(f"optimizer {opt!r}")
        for i in range(4):
            self.p.hp[i] = hp[i]
        self.p.opt_flags = flags
        for i in range(3):
            self.p.state[i] = _ptr(st[i]) if i < len(st) else NULL
        self.keep.append(st)
        self.p.clipnorm = opt.clipnorm or 0.0
        self.p.clipvalue = opt.clipvalue or 0.0
        self.p.params, self.p.grads = _ptr(model.params), _ptr(model.grads)
        self.keep.append((model.params, model.grads))
        self.p.n_params = model.params.size

    def run(self, X, Y, SW, const int64_t[::1] order, Py_ssize_t bs, Py_ssize_t first,
            Py_ssize_t count, int64_t step0, int64_t opt_step0, const double[::1] lrs,
            double[::1] stats):
        """Run ``count`` steps from step ``first`` of the epoch; return how many had a
        finite loss (the first non-finite one stops the chunk, without an update)."""
        if not self.training:
            raise RuntimeError("this plan was built for inference")
        cdef Py_ssize_t n = X.shape[0], s, lo, hi, done = 0
        cdef double loss
        cdef bint dbl = self.dtype == np.float64
        cdef void *xp = _ptr(X)
        cdef void *yp = _ptr(Y)
        cdef void *swp = _ptr(SW)
        if bs > self.batch or lrs.shape[0] < count or stats.shape[0] < 5 or \
                (first + count - 1) * bs >= n or order.shape[0] != n:
            raise ValueError("inconsistent plan.run arguments")
        self.p.has_sw = SW is not None
        self.p.labels = Y.dtype == np.int64
        with nogil:
            for s in range(count):
                lo = (first + s) * bs
                hi = min(lo + bs, n)
                if dbl:
                    loss = fnn_dplan_step(&self.p, <const double *>xp, yp, <const double *>swp,
                                          &order[lo], hi - lo, step0 + s + 1,
                                          opt_step0 + s + 1, lrs[s], &stats[0])
                else:
                    loss = fnn_splan_step(&self.p, <const float *>xp, yp, <const float *>swp,
                                          &order[lo], hi - lo, step0 + s + 1,
                                          opt_step0 + s + 1, lrs[s], &stats[0])
                if not isfinite(loss):
                    break
                done += 1
        return done

    def predict(self, X, out, output_act=None):
        """out := model(X) in inference mode, in batches of the plan's size, then the
        loss's output activation (None, "softmax" or "sigmoid") on each batch."""
        cdef Py_ssize_t n = X.shape[0], lo, m
        cdef Py_ssize_t ni = self.p.n_in, no = self.p.n_out
        cdef char *xp = <char *>_ptr(X)
        cdef char *op = <char *>_ptr(out)
        cdef Py_ssize_t e = self.dtype.itemsize
        cdef bint dbl = self.dtype == np.float64
        cdef int act = 0 if output_act is None else 1 if output_act == "softmax" else \
            2 if output_act == "sigmoid" else -1
        if out.shape[0] != n or X.size != n * ni or out.size != n * no or act < 0:
            raise ValueError("inconsistent plan.predict arguments")
        with nogil:  # the model's cached plan may be called from several threads at once
            PyThread_acquire_lock(self.lock, WAIT_LOCK)
            lo = 0
            while lo < n:
                m = min(self.batch, n - lo)
                if dbl:
                    _predict_d(&self.p, <const double *>(xp + lo * ni * e), m,
                               <double *>(op + lo * no * e), act)
                else:
                    _predict_s(&self.p, <const float *>(xp + lo * ni * e), m,
                               <float *>(op + lo * no * e), act)
                lo += m
            PyThread_release_lock(self.lock)
        return out


    def predict_fast(self, X, Py_ssize_t batch_size, bint allow_nonfinite, output_act):
        """``model.predict(X, batch_size)`` when X needs nothing done to it: a C-contiguous,
        aligned, native-byte-order [n, n_in] array of the plan's dtype, finite (unless
        allowed), at the plan's thread count, and batches this plan runs as a plan for min(batch_size, n) would: its batch
        is that, or n <= batch <= batch_size (one chunk of n rows either way, so a plan
        built for 1024-row predicts also serves single samples). Else None, and the caller
        takes the general path, which converts X or raises the error that names the
        problem. Checked in C: a single-sample predict is ~25 us, the Python checks were 8."""
        cdef cnp.ndarray A
        cdef cnp.npy_intp dims[2]
        cdef Py_ssize_t n
        cdef bint dbl = self.dtype == np.float64
        if not self.flat or type(X) is not np.ndarray:
            return None
        A = <cnp.ndarray>X
        if (cnp.PyArray_NDIM(A) != 2 or not cnp.PyArray_IS_C_CONTIGUOUS(A)
                or not cnp.PyArray_ISBEHAVED_RO(A)  # aligned, native byte order
                or cnp.PyArray_TYPE(A) != (cnp.NPY_FLOAT64 if dbl else cnp.NPY_FLOAT32)):
            return None
        n = cnp.PyArray_DIM(A, 0)
        if n == 0 or cnp.PyArray_DIM(A, 1) != self.p.n_in or fnn_get_max_threads() != self.nthreads:
            return None
        if min(batch_size, n) != self.batch and not n <= self.batch <= batch_size:
            return None
        if not allow_nonfinite and not (
                fnn_dall_finite(<const double *>cnp.PyArray_DATA(A), n * self.p.n_in) if dbl
                else fnn_sall_finite(<const float *>cnp.PyArray_DATA(A), n * self.p.n_in)):
            return None
        dims[0], dims[1] = n, self.p.n_out
        return self.predict(A, cnp.PyArray_EMPTY(2, dims, cnp.PyArray_TYPE(A), 0), output_act)


cdef void _predict_s(fnn_plan *p, const float *x, Py_ssize_t m, float *y, int act) noexcept nogil:
    fnn_splan_predict(p, x, m, y)
    if act == 1:
        fnn_ssoftmax_fwd(y, y, m, p.n_out)
    elif act == 2:
        fnn_sact_fwd(FNN_ACT_SIGMOID, 0, y, y, m * p.n_out)


cdef void _predict_d(fnn_plan *p, const double *x, Py_ssize_t m, double *y, int act) noexcept nogil:
    fnn_dplan_predict(p, x, m, y)
    if act == 1:
        fnn_dsoftmax_fwd(y, y, m, p.n_out)
    elif act == 2:
        fnn_dact_fwd(FNN_ACT_SIGMOID, 0, y, y, m * p.n_out)
