"""Batch normalisation (Ioffe & Szegedy 2015) and layer normalisation (Ba et al. 2016)."""
import numpy as np

from fastnn.layers import Layer, _positive_int

__all__ = ["BatchNorm", "LayerNorm", "BatchNormalization", "LayerNormalization"]


def _check_eps(cls, eps):
    if not (isinstance(eps, (int, float)) and np.isfinite(eps) and eps > 0):
        raise ValueError(f"{cls}: eps must be positive and finite. Received: eps={eps!r}")
    return float(eps)


class _Norm(Layer):
    def __init__(self, num_features=None, eps=1e-5, name=None):
        super().__init__(name)
        cls = type(self).__name__
        self.num_features = None if num_features is None else \
            _positive_int("num_features", num_features, cls)
        self.eps = _check_eps(cls, eps)

    def build(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"{type(self).__name__} expects 1-D features per sample; got "
                             f"input shape {tuple(input_shape)}")
        if self.num_features is None:
            self.num_features = int(input_shape[0])
        elif self.num_features != input_shape[0]:
            raise ValueError(f"{self!r} received {input_shape[0]} features")
        self.input_shape = self.output_shape = (self.num_features,)
        return self.output_shape

    def param_specs(self):
        return [("gamma", (self.num_features,)), ("beta", (self.num_features,))]

    def reset_parameters(self, rng):
        self.params[0][...] = 1
        self.params[1][...] = 0


class BatchNorm(_Norm):
    """Normalise each feature over the batch, then scale by gamma and shift by beta.

    Training uses the batch statistics and updates running averages
    ``running = momentum·running + (1 - momentum)·batch`` (Keras convention, momentum
    0.9 by default); inference uses the running averages. The running variance averages
    the unbiased batch variance (PyTorch's ``BatchNorm1d``), or with ``unbiased=False``
    the biased one (Keras's ``BatchNormalization``, which the factory of that name sets).
    """

    unbiased = True      # the default for layers pickled before the option existed

    def __init__(self, num_features=None, momentum=0.9, eps=1e-5, name=None, unbiased=True):
        super().__init__(num_features, eps, name)
        if not (isinstance(momentum, (int, float)) and 0 <= momentum < 1):
            raise ValueError("BatchNorm: momentum must be in [0, 1). "
                             f"Received: momentum={momentum!r}")
        if not isinstance(unbiased, (bool, np.bool_)):
            raise TypeError(f"BatchNorm: unbiased must be True or False. "
                            f"Received: unbiased={unbiased!r}")
        self.momentum, self.unbiased = float(momentum), bool(unbiased)

    def buffer_specs(self):
        return [("running_mean", (self.num_features,), 0.0),
                ("running_var", (self.num_features,), 1.0)]

    def forward(self, x, training=False):
        y, self._cache = self._be.batch_norm(x, self.params[0], self.params[1],
                                             self.buffers[0], self.buffers[1], self.momentum,
                                             self.eps, training, self.unbiased)
        return y

    def backward(self, dy):
        return self._be.batch_norm_backward(dy, self._cache, self.grads[0], self.grads[1])

    def get_config(self):
        config = {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps}
        return config if self.unbiased else {**config, "unbiased": False}

    def __repr__(self):
        return f"BatchNorm({self.num_features or '?'})"


class LayerNorm(_Norm):
    """Normalise each sample over its features, then scale by gamma and shift by beta."""

    def forward(self, x, training=False):
        y, self._cache = self._be.layer_norm(x, self.params[0], self.params[1], self.eps)
        return y

    def backward(self, dy):
        return self._be.layer_norm_backward(dy, self._cache, self.grads[0], self.grads[1])

    def get_config(self):
        return {"num_features": self.num_features, "eps": self.eps}

    def __repr__(self):
        return f"LayerNorm({self.num_features or '?'})"


def _keras_norm(cls, axis, center, scale, kwargs):
    if axis not in (-1, 1) or center is not True or scale is not True:
        raise ValueError(f"{cls}: fastnn normalises 1-D features (axis=-1) with both "
                         f"gamma and beta; got axis={axis!r}, center={center!r}, "
                         f"scale={scale!r}")
    if kwargs:
        raise TypeError(f"{cls}: Keras's {', '.join(sorted(kwargs))} not supported here")


def BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                       name=None, **kwargs):
    """Keras's name and defaults (momentum 0.99, epsilon 1e-3) for a ``BatchNorm``; the
    momentum means the same in both (``running = momentum·running + (1 - momentum)·batch``)
    and, as in Keras, the running variance averages the biased batch variance."""
    _keras_norm("BatchNormalization", axis, center, scale, kwargs)
    return BatchNorm(momentum=momentum, eps=epsilon, name=name, unbiased=False)


def LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True, name=None, **kwargs):
    """Keras's name and default (epsilon 1e-3) for a ``LayerNorm``."""
    _keras_norm("LayerNormalization", axis, center, scale, kwargs)
    return LayerNorm(eps=epsilon, name=name)
