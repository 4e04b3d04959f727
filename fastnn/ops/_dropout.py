"""fastnn.ops: dropout (see fastnn/ops/__init__.py for the conventions)."""
import numpy as np

from fastnn import _checks as _c
from fastnn import _reduce, _rng


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
    y = _c.out_or_new("out", out, x.dtype, x.shape, {"x": x})
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
    dx = _c.out_or_new("out", out, dy.dtype, dy.shape, {"mask": mask, "dy": dy})
    _reduce.mul(dy.reshape(-1), mask.reshape(-1), dx.reshape(-1))
    return dx


__all__ = ["dropout", "dropout_backward"]
