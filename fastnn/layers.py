"""Layers: Dense, Activation, Dropout, Flatten (normalisation layers live in normalization.py).

Layer protocol (see DESIGN.md): ``build(input_shape) -> output_shape`` declares the
parameters; the model binds ``params``/``grads`` as views into its flat arenas;
``forward(x, training)`` returns y and keeps what backward needs; ``backward(dy)``
fills the gradient views and returns dx; ``reset_parameters(rng)`` initialises.
"""
import numpy as np

from fastnn import activations as A
from fastnn import initializers, regularizers
from fastnn._backend import default_backend

__all__ = ["Layer", "Dense", "Activation", "Dropout", "Flatten", "Input"]


def _positive_int(name, value, cls):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{cls}: {name} must be a positive integer. Received: {name}={value!r}")
    return int(value)


class Input:
    """Keras's ``Input(shape=(784,))`` as the first entry of a ``Sequential``: it gives
    the features' shape (no batch axis), so the model builds from it when first used,
    ``summary()`` included, and checks every ``X`` against it. Like Keras's, it is not
    one of ``model.layers``."""

    def __init__(self, shape, batch_size=None, dtype=None, name=None):
        dims = (shape,) if isinstance(shape, (int, np.integer)) else shape
        if not (isinstance(dims, (tuple, list)) and dims and all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                for d in dims)):
            raise ValueError("Input: shape must be the features' shape, positive integers "
                             f"such as (784,) or (28, 28), without the batch axis. Received: "
                             f"shape={shape!r}")
        if dtype is not None and np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"Input: dtype must be float32 or float64. Received: dtype={dtype!r}")
        if batch_size is not None:   # accepted as Keras takes it; batches vary in fastnn
            _positive_int("batch_size", batch_size, "Input")
        self.shape = tuple(int(d) for d in dims)
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.batch_size, self.name = batch_size, name

    def __repr__(self):
        return f"Input(shape={self.shape})"


def _keras_sizes(in_features, out_features, units, input_shape, input_dim):
    """Dense's (in, out) from its own arguments or Keras's ``units``, ``input_shape``
    (a 1-tuple) and ``input_dim``; TypeError when two of them give the same size."""
    if units is not None:
        if out_features is not None:
            raise TypeError(f"Dense: got the output size twice ({out_features!r} and "
                            f"units={units!r})")
        out_features = units
    if input_shape is not None:
        if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 1):
            raise ValueError("Dense takes 1-D features per sample: input_shape must be "
                             f"(features,); got input_shape={input_shape!r} (add "
                             "fn.Flatten() before it for images)")
        input_dim = _positive_int("input_shape[0]", input_shape[0], "Dense")
    if input_dim is not None:
        if in_features is not None and in_features != input_dim:
            raise TypeError(f"Dense: got the input size twice ({in_features!r} and "
                            f"{input_dim!r})")
        in_features = input_dim
    if out_features is None:
        raise TypeError("Dense needs its output size: Dense(units) or Dense(in, out)")
    return in_features, out_features


class Layer:
    """Base class. Subclasses written in Python only need ``forward`` and ``backward``
    (and ``build``/``param_specs``/``reset_parameters`` if they have parameters)."""

    trainable = True
    _fused_into_loss = False  # the model's loss kernel computes this layer's activation

    def __init__(self, name=None):
        self.name = name
        self.params, self.grads, self.buffers = [], [], []
        self._need_dx = True   # the model clears it on the first layer: no dx needed there
        self.input_shape = self.output_shape = None
        self._be = default_backend()

    _FORWARD_CACHES = ("_x", "_z", "_y", "_mask", "_cache")   # what backward reads

    def __getstate__(self):
        """copy.deepcopy and pickle leave out what the next step recomputes: the arrays
        the forward pass saved for backward (the user's last batch among them) and the
        gradients."""
        state = self.__dict__.copy()
        for k in self._FORWARD_CACHES:
            if k in state:
                state[k] = None
        if state.get("grads"):
            state["grads"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "grads" in state and state["grads"] is None:   # zeros until re-bound or a step
            self.grads = [np.zeros_like(p) for p in self.params]

    # -- building ---------------------------------------------------------------
    def build(self, input_shape):
        """Declare parameters for ``input_shape`` (without the batch axis); return output shape."""
        self.input_shape = self.output_shape = tuple(input_shape)
        return self.output_shape

    def param_specs(self):
        """``[(name, shape), ...]`` of the parameters, in arena order."""
        return []

    def buffer_specs(self):
        """``[(name, shape, initial value), ...]`` of non-trained state saved with the model."""
        return []

    def bind(self, params, grads, buffers=()):
        """Receive the arena views, one per ``param_specs`` / ``buffer_specs`` entry."""
        self.params, self.grads, self.buffers = list(params), list(grads), list(buffers)

    def reset_parameters(self, rng):
        """Initialise the parameters in place from ``rng`` (a numpy Generator)."""

    def penalty(self):
        """Regularisation term of the loss; its gradient is added in ``add_penalty_grads``."""
        return 0.0

    def add_penalty_grads(self):
        pass

    # -- running ----------------------------------------------------------------
    def forward(self, x, training=False):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def __call__(self, x, training=False):
        """The layer on its own: with its activation even when the model's loss computes
        that in training (``forward`` then leaves it out)."""
        if not self._fused_into_loss:
            return self.forward(x, training)
        self._fused_into_loss = False
        try:
            return self.forward(x, training)
        finally:
            self._fused_into_loss = True

    @property
    def train_activation(self):
        """The activation ``forward`` applies: identity when fused into the loss."""
        return "identity" if self._fused_into_loss else self.activation

    def get_config(self):
        return {}

    def count_params(self):
        return int(sum(np.prod(s) for _, s in self.param_specs()))

    def __repr__(self):
        return f"{type(self).__name__}()"


class Dense(Layer):
    """Fully connected layer ``y = act(x · W + b)`` with ``W[in, out]``, ``b[out]``.

    ``Dense(784, 512, activation="relu")`` or ``Dense(512)`` (input size inferred).
    Keras's spellings work too: ``Dense(units=512, input_shape=(784,))`` or
    ``input_dim=784``. ``kernel_regularizer`` may be ``"l2"``,
    ``fn.regularizers.L2(1e-4)``, ...
    """

    def __init__(self, in_features=None, out_features=None, activation=None, *, use_bias=True,
                 kernel_initializer=None, bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, name=None, units=None, input_shape=None,
                 input_dim=None):
        super().__init__(name)
        if out_features is None:
            in_features, out_features = None, in_features
        in_features, out_features = _keras_sizes(in_features, out_features, units,
                                                 input_shape, input_dim)
        self.out_features = _positive_int("out_features", out_features, "Dense")
        self.in_features = None if in_features is None else \
            _positive_int("in_features", in_features, "Dense")
        self.activation, self.act_param = A.parse(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(
            kernel_initializer or initializers.default_for(self.activation))
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects 1-D features per sample; got input shape "
                             f"{tuple(input_shape)} (add fn.Flatten() before it)")
        if self.in_features is None:
            self.in_features = int(input_shape[0])
        elif input_shape[0] != self.in_features:
            raise ValueError(f"{self!r} received inputs with {input_shape[0]} features; "
                             f"expected in_features={self.in_features}")
        self.input_shape, self.output_shape = (self.in_features,), (self.out_features,)
        return self.output_shape

    def param_specs(self):
        specs = [("kernel", (self.in_features, self.out_features))]
        return specs + ([("bias", (self.out_features,))] if self.use_bias else [])

    def reset_parameters(self, rng):
        W = self.params[0]
        W[...] = self.kernel_initializer(W.shape, W.shape[0], W.shape[1], rng, W.dtype)
        if self.use_bias:
            self.params[1][...] = self.bias_initializer(self.params[1].shape, W.shape[0],
                                                        W.shape[1], rng, W.dtype)

    @property
    def kernel(self):
        return self.params[0]

    @property
    def bias(self):
        return self.params[1] if self.use_bias else None

    def forward(self, x, training=False):
        act = self.train_activation
        self._x = x
        self._z, self._y = self._be.dense_forward(x, self.kernel, self.bias, act, self.act_param)
        return self._y

    def backward(self, dy):
        be, act = self._be, self.train_activation
        dz = be.act_backward(act, self.act_param, self._z, self._y, dy)
        be.dense_backward_params(self._x, dz, self.grads[0],
                                 self.grads[1] if self.use_bias else None)
        return be.matmul(dz, self.kernel, trans_b=True) if self._need_dx else None

    def penalty(self):
        total = 0.0
        for reg, p in ((self.kernel_regularizer, self.kernel), (self.bias_regularizer, self.bias)):
            if reg is not None and p is not None:
                total += reg.penalty(p)
        return total

    def add_penalty_grads(self):
        for i, reg in ((0, self.kernel_regularizer), (1, self.bias_regularizer)):
            if reg is not None and i < len(self.params):
                self._be.add_penalty_grad(self.params[i], self.grads[i], reg.l1, reg.l2)

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                "activation": A.to_config(self.activation, self.act_param),
                "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer.get_config(),
                "bias_initializer": self.bias_initializer.get_config(),
                "kernel_regularizer": None if self.kernel_regularizer is None
                else self.kernel_regularizer.get_config(),
                "bias_regularizer": None if self.bias_regularizer is None
                else self.bias_regularizer.get_config()}

    def __repr__(self):
        act = "" if self.activation == "identity" else \
            f", {A.to_repr(self.activation, self.act_param)}"
        return f"Dense({self.in_features if self.in_features else '?'}, {self.out_features}{act})"


class Activation(Layer):
    """Element-wise (or row-wise softmax) activation as its own layer: ``Activation("tanh")``."""

    def __init__(self, activation, name=None):
        super().__init__(name)
        self.activation, self.act_param = A.parse(activation)

    def forward(self, x, training=False):
        self._x = x
        self._y = self._be.act_forward(self.train_activation, self.act_param, x)
        return self._y

    def backward(self, dy):
        return self._be.act_backward(self.train_activation, self.act_param, self._x, self._y,
                                     dy)

    def get_config(self):
        return {"activation": A.to_config(self.activation, self.act_param)}

    def __repr__(self):
        return f"Activation({A.to_repr(self.activation, self.act_param)})"


class Dropout(Layer):
    """Inverted dropout: in training zero each input with probability ``rate`` and scale the
    rest by ``1/(1-rate)``; identity at inference. The mask comes from a counter-based RNG
    keyed by (seed, step, element), so it does not depend on the thread count."""

    def __init__(self, rate, name=None):
        super().__init__(name)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout rate must be in [0, 1). Received: rate={rate!r}")
        self.rate = float(rate)
        self.seed = 0          # set by the model from its seed and the layer index
        self.step = 0          # set by the model before every training step

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        y, self._mask = self._be.dropout(x, self.rate, self.seed, self.step)
        return y

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask

    def get_config(self):
        return {"rate": self.rate}

    def __repr__(self):
        return f"Dropout({self.rate:g})"


class Flatten(Layer):
    """Reshape ``[batch, d1, d2, ...]`` to ``[batch, d1*d2*...]`` (e.g. 28×28 images)."""

    def build(self, input_shape):
        self.input_shape = tuple(input_shape)
        self.output_shape = (int(np.prod(input_shape)),)
        return self.output_shape

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape((dy.shape[0],) + self.input_shape)

    def __repr__(self):
        return "Flatten()"
