"""fastnn.ops: normalisation (see fastnn/ops/__init__.py for the conventions)."""
import numpy as np

from fastnn import _checks as _c
from fastnn import _norm


def _norm_args(x, gamma, beta, width):
    x = _c.array("x", x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (n, features), got shape {x.shape}")
    gamma = _c.same_shape("gamma", _c.array("gamma", gamma, x.dtype), (width,))
    beta = _c.same_shape("beta", _c.array("beta", beta, x.dtype), (width,))
    return x, gamma, beta


def batch_norm(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
               eps=1e-5, out=None, unbiased=True):
    """Batch normalisation over the batch axis (Ioffe & Szegedy 2015).

    Training: ``y = gamma (x - mu_B) / sqrt(var_B + eps) + beta`` with batch statistics,
    and running stats updated in place, ``r := (1 - momentum) r + momentum stat``
    (PyTorch convention; the running variance uses the unbiased batch variance, or with
    ``unbiased=False`` the biased one, as Keras's does). Eval: the running statistics
    are used instead.

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
    if not isinstance(unbiased, (bool, np.bool_)):
        raise TypeError(f"unbiased must be True or False, got unbiased={unbiased!r}")
    eps = _c.number("eps", eps, lo=0.0, lo_open=True)
    y = _c.out_or_new("out", out, x.dtype, x.shape, {"x": x})
    if not training:
        _norm.batch_norm_fwd_eval(x.reshape(-1), gamma, beta, y.reshape(-1), rm, rv, n, c,
                                  eps)
        return y, None, None
    if n == 0:
        raise ValueError("batch_norm in training mode needs at least one sample")
    mean, invstd = np.empty(c, x.dtype), np.empty(c, x.dtype)
    _norm.batch_norm_fwd_train(x.reshape(-1), gamma, beta, y.reshape(-1), mean, invstd, rm,
                               rv, n, c, momentum, eps, bool(unbiased))
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
    # layer norm's dgamma / dbeta sum over x and dy after dx is written
    dx = _c.out_or_new("out", out, x.dtype, x.shape, {"x": x, "dy": dy}, apart=layer)
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
    if d == 0:  # each row's mean and variance would be 0/0
        raise ValueError(f"layer_norm needs at least one feature; got x.shape={x.shape}")
    eps = _c.number("eps", eps, lo=0.0, lo_open=True)
    y = _c.out_or_new("out", out, x.dtype, x.shape, {"x": x})
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


__all__ = ["batch_norm", "batch_norm_backward", "layer_norm", "layer_norm_backward"]
