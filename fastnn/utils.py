"""Gradient checking by finite differences, and model cloning."""
import copy

import numpy as np

from fastnn import _checks
from fastnn._data import check_sample_weight, check_x, check_y

__all__ = ["check_gradients", "clone_model", "to_categorical"]


def to_categorical(y, num_classes=None, dtype="float32"):
    """Keras's ``to_categorical``: class labels of any shape to one-hot vectors, shape
    ``y.shape + (num_classes,)`` (a trailing axis of 1 is dropped first, as in Keras).
    Float labels must hold whole numbers. ``fastnn.datasets.one_hot`` does 1-D labels."""
    from fastnn.datasets import one_hot
    y = np.asarray(y)
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    elif y.dtype.kind == "f":
        if not (np.isfinite(y).all() and (y == np.round(y)).all()):
            raise ValueError("to_categorical: float labels must be whole numbers")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iu" and y.size:
        raise ValueError(f"to_categorical expects integer class labels; got dtype {y.dtype}")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    out = one_hot(y.reshape(-1).astype(np.int64), num_classes, dtype)
    return out.reshape(y.shape + (out.shape[1],))


def clone_model(model, dtype=None, backend=None):
    """A new model with the same architecture, weights (cast to ``dtype``) and compile
    settings (a fresh optimizer state)."""
    from fastnn import io
    from fastnn.model import Sequential
    table = io._layer_table()
    layers = [table[type(layer).__name__](**layer.get_config())
              if table.get(type(layer).__name__) is type(layer) else copy.deepcopy(layer)
              for layer in model.layers]
    new = Sequential(layers, seed=model.seed, dtype=dtype or model.dtype,
                     backend=backend or model._be.name, name=model.name)
    new._input_hint = model._input_hint
    if model.built:
        new.build(model.input_shape)
        new.params[...] = model.params
        new.buffers[...] = model.buffers
    if model.compiled:
        from fastnn import optimizers
        new.compile(optimizer=optimizers.get(model.optimizer.get_config()),
                    loss=model.loss.get_config(), metrics=[m for m, _ in model.metrics])
    return new


def check_gradients(model, X, y, sample_weight=None, eps=1e-6, max_checks=200, seed=0):
    """Compare backpropagation with central finite differences, in float64.

    The model is cloned in float64; dropout masks are held fixed (same seed and step)
    and batch-norm running statistics are restored around every evaluation.

    Parameters
    ----------
    model : Sequential, compiled
    X, y : arrays, one batch
    eps : float
        Finite-difference step.
    max_checks : int
        Parameters checked (chosen at random, all of them if fewer).

    Returns
    -------
    dict
        ``max_rel_error``, ``mean_rel_error``, ``checked`` (indices), ``analytic``,
        ``numeric`` (the compared gradient entries).
    """
    if not model.compiled:
        raise RuntimeError("check_gradients needs a compiled model")
    eps = _checks.number("eps", eps, lo=0.0, lo_open=True)      # (up - down) / (2 eps)
    max_checks = _checks.integer("max_checks", max_checks, lo=1)
    m = clone_model(model, dtype="float64")
    if not m.built:
        m.build(np.shape(X)[1:])
    X = check_x(X, np.float64, m.input_shape)
    y = check_y(y, X.shape[0], m.loss, m.output_shape[0], np.float64)
    sw = check_sample_weight(sample_weight, X.shape[0], np.float64)
    for layer in m.layers:
        if hasattr(layer, "step"):
            layer.step = 1
    buffers = m.buffers.copy()

    def loss_at():
        m.buffers[...] = buffers
        z = m._forward(X, True)
        value, grad = m._be.loss(m.loss, z, y, sw)
        return float(value) + m._penalty(), grad

    _, g = loss_at()
    m.grads[...] = 0
    m._backward(g)
    analytic = m.grads.copy()
    rng = np.random.default_rng(seed)
    n = m.params.size
    idx = np.arange(n) if n <= max_checks else np.sort(rng.choice(n, max_checks, replace=False))
    numeric = np.empty(len(idx))
    for j, i in enumerate(idx):
        old = m.params[i]
        m.params[i] = old + eps
        up, _ = loss_at()
        m.params[i] = old - eps
        down, _ = loss_at()
        m.params[i] = old
        numeric[j] = (up - down) / (2 * eps)
    a = analytic[idx]
    rel = np.abs(a - numeric) / np.maximum(np.abs(a) + np.abs(numeric), 1e-12)
    m.buffers[...] = buffers
    return {"max_rel_error": float(rel.max()), "mean_rel_error": float(rel.mean()),
            "checked": idx, "analytic": a, "numeric": numeric}
