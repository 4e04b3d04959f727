"""Functional access to fastnn's kernels on NumPy arrays, for users who write their own loops.

Every function validates its arguments (shape, dtype, contiguity, values) and raises
``ValueError``/``TypeError`` naming the bad argument before any C code runs. NaN or inf
in an input array is an error too, unless the call runs inside ``allow_nonfinite()``,
where they propagate as in NumPy.
Each has a NumPy twin of the same name in ``fastnn._ref`` that defines its maths.
"""

import numpy as np

from fastnn import _checks as _c
from fastnn._checks import allow_nonfinite

__all__ = ["allow_nonfinite"]

# ---- GEMM ----
from fastnn import _gemm  # noqa: E402

__all__ += ["matmul"]


def matmul(a, b, *, trans_a=False, trans_b=False, bias=None, activation=None, alpha=1.0,
           beta=0.0, out=None, preact=None, dact_y=None):
    """C := act(alpha * op(a) @ op(b) + beta * C + bias), fused in one C kernel.

    Parameters
    ----------
    a : ndarray, float32 or float64, shape (m, k), or (k, m) if ``trans_a``
    b : ndarray, same dtype, shape (k, n), or (n, k) if ``trans_b``
        Rows must be contiguous (any row stride >= row length is fine); pass a
        transposed operand through ``trans_a``/``trans_b`` instead of ``x.T``.
    trans_a, trans_b : bool
        ``op(x) = x.T`` when set (forward NN, weight gradient TN, input gradient NT).
    bias : ndarray, shape (n,), optional
    activation : None, str or (str, float)
        ``None``/``"identity"``, ``"relu"``, ``"leaky_relu"`` (slope 0.01, or
        ``("leaky_relu", slope)``), ``"sigmoid"``, ``"tanh"``.
    alpha, beta : float
        ``beta != 0`` accumulates into ``out`` (which must then hold C); ``beta == 0``
        never reads ``out``.
    out : ndarray, shape (m, n), optional
        Filled and returned; a new array when omitted.
    preact : ndarray, shape (m, n), optional
        Receives ``z = alpha*op(a)@op(b) + beta*C + bias`` before the activation.
    dact_y : ndarray, shape (m, n), optional
        Backward mode: ``C := z * act'(Y)`` with Y = ``dact_y`` the forward output of
        ``activation`` (relu: Y>0, leaky_relu: Y>0 ? 1 : slope, sigmoid: Y(1-Y),
        tanh: 1-Y**2, identity: 1).

    Returns
    -------
    out : ndarray, shape (m, n)
    """
    for name, arr in (("a", a), ("b", b), ("bias", bias)):
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "f":
            _c.finite(name, arr)
    return _gemm.matmul(a, b, trans_a=trans_a, trans_b=trans_b, bias=bias,
                        activation=activation, alpha=alpha, beta=beta, out=out,
                        preact=preact, dact_y=dact_y)


# ---- activations ----
# Conventions of every function below (fastnn/_checks.py): float32/float64 only, all
# arrays of one call share a dtype (TypeError otherwise); non-C-contiguous inputs are
# copied; ``out=`` arrays and optimizer state are written in place, so they must be
# C-contiguous and writeable (ValueError otherwise). NaN/inf in data never crash.
from fastnn import _act  # noqa: E402

# name -> (kernel id = FNN_ACT_*, default alpha or None, derivative takes x instead of y)
_ACT = {"identity": (0, None, False), "step": (1, None, False), "sigmoid": (2, None, False),
        "tanh": (3, None, False), "relu": (4, None, False), "leaky_relu": (5, 0.01, False),
        "elu": (6, 1.0, False), "gelu": (7, None, True), "silu": (8, None, True),
        "softplus": (9, None, False)}
ACTIVATION_IDS = {k: v[0] for k, v in _ACT.items()}

_FWD_DOC = """{name} activation, elementwise: {math}.

Parameters
----------
x : ndarray, any shape, float32 or float64
{alpha}out : ndarray, optional
    Same shape and dtype as ``x``, C-contiguous; may be ``x`` itself (in place).

Returns
-------
y : ndarray, shape of ``x``
"""
_BWD_DOC = """Derivative of {name}: ``dx = dy * {name}'(x)``, computed from {src}.

Parameters
----------
{arg} : ndarray, any shape, float32 or float64
    The forward {what} of the activation.
dy : ndarray, shape and dtype of ``{arg}``
    Gradient of the loss with respect to the activation's output.
{alpha}out : ndarray, optional
    Same shape and dtype as ``dy``, C-contiguous; may be ``dy`` (in place).

Returns
-------
dx : ndarray, shape of ``dy``
"""
_MATH = {"identity": "y = x", "step": "y = 1 if x > 0 else 0 (Heaviside; derivative 0)",
         "sigmoid": "y = 1 / (1 + exp(-x))", "tanh": "y = tanh(x)", "relu": "y = max(x, 0)",
         "leaky_relu": "y = x if x >= 0 else alpha x", "elu": "y = x if x >= 0 else "
         "alpha (exp(x) - 1)", "gelu": "y = x Phi(x) (exact, erf)", "silu": "y = x sigmoid(x)"
         " (swish)", "softplus": "y = log(1 + exp(x))"}


def _alpha(name, alpha):
    # y-based derivatives need sign(y) == sign(x): alpha >= 0 (leaky_relu), > 0 (elu)
    return _c.number("alpha", alpha, lo=0.0, lo_open=(name == "elu"))


def _act_fwd(name, x, alpha, out):
    x = _c.array("x", x)
    y = _c.out_or_new("out", out, x.dtype, x.shape)
    _act.act_fwd(_ACT[name][0], alpha, x.reshape(-1), y.reshape(-1))
    return y


def _act_bwd(name, xy, dy, alpha, out):
    xy = _c.array("x" if _ACT[name][2] else "y", xy)
    dy = _c.same_shape("dy", _c.array("dy", dy, xy.dtype), xy.shape)
    dx = _c.out_or_new("out", out, dy.dtype, dy.shape)
    _act.act_bwd(_ACT[name][0], alpha, xy.reshape(-1), dy.reshape(-1), dx.reshape(-1))
    return dx


def _make_act(name):
    default = _ACT[name][1]
    arg, src, what = ("x", "the input x", "input") if _ACT[name][2] else \
        ("y", "the output y (no need to keep x)", "output")
    adoc = f"alpha : float, default {default}\n" if default is not None else ""
    if default is None:
        def fwd(x, out=None):
            return _act_fwd(name, x, 0.0, out)

        def bwd(xy, dy, out=None):
            return _act_bwd(name, xy, dy, 0.0, out)
    else:
        def fwd(x, alpha=default, out=None):
            return _act_fwd(name, x, _alpha(name, alpha), out)

        def bwd(xy, dy, alpha=default, out=None):
            return _act_bwd(name, xy, dy, _alpha(name, alpha), out)
    fwd.__name__ = fwd.__qualname__ = name
    bwd.__name__ = bwd.__qualname__ = name + "_backward"
    fwd.__doc__ = _FWD_DOC.format(name=name, math=_MATH[name], alpha=adoc)
    bwd.__doc__ = _BWD_DOC.format(name=name, src=src, arg=arg, what=what, alpha=adoc)
    return fwd, bwd


for _n in _ACT:
    globals()[_n], globals()[_n + "_backward"] = _make_act(_n)
swish, swish_backward = silu, silu_backward  # noqa: F821 (defined just above)
__all__ += list(_ACT) + [n + "_backward" for n in _ACT] + ["swish", "swish_backward"]


def _rows(x):
    if x.ndim == 0:
        raise ValueError("softmax needs at least 1 dimension, got a 0-d array")
    cols = x.shape[-1]
    return (x.size // cols if cols else 0), cols


def softmax(x, out=None):
    """Softmax over the last axis, stable for large logits (max subtracted).

    Parameters
    ----------
    x : ndarray, shape (..., c), float32 or float64
    out : ndarray, optional, shape and dtype of ``x`` (may be ``x``)

    Returns
    -------
    y : ndarray, shape (..., c); each row sums to 1
    """
    x = _c.array("x", x)
    rows, cols = _rows(x)
    y = _c.out_or_new("out", out, x.dtype, x.shape)
    _act.softmax_fwd(x.reshape(-1), y.reshape(-1), rows, cols, False)
    return y


def log_softmax(x, out=None):
    """Log-softmax over the last axis: ``x - max - log(sum(exp(x - max)))``.

    Parameters
    ----------
    x : ndarray, shape (..., c), float32 or float64
    out : ndarray, optional, shape and dtype of ``x`` (may be ``x``)

    Returns
    -------
    y : ndarray, shape (..., c)
    """
    x = _c.array("x", x)
    rows, cols = _rows(x)
    y = _c.out_or_new("out", out, x.dtype, x.shape)
    _act.softmax_fwd(x.reshape(-1), y.reshape(-1), rows, cols, True)
    return y


def _softmax_bwd(y, dy, out, log):
    y = _c.array("y", y)
    dy = _c.same_shape("dy", _c.array("dy", dy, y.dtype), y.shape)
    rows, cols = _rows(y)
    dx = _c.out_or_new("out", out, y.dtype, y.shape)
    _act.softmax_bwd(y.reshape(-1), dy.reshape(-1), dx.reshape(-1), rows, cols, log)
    return dx


def softmax_backward(y, dy, out=None):
    """Backward of softmax from its output: ``dx = y * (dy - sum(dy * y, axis=-1))``.

    Parameters
    ----------
    y : ndarray, shape (..., c), output of :func:`softmax`
    dy : ndarray, shape (..., c)
    out : ndarray, optional

    Returns
    -------
    dx : ndarray, shape (..., c)
    """
    return _softmax_bwd(y, dy, out, False)


def log_softmax_backward(y, dy, out=None):
    """Backward of log_softmax from its output: ``dx = dy - exp(y) * sum(dy, axis=-1)``.

    Parameters
    ----------
    y : ndarray, shape (..., c), output of :func:`log_softmax`
    dy : ndarray, shape (..., c)
    out : ndarray, optional

    Returns
    -------
    dx : ndarray, shape (..., c)
    """
    return _softmax_bwd(y, dy, out, True)


__all__ += ["softmax", "log_softmax", "softmax_backward", "log_softmax_backward"]


# ---- losses ----
from fastnn import _loss  # noqa: E402

_LOSS_DOC = """{title}

Returns the loss and its gradient with respect to ``{p}`` in one pass.
Loss = sum_i w_i sum_j l_ij, divided by n*k for ``reduction="mean"`` (n samples,
k = elements per sample), as PyTorch does when no weights are given.

Parameters
----------
{p} : ndarray, shape (n, ...), float32 or float64
target : ndarray, shape and dtype of ``{p}``
{extra}sample_weight : ndarray, shape (n,), optional
    Per-sample weights w_i (default 1).
reduction : {{"mean", "sum"}}
out : ndarray, optional
    Where to write the gradient: shape and dtype of ``{p}``, C-contiguous.

Returns
-------
loss : float
grad : ndarray, shape of ``{p}``
"""


def _elementwise_loss(kind, pred, target, delta, sample_weight, reduction, out):
    pred = _c.array("pred", pred)
    target = _c.same_shape("target", _c.array("target", target, pred.dtype), pred.shape)
    red = _c.reduction(reduction)
    n = pred.shape[0] if pred.ndim else 1
    k = pred.size // n if n else 0
    sw = None
    if sample_weight is not None:
        sw = _c.same_shape("sample_weight", _c.array("sample_weight", sample_weight,
                                                     pred.dtype), (n,))
    grad = _c.out_or_new("out", out, pred.dtype, pred.shape)
    loss = _loss.elementwise_loss(kind, pred.reshape(-1), target.reshape(-1), sw,
                                  grad.reshape(-1), n, k, delta, red)
    return loss, grad


def mse_loss(pred, target, sample_weight=None, reduction="mean", out=None):
    return _elementwise_loss(0, pred, target, 0.0, sample_weight, reduction, out)


def mae_loss(pred, target, sample_weight=None, reduction="mean", out=None):
    return _elementwise_loss(1, pred, target, 0.0, sample_weight, reduction, out)


def huber_loss(pred, target, delta=1.0, sample_weight=None, reduction="mean", out=None):
    delta = _c.number("delta", delta, lo=0.0, lo_open=True)
    return _elementwise_loss(2, pred, target, delta, sample_weight, reduction, out)


def binary_cross_entropy(pred, target, sample_weight=None, reduction="mean", out=None):
    return _elementwise_loss(3, pred, target, 0.0, sample_weight, reduction, out)


def binary_cross_entropy_with_logits(logits, target, sample_weight=None, reduction="mean",
                                     out=None):
    return _elementwise_loss(4, logits, target, 0.0, sample_weight, reduction, out)


mse_loss.__doc__ = _LOSS_DOC.format(title="Mean squared error: l = (pred - target)^2.",
                                    p="pred", extra="")
mae_loss.__doc__ = _LOSS_DOC.format(
    title="Mean absolute error: l = |pred - target| (gradient sign(pred - target)).",
    p="pred", extra="")
huber_loss.__doc__ = _LOSS_DOC.format(
    title="Huber loss: d^2/2 for |d| <= delta, delta (|d| - delta/2) beyond (d = pred - "
          "target).", p="pred", extra="delta : float > 0, default 1.0\n")
binary_cross_entropy.__doc__ = _LOSS_DOC.format(
    title="Binary cross-entropy on probabilities, clamped to [1e-7, 1 - 1e-7] so 0 and 1 "
          "are safe.", p="pred", extra="")
binary_cross_entropy_with_logits.__doc__ = _LOSS_DOC.format(
    title="Binary cross-entropy on logits: max(z,0) - z t + log1p(exp(-|z|)), stable for "
          "any finite z.", p="logits", extra="")


def softmax_cross_entropy(logits, labels, class_weight=None, sample_weight=None,
                          label_smoothing=0.0, reduction="mean", out=None):
    """Fused softmax + cross-entropy: loss and gradient w.r.t. the logits in one pass.

    Per row with target weights ``a = class_weight * ((1 - s) t + s / c)``:
    ``loss_i = sum_j a_j (logsumexp(z_i) - z_ij)`` and
    ``grad_ij = softmax(z_i)_j sum(a) - a_j``, times ``sample_weight_i``; ``"mean"``
    divides by n (Keras' sum-over-batch-size, also with class weights). Stable for
    logits of any finite size (max subtracted, log-sum-exp).

    Parameters
    ----------
    logits : ndarray, shape (n, c), float32 or float64
    labels : ndarray, shape (n,) of integers in [0, c), or shape (n, c) soft targets
        (one-hot or probabilities, dtype of ``logits``)
    class_weight : ndarray, shape (c,), optional
    sample_weight : ndarray, shape (n,), optional
    label_smoothing : float in [0, 1]
    reduction : {"mean", "sum"}
    out : ndarray, optional
        Where to write the gradient: shape (n, c), dtype of ``logits``.

    Returns
    -------
    loss : float
    grad : ndarray, shape (n, c)
    """
    logits = _c.array("logits", logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must be 2-D (n, c), got shape {logits.shape}")
    n, c = logits.shape
    red = _c.reduction(reduction)
    sm = _c.number("label_smoothing", label_smoothing, 0.0, 1.0)
    labels_arr = target = cw = sw = None
    lab = labels if isinstance(labels, np.ndarray) else np.asarray(labels)
    if lab.ndim == 1 and lab.dtype.kind in "iu":
        if lab.dtype != np.int64 or not lab.flags.c_contiguous:
            lab = np.ascontiguousarray(lab, np.int64)
        labels_arr = _c.same_shape("labels", lab, (n,))
    elif lab.ndim == 1:
        raise TypeError(f"1-D labels must be integers, got dtype={lab.dtype}")
    else:
        target = _c.same_shape("labels", _c.array("labels", lab, logits.dtype), (n, c))
    if class_weight is not None:
        cw = _c.same_shape("class_weight", _c.array("class_weight", class_weight,
                                                    logits.dtype), (c,))
    if sample_weight is not None:
        sw = _c.same_shape("sample_weight", _c.array("sample_weight", sample_weight,
                                                     logits.dtype), (n,))
    grad = _c.out_or_new("out", out, logits.dtype, (n, c))
    loss = _loss.softmax_xent(logits, labels_arr, target, cw, sw, grad, n, c, sm, red)
    return loss, grad


__all__ += ["mse_loss", "mae_loss", "huber_loss", "binary_cross_entropy",
            "binary_cross_entropy_with_logits", "softmax_cross_entropy"]


# ---- reductions, regularisation, clipping ----
from fastnn import _reduce  # noqa: E402


def bias_grad(dy, out=None, accumulate=False):
    """Bias gradient: column sums ``db_j = sum_i dy_ij`` (fixed order, thread-independent).

    Parameters
    ----------
    dy : ndarray, shape (n, k)
    out : ndarray, shape (k,), optional
    accumulate : bool
        Add into ``out`` instead of overwriting it.

    Returns
    -------
    db : ndarray, shape (k,)
    """
    dy = _c.array("dy", dy)
    if dy.ndim != 2:
        raise ValueError(f"dy must be 2-D (n, k), got shape {dy.shape}")
    if accumulate and out is None:
        raise ValueError("accumulate=True needs out=")
    db = _c.out_or_new("out", out, dy.dtype, (dy.shape[1],))
    _reduce.bias_grad(dy.reshape(-1), db, dy.shape[0], dy.shape[1], bool(accumulate))
    return db


def grad_norm(g):
    """Global L2 norm ``sqrt(sum g^2)`` of an array (e.g. the whole gradient arena).

    Parameters
    ----------
    g : ndarray, any shape

    Returns
    -------
    norm : float
    """
    g = _c.array("g", g)
    return float(np.sqrt(_reduce.sum_sq(g.reshape(-1))))


def _penalty(kind, param, lam, grad):
    param = _c.array("param", param)
    lam = _c.number("lam", lam, lo=0.0)
    if grad is not None:
        grad = _c.inout("grad", grad, param.dtype, param.shape).reshape(-1)
    return _reduce.penalty(kind, param.reshape(-1), grad, lam)


def l2_penalty(param, lam, grad=None):
    """L2 penalty ``lam * sum(param^2)`` (Keras convention); adds ``2 lam param`` into grad.

    Parameters
    ----------
    param : ndarray, any shape
    lam : float >= 0
    grad : ndarray, shape and dtype of ``param``, optional, updated in place

    Returns
    -------
    penalty : float
    """
    return _penalty(2, param, lam, grad)


def l1_penalty(param, lam, grad=None):
    """L1 penalty ``lam * sum|param|``; adds ``lam sign(param)`` into grad.

    Parameters
    ----------
    param : ndarray, any shape
    lam : float >= 0
    grad : ndarray, shape and dtype of ``param``, optional, updated in place

    Returns
    -------
    penalty : float
    """
    return _penalty(1, param, lam, grad)


def clip_by_value(grad, clip):
    """Clip in place to ``[-clip, clip]``; returns ``grad``. NaN stays NaN.

    Parameters
    ----------
    grad : ndarray, any shape, C-contiguous, writeable
    clip : float > 0
    """
    if not isinstance(grad, np.ndarray):
        raise TypeError(f"grad must be a numpy.ndarray, got {type(grad).__name__}")
    _c.array("grad", grad)
    _c.inout("grad", grad, grad.dtype, grad.shape)
    _reduce.clip_value(grad.reshape(-1), _c.number("clip", clip, lo=0.0, lo_open=True))
    return grad


def clip_by_norm(grad, max_norm):
    """Scale in place so ``||grad|| <= max_norm`` (PyTorch ``clip_grad_norm_``).

    Parameters
    ----------
    grad : ndarray, any shape (the whole gradient arena), C-contiguous, writeable
    max_norm : float > 0

    Returns
    -------
    norm : float
        The norm before clipping.
    """
    if not isinstance(grad, np.ndarray):
        raise TypeError(f"grad must be a numpy.ndarray, got {type(grad).__name__}")
    _c.array("grad", grad)
    _c.inout("grad", grad, grad.dtype, grad.shape)
    mn = _c.number("max_norm", max_norm, lo=0.0, lo_open=True)
    return _reduce.clip_norm(grad.reshape(-1), mn)


__all__ += ["bias_grad", "grad_norm", "l2_penalty", "l1_penalty", "clip_by_value",
            "clip_by_norm"]


# ---- normalisation ----
from fastnn import _norm  # noqa: E402


def _norm_args(x, gamma, beta, width):
    x = _c.array("x", x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (n, features), got shape {x.shape}")
    gamma = _c.same_shape("gamma", _c.array("gamma", gamma, x.dtype), (width,))
    beta = _c.same_shape("beta", _c.array("beta", beta, x.dtype), (width,))
    return x, gamma, beta


def batch_norm(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
               eps=1e-5, out=None):
    """Batch normalisation over the batch axis (Ioffe & Szegedy 2015).

    Training: ``y = gamma (x - mu_B) / sqrt(var_B + eps) + beta`` with batch statistics,
    and running stats updated in place, ``r := (1 - momentum) r + momentum stat``
    (PyTorch convention; the running variance uses the unbiased batch variance).
    Eval: the running statistics are used instead.

    Parameters
    ----------
    x : ndarray, shape (n, c)
    gamma, beta : ndarray, shape (c,)
    running_mean, running_var : ndarray, shape (c,), C-contiguous, writeable
    training : bool
    momentum : float in [0, 1]
    eps : float > 0
    out : ndarray, shape (n, c), optional

    Returns
    -------
    y : ndarray, shape (n, c)
    mean, invstd : ndarray, shape (c,), or None in eval mode
        Batch mean and ``1/sqrt(var + eps)`` for :func:`batch_norm_backward`.
    """
    x, gamma, beta = _norm_args(x, gamma, beta, x.shape[-1] if np.ndim(x) else 0)
    n, c = x.shape
    rm = _c.inout("running_mean", running_mean, x.dtype, (c,))
    rv = _c.inout("running_var", running_var, x.dtype, (c,))
    momentum = _c.number("momentum", momentum, 0.0, 1.0)
    eps = _c.number("eps", eps, lo=0.0, lo_open=True)
    y = _c.out_or_new("out", out, x.dtype, x.shape)
    if not training:
        _norm.batch_norm_fwd_eval(x.reshape(-1), gamma, beta, y.reshape(-1), rm, rv, n, c,
                                  eps)
        return y, None, None
    if n == 0:
        raise ValueError("batch_norm in training mode needs at least one sample")
    mean, invstd = np.empty(c, x.dtype), np.empty(c, x.dtype)
    _norm.batch_norm_fwd_train(x.reshape(-1), gamma, beta, y.reshape(-1), mean, invstd, rm,
                               rv, n, c, momentum, eps)
    return y, mean, invstd


def _norm_backward(layer, x, dy, gamma, mean, invstd, out):
    x = _c.array("x", x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (n, features), got shape {x.shape}")
    n, c = x.shape
    dy = _c.same_shape("dy", _c.array("dy", dy, x.dtype), x.shape)
    gamma = _c.same_shape("gamma", _c.array("gamma", gamma, x.dtype), (c,))
    st = (n,) if layer else (c,)
    mean = _c.same_shape("mean", _c.array("mean", mean, x.dtype), st)
    invstd = _c.same_shape("invstd", _c.array("invstd", invstd, x.dtype), st)
    dx = _c.out_or_new("out", out, x.dtype, x.shape)
    dgamma, dbeta = np.empty(c, x.dtype), np.empty(c, x.dtype)
    _norm.norm_bwd(layer, x.reshape(-1), dy.reshape(-1), gamma, mean, invstd, dx.reshape(-1),
                   dgamma, dbeta, n, c)
    return dx, dgamma, dbeta


def batch_norm_backward(x, dy, gamma, mean, invstd, out=None):
    """Backward of training-mode :func:`batch_norm`.

    Parameters
    ----------
    x, dy : ndarray, shape (n, c)
    gamma, mean, invstd : ndarray, shape (c,) (mean, invstd from the forward pass)
    out : ndarray, shape (n, c), optional

    Returns
    -------
    dx : ndarray, shape (n, c)
    dgamma, dbeta : ndarray, shape (c,)
    """
    return _norm_backward(False, x, dy, gamma, mean, invstd, out)


def layer_norm(x, gamma, beta, eps=1e-5, out=None):
    """Layer normalisation over the feature axis (Ba et al. 2016).

    Parameters
    ----------
    x : ndarray, shape (n, d)
    gamma, beta : ndarray, shape (d,)
    eps : float > 0
    out : ndarray, shape (n, d), optional

    Returns
    -------
    y : ndarray, shape (n, d)
    mean, invstd : ndarray, shape (n,)
        Row statistics for :func:`layer_norm_backward`.
    """
    x, gamma, beta = _norm_args(x, gamma, beta, x.shape[-1] if np.ndim(x) else 0)
    n, d = x.shape
    eps = _c.number("eps", eps, lo=0.0, lo_open=True)
    y = _c.out_or_new("out", out, x.dtype, x.shape)
    mean, invstd = np.empty(n, x.dtype), np.empty(n, x.dtype)
    _norm.layer_norm_fwd(x.reshape(-1), gamma, beta, y.reshape(-1), mean, invstd, n, d, eps)
    return y, mean, invstd


def layer_norm_backward(x, dy, gamma, mean, invstd, out=None):
    """Backward of :func:`layer_norm`.

    Parameters
    ----------
    x, dy : ndarray, shape (n, d)
    gamma : ndarray, shape (d,)
    mean, invstd : ndarray, shape (n,), from the forward pass
    out : ndarray, shape (n, d), optional

    Returns
    -------
    dx : ndarray, shape (n, d)
    dgamma, dbeta : ndarray, shape (d,)
    """
    return _norm_backward(True, x, dy, gamma, mean, invstd, out)


__all__ += ["batch_norm", "batch_norm_backward", "layer_norm", "layer_norm_backward"]


# ---- dropout ----
from fastnn import _rng  # noqa: E402


def dropout(x, p, seed, step=0, training=True, out=None):
    """Inverted dropout with a counter-based RNG (Philox4x32-10).

    Element i is kept iff word i of the Philox stream keyed by ``(seed, step)`` is above
    ``p``; kept elements are scaled by ``1/(1-p)``. The mask depends only on
    (seed, step, i), never on the thread count.

    Parameters
    ----------
    x : ndarray, any shape
    p : float in [0, 1)
        Drop probability.
    seed, step : int in [0, 2**64)
    training : bool
        When False (or p == 0) returns a copy of x and mask None.
    out : ndarray, optional, shape and dtype of ``x`` (may be ``x``)

    Returns
    -------
    y : ndarray, shape of ``x``
    mask : ndarray or None
        ``keep / (1 - p)``, so :func:`dropout_backward` is one multiply.
    """
    x = _c.array("x", x)
    p = _c.number("p", p, 0.0, 1.0, hi_open=True)
    seed, step = _c.integer("seed", seed, 0), _c.integer("step", step, 0)
    if seed >= 2**64 or step >= 2**64:
        raise ValueError(f"seed and step must be < 2**64, got seed={seed}, step={step}")
    y = _c.out_or_new("out", out, x.dtype, x.shape)
    if not training or p == 0.0:
        if y is not x:
            y[...] = x
        return y, None
    mask = np.empty(x.shape, x.dtype)
    _rng.dropout_fwd(x.reshape(-1), y.reshape(-1), mask.reshape(-1), p, seed, step)
    return y, mask


def dropout_backward(mask, dy, out=None):
    """Backward of :func:`dropout`: ``dx = dy * mask``.

    Parameters
    ----------
    mask : ndarray, the mask returned by :func:`dropout`
    dy : ndarray, shape and dtype of ``mask``
    out : ndarray, optional (may be ``dy``)

    Returns
    -------
    dx : ndarray
    """
    mask = _c.array("mask", mask)
    dy = _c.same_shape("dy", _c.array("dy", dy, mask.dtype), mask.shape)
    dx = _c.out_or_new("out", out, dy.dtype, dy.shape)
    _reduce.mul(dy.reshape(-1), mask.reshape(-1), dx.reshape(-1))
    return dx


__all__ += ["dropout", "dropout_backward"]


# ---- optimizers ----
from fastnn import _optim  # noqa: E402

_OPT_PARAMS = """param : ndarray, any shape, float32 or float64, C-contiguous, writeable
    Updated in place (typically the whole flat parameter arena).
grad : ndarray, shape and dtype of ``param``
"""


def _opt_arrays(param, grad, **state):
    if not isinstance(param, np.ndarray):
        raise TypeError(f"param must be a numpy.ndarray, got {type(param).__name__}")
    _c.array("param", param)
    p = _c.inout("param", param, param.dtype, param.shape).reshape(-1)
    g = _c.same_shape("grad", _c.array("grad", grad, param.dtype), param.shape).reshape(-1)
    st = {k: (None if v is None else _c.inout(k, v, param.dtype, param.shape).reshape(-1))
          for k, v in state.items()}
    return p, g, st


def _hyper(lr, eps=None, weight_decay=0.0):
    _c.number("lr", lr, lo=0.0)
    if eps is not None:
        _c.number("eps", eps, lo=0.0)
    _c.number("weight_decay", weight_decay, lo=0.0)


def sgd_step(param, grad, step, buf=None, lr=0.01, momentum=0.0, dampening=0.0,
             weight_decay=0.0, nesterov=False):
    """SGD step in place, torch.optim.SGD semantics (plain, momentum, Nesterov).

    ``d = grad + weight_decay param``; with momentum ``buf = d`` at step 1, then
    ``buf = momentum buf + (1 - dampening) d``; ``d = d + momentum buf`` (Nesterov) or
    ``buf``; ``param -= lr d``.

    Parameters
    ----------
    {params}step : int >= 1
    buf : ndarray, shape of ``param``, required when momentum != 0
    lr, momentum, dampening, weight_decay : float >= 0
    nesterov : bool
    """
    step = _c.integer("step", step, 1)
    _hyper(lr, None, weight_decay)
    _c.number("momentum", momentum, lo=0.0)
    _c.number("dampening", dampening, 0.0, 1.0)
    if nesterov and (momentum == 0 or dampening != 0):
        raise ValueError("nesterov=True needs momentum > 0 and dampening == 0, got "
                         f"momentum={momentum}, dampening={dampening}")
    p, g, st = _opt_arrays(param, grad, buf=buf)
    _optim.sgd_step(p, g, st["buf"], step, lr, momentum, dampening, weight_decay,
                    bool(nesterov))


def adagrad_step(param, grad, sum, step, lr=0.01, lr_decay=0.0, eps=1e-10, weight_decay=0.0):
    """Adagrad step in place (Duchi et al. 2011; torch.optim.Adagrad semantics).

    ``sum += d^2; param -= lr / (1 + (step - 1) lr_decay) * d / (sqrt(sum) + eps)``.

    Parameters
    ----------
    {params}sum : ndarray, shape of ``param``, accumulated squares (state)
    step : int >= 1
    lr, lr_decay, eps, weight_decay : float >= 0
    """
    step = _c.integer("step", step, 1)
    _hyper(lr, eps, weight_decay)
    _c.number("lr_decay", lr_decay, lo=0.0)
    p, g, st = _opt_arrays(param, grad, sum=sum)
    _optim.adagrad_step(p, g, st["sum"], step, lr, lr_decay, eps, weight_decay)


def rmsprop_step(param, grad, square_avg, step, lr=0.01, alpha=0.99, eps=1e-8,
                 weight_decay=0.0, momentum=0.0, centered=False, buf=None, grad_avg=None):
    """RMSProp step in place (torch.optim.RMSprop semantics; centred per Graves 2013).

    Parameters
    ----------
    {params}square_avg : ndarray, shape of ``param`` (state)
    step : int >= 1
    lr, eps, weight_decay, momentum : float >= 0
    alpha : float in [0, 1]
    centered : bool; needs ``grad_avg`` (state, shape of ``param``)
    buf : ndarray, shape of ``param``, required when momentum != 0
    """
    step = _c.integer("step", step, 1)
    _hyper(lr, eps, weight_decay)
    _c.number("alpha", alpha, 0.0, 1.0)
    _c.number("momentum", momentum, lo=0.0)
    p, g, st = _opt_arrays(param, grad, square_avg=square_avg, buf=buf, grad_avg=grad_avg)
    _optim.rmsprop_step(p, g, st["square_avg"], st["buf"], st["grad_avg"], step, lr, alpha,
                        eps, weight_decay, momentum, bool(centered))


def _adam(param, grad, m, v, step, lr, beta1, beta2, eps, weight_decay, amsgrad, v_max,
          decoupled):
    step = _c.integer("step", step, 1)
    _hyper(lr, eps, weight_decay)
    _c.number("beta1", beta1, 0.0, 1.0, hi_open=True)
    _c.number("beta2", beta2, 0.0, 1.0, hi_open=True)
    p, g, st = _opt_arrays(param, grad, m=m, v=v, v_max=v_max)
    _optim.adam_step(p, g, st["m"], st["v"], st["v_max"], step, lr, beta1, beta2, eps,
                     weight_decay, decoupled, bool(amsgrad))


def adam_step(param, grad, m, v, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
              weight_decay=0.0, amsgrad=False, v_max=None):
    """Adam step in place (Kingma & Ba 2015), L2 weight decay added to the gradient.

    ``m = b1 m + (1-b1) d; v = b2 v + (1-b2) d^2;
    param -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``, bias corrections
    in double; AMSGrad uses ``v_max = max(v_max, v)`` in place of v.

    Parameters
    ----------
    {params}m, v : ndarray, shape of ``param`` (state, start at 0)
    step : int >= 1 (t)
    lr, eps, weight_decay : float >= 0
    beta1, beta2 : float in [0, 1)
    amsgrad : bool; needs ``v_max`` (state, shape of ``param``)
    """
    _adam(param, grad, m, v, step, lr, beta1, beta2, eps, weight_decay, amsgrad, v_max, False)


def adamw_step(param, grad, m, v, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
               weight_decay=0.01, amsgrad=False, v_max=None):
    """AdamW step in place (Loshchilov & Hutter 2019): decoupled ``param *= 1 - lr wd``
    before the Adam update. Parameters as :func:`adam_step`.

    Parameters
    ----------
    {params}m, v : ndarray, shape of ``param`` (state)
    step : int >= 1
    """
    _adam(param, grad, m, v, step, lr, beta1, beta2, eps, weight_decay, amsgrad, v_max, True)


for _f in (sgd_step, adagrad_step, rmsprop_step, adam_step, adamw_step):
    _f.__doc__ = _f.__doc__.replace("{params}", _OPT_PARAMS)
__all__ += ["sgd_step", "adagrad_step", "rmsprop_step", "adam_step", "adamw_step"]
