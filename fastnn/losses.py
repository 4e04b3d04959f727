"""Losses with their gradients, computed by fused C kernels.

Each loss is ``loss(y_pred, y_true, sample_weight=None) -> (value, grad)`` where
``grad = d value / d y_pred``. Reduction ``"mean"`` averages over samples (and outputs),
``"sum"`` adds. Classification losses take what the last layer computes *before* its
output activation (logits); ``output_activation`` says what ``predict`` applies.
"""

from fastnn import _checks
from fastnn._backend import default_backend

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossEntropy",
           "SoftmaxCrossEntropy", "get"]


class Loss:
    name = "loss"
    output_activation = None     # applied by predict(); fused with the loss in training
    kind = None                  # kernel id used by the compiled training plan
    classification = False

    def __init__(self, reduction="mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError("reduction must be 'mean' or 'sum'. "
                             f"Received: reduction={reduction!r}")
        self.reduction = reduction

    def __call__(self, y_pred, y_true, sample_weight=None, backend=None):
        be = backend or default_backend()
        return be.loss(self, y_pred, y_true, sample_weight)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class MeanSquaredError(Loss):
    """mean((ŷ - y)²)"""
    name, kind = "mse", 0


class MeanAbsoluteError(Loss):
    """mean(|ŷ - y|)"""
    name, kind = "mae", 1


class Huber(Loss):
    """mean(½ r² if |r| ≤ δ else δ(|r| - ½δ)), r = ŷ - y"""
    name, kind = "huber", 2

    def __init__(self, delta=1.0, reduction="mean"):
        super().__init__(reduction)
        self.delta = _checks.number("delta", delta, lo=0.0, lo_open=True)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class BinaryCrossEntropy(Loss):
    """-mean(y log p + (1 - y) log(1 - p)); ``from_logits=True`` takes p = sigmoid(ŷ) stably.

    With ``from_logits=False`` and a sigmoid last layer, the model fuses both into the
    logits form, which is exact and stable (no clamping needed). Other probabilities are
    clamped to [1e-7, 1 - 1e-7], as in Keras; a last Dense or Activation layer with
    another activation than sigmoid or softmax gets a warning at ``compile``, since its
    outputs are not probabilities (PyTorch's ``BCELoss`` refuses them).
    """
    name, classification = "binary_cross_entropy", True

    def __init__(self, from_logits=False, reduction="mean"):
        super().__init__(reduction)
        self.from_logits = bool(from_logits)

    @property
    def kind(self):
        return 4 if self.from_logits else 3

    @property
    def output_activation(self):
        return "sigmoid" if self.from_logits else None

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class SoftmaxCrossEntropy(Loss):
    """Softmax then cross-entropy of logits ``[n, classes]`` against integer labels ``[n]``
    or one-hot / soft targets ``[n, classes]``; optional label smoothing."""
    name, kind, classification, output_activation = "softmax_cross_entropy", 5, True, "softmax"

    def __init__(self, label_smoothing=0.0, reduction="mean"):
        super().__init__(reduction)
        self.label_smoothing = _checks.number("label_smoothing", label_smoothing, 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber, "binary_cross_entropy": BinaryCrossEntropy,
    "binary_crossentropy": BinaryCrossEntropy, "bce": BinaryCrossEntropy,
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "categorical_cross_entropy": SoftmaxCrossEntropy,
    "categorical_crossentropy": SoftmaxCrossEntropy,
    "sparse_categorical_crossentropy": SoftmaxCrossEntropy,
    "cross_entropy": SoftmaxCrossEntropy,
}


def get(spec):
    """A loss from a name, a config dict or a ``Loss``."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, dict):
        cfg = dict(spec)
        cls = _BY_NAME.get(cfg.pop("name", None))
        if cls is None:
            raise ValueError(f"unknown loss config {spec!r}")
        return cls(**cfg)
    if isinstance(spec, str):
        key = spec.lower()
        if key == "binary_cross_entropy_with_logits":
            return BinaryCrossEntropy(from_logits=True)
        if key in _BY_NAME:
            return _BY_NAME[key]()
    raise ValueError(f"unknown loss {spec!r}; expected a fastnn.losses.Loss or one of "
                     f"{', '.join(sorted(_BY_NAME))}, binary_cross_entropy_with_logits")
