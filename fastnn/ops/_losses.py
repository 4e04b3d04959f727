"""fastnn.ops: losses (see fastnn/ops/__init__.py for the conventions)."""
import numpy as np

from fastnn import _checks as _c
from fastnn import _loss

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
    grad = _c.out_or_new("out", out, pred.dtype, pred.shape,
                         {"pred": pred, "target": target, "sample_weight": sw})
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
        if lab.dtype != np.int64 or not (lab.flags.c_contiguous and lab.flags.aligned):
            lab = np.require(lab, np.int64, ["C", "A"])
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
    grad = _c.out_or_new("out", out, logits.dtype, (n, c),
                         {"logits": logits, "labels": target, "class_weight": cw,
                          "sample_weight": sw}, apart=True)   # the loss reads them last
    loss = _loss.softmax_xent(logits, labels_arr, target, cw, sw, grad, n, c, sm, red)
    return loss, grad


__all__ = ["mse_loss", "mae_loss", "huber_loss", "binary_cross_entropy",
            "binary_cross_entropy_with_logits", "softmax_cross_entropy"]
