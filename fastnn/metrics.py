"""Metrics on model outputs: accuracy, binary accuracy, top-k accuracy, MSE, MAE, R².

Each metric is ``fn(y_true, y_pred) -> float`` on NumPy arrays. ``y_pred`` is the
model's output (probabilities or scores ``[n, classes]``, or values ``[n, outputs]``);
``y_true`` is integer labels ``[n]`` or one-hot / values of ``y_pred``'s shape.
"""
import numpy as np

__all__ = ["accuracy", "binary_accuracy", "top_k_accuracy", "mean_squared_error",
           "mean_absolute_error", "r2_score", "get"]


def _same_rows(y_true, y_pred):
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} samples but y_pred {len(y_pred)}")


def _labels(y_true, y_pred):
    y_true, n_classes = np.atleast_1d(np.asarray(y_true)), y_pred.shape[1]
    _same_rows(y_true, y_pred)
    if y_true.ndim == 2 and y_true.shape[1] == n_classes and n_classes > 1:
        return np.argmax(y_true, axis=1)
    if y_true.size != len(y_pred):
        raise ValueError(f"y_true has shape {y_true.shape}: expected one label per row of "
                         f"y_pred {y_pred.shape}, or one-hot rows")
    return y_true.reshape(-1).astype(np.int64)


def accuracy(y_true, y_pred):
    """Fraction of rows whose arg-max class equals the label (binary: threshold 0.5)."""
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 1 or y_pred.shape[1] == 1:
        return binary_accuracy(y_true, y_pred)
    return float(np.mean(np.argmax(y_pred, axis=1) == _labels(y_true, y_pred)))


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Fraction of outputs on the right side of ``threshold``."""
    y_pred = np.asarray(y_pred).reshape(len(y_pred), -1)
    y_true = np.atleast_1d(np.asarray(y_true))
    _same_rows(y_true, y_pred)
    y_true = y_true.reshape(y_pred.shape)
    return float(np.mean((y_pred > threshold) == (y_true > 0.5)))


def top_k_accuracy(y_true, y_pred, k=5):
    """Fraction of rows whose label is among the ``k`` highest scores."""
    y_pred = np.asarray(y_pred)
    if y_pred.ndim != 2:
        raise ValueError(f"top_k_accuracy needs scores [n, classes]; got shape {y_pred.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer; got k={k!r}")
    k = min(int(k), y_pred.shape[1])
    top = np.argpartition(-y_pred, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == _labels(y_true, y_pred)[:, None], axis=1)))


def _values(y_true, y_pred):
    y_pred = np.asarray(y_pred, dtype=np.float64)
    y_pred = y_pred.reshape(len(y_pred), -1)
    y_true = np.atleast_1d(np.asarray(y_true, dtype=np.float64))
    _same_rows(y_true, y_pred)
    if y_true.size != y_pred.size:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred {y_pred.shape}")
    return y_true.reshape(y_pred.shape), y_pred


def mean_squared_error(y_true, y_pred):
    """mean((y - ŷ)²) over all outputs."""
    t, p = _values(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def mean_absolute_error(y_true, y_pred):
    """mean(|y - ŷ|) over all outputs."""
    t, p = _values(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def r2_score(y_true, y_pred):
    """Coefficient of determination 1 - SS_res / SS_tot, averaged over outputs (as sklearn)."""
    t, p = _values(y_true, y_pred)
    ss_res = np.sum((t - p) ** 2, axis=0)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                      np.where(ss_res > 0, 0.0, 1.0))
    r2[~(np.isfinite(ss_res) & np.isfinite(ss_tot))] = np.nan   # NaN in, NaN out
    return float(np.mean(r2))


_BY_NAME = {
    "accuracy": accuracy, "acc": accuracy, "binary_accuracy": binary_accuracy,
    "top_k_accuracy": top_k_accuracy, "top5": top_k_accuracy,
    "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
    "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
    "r2": r2_score, "r2_score": r2_score,
}
_CANONICAL = {accuracy: "accuracy", binary_accuracy: "binary_accuracy",
              top_k_accuracy: "top_k_accuracy", mean_squared_error: "mse",
              mean_absolute_error: "mae", r2_score: "r2"}


def get(spec):
    """``(name, fn)`` for a metric name or a callable ``fn(y_true, y_pred)``."""
    if callable(spec):
        return _CANONICAL.get(spec, getattr(spec, "__name__", "metric")), spec
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        fn = _BY_NAME[spec.lower()]
        return _CANONICAL[fn], fn
    raise ValueError(f"unknown metric {spec!r}; expected a callable or one of "
                     f"{', '.join(sorted(_BY_NAME))}")
