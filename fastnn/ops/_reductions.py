"""fastnn.ops: reductions, regularisation, clipping (conventions: fastnn/ops/__init__.py)."""
import numpy as np

from fastnn import _checks as _c
from fastnn import _reduce


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
    db = _c.out_or_new("out", out, dy.dtype, (dy.shape[1],), {"dy": dy})
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


__all__ = ["bias_grad", "grad_norm", "l2_penalty", "l1_penalty", "clip_by_value",
            "clip_by_norm"]
