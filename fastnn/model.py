"""``Sequential``: a stack of layers over one flat parameter arena, Keras-style.

>>> model = fn.Sequential([fn.Dense(784, 512, activation="relu"), fn.Dense(512, 10)], seed=0)
>>> model.compile(optimizer=fn.Adam(lr=1e-3), loss="softmax_cross_entropy",
...               metrics=["accuracy"])
>>> history = model.fit(X, y, epochs=10, batch_size=128, validation_split=0.1)
"""
import threading
import warnings

import numpy as np

from fastnn import losses as L
from fastnn import metrics as M
from fastnn import optimizers as O
from fastnn._backend import get_backend
from fastnn._data import (
    check_positive_int,
    check_sample_weight,
    check_x,
    check_y,
    keras_x,
    zeros_aligned,
)
from fastnn._fit import FitMixin
from fastnn.layers import Activation, Dense, Dropout, Input, Layer

__all__ = ["Sequential"]

_BUILD_LOCK = threading.Lock()   # a model built on first use is built once


class Sequential(FitMixin):
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer
    seed : int
        Seeds initialisation, shuffling and dropout: the same seed gives bit-identical
        weights after training, whatever the thread count.
    dtype : {"float32", "float64"}
    backend : {"c", "numpy"}
        ``"numpy"`` runs every step through the NumPy reference twins (for testing).
    """

    def __init__(self, layers=None, seed=0, dtype="float32", backend="c", name=None):
        if dtype not in ("float32", "float64", np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64'. Received: dtype={dtype!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer. Received: seed={seed!r}")
        self.dtype = np.dtype(dtype)
        self.seed, self.name = int(seed), name
        self._be = get_backend(backend)
        self._input_hint = None    # the shape an Input entry gave
        self.layers = []
        for layer in layers or []:
            self.add(layer)
        self.built = self.compiled = False
        self.optimizer = self.loss = None
        self.metrics = []
        self.stop_training = self._interrupted = False
        self.history = None
        self._step = 0            # optimizer steps taken (keys dropout masks)
        self._plan = self._pplan = None
        self._snap, self._snaps_taken = None, 0   # fit's restore points (_fit.py)

    def add(self, layer):
        """Append a layer (before the model is built). An ``Input(shape=...)`` may come
        first: the model then builds from its shape."""
        if isinstance(layer, Input):
            if self.layers or self._input_hint is not None:
                raise ValueError("Input(shape=...) must be the model's first entry, and "
                                 "there can be one")
            if layer.dtype is not None and layer.dtype != self.dtype:
                raise ValueError(f"{layer!r} has dtype {layer.dtype.name}, the model "
                                 f"{self.dtype.name}: set Sequential(dtype=...)")
            self._input_hint = layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes fastnn.Layer objects; got {layer!r}")
        if getattr(self, "built", False):
            raise RuntimeError("cannot add layers to a model that is already built")
        self.layers.append(layer)

    # ---- copy.deepcopy and pickle -------------------------------------------------------
    def __getstate__(self):
        """The compiled plans are left out (rebuilt on first use), and so are the busy
        mark (a copy taken from a callback is not training) and the gradients."""
        state = self.__dict__.copy()
        state["_plan"] = state["_pplan"] = state["_busy"] = None
        state["_snap"] = None                   # a fit's restore point, not the model's
        if "grads" in state:
            state["grads"] = None               # recomputed by every step
        opt = state.get("optimizer")
        state["_opt_bound"] = bool(self.built and opt is not None and opt._arena is not None
                                   and opt._arena() is self.params)
        if self.built and self._layers_own_arenas():
            # the layers' views hold every value: pickle them once, not the arenas too.
            # The model keeps references to them (no bytes: pickle stores an array once),
            # because a layer shared with another model copied alongside may be re-bound
            # to that model's copy before this one's __setstate__ reads it.
            state["params"] = state["buffers"] = None
            state["_layer_values"] = [(list(layer.params), list(layer.buffers))
                                      for layer in self.layers]
        return state

    def _layers_own_arenas(self):
        """True when every layer's parameters and buffers are views of this model's
        arenas (not when a layer was since built into another model)."""
        return all(a.size == 0 or np.may_share_memory(a, arena) for layer in self.layers
                   for arena, arrays in ((self.params, layer.params),
                                         (self.buffers, layer.buffers)) for a in arrays)

    def __setstate__(self, state):
        """Re-bind the copy: a layer's weights are views of its model's arenas, which a
        pickle or deep copy of the arrays alone would turn into separate arrays (training
        would then step the arena and predict read stale layer weights). The layers are
        not built again: their seeds and any state of their own stay as copied."""
        bound = state.pop("_opt_bound", False)
        views = state.pop("_layer_values", None)
        self.__dict__.update(state)
        if not self.built:
            return
        params, buffers = self.params, self.buffers
        if views is None:
            views = [(list(layer.params), list(layer.buffers)) for layer in self.layers]
        self._allocate([layer.param_specs() for layer in self.layers],
                       [layer.buffer_specs() for layer in self.layers])
        if params is None:                      # the layers carried the values
            for layer, (ps, bs) in zip(self.layers, views):
                for new, old in zip(layer.params + layer.buffers, ps + bs):
                    new[...] = old
        else:                                   # the arenas did (and older pickles)
            self.params[...] = params
            self.buffers[...] = buffers
        if bound:
            self.optimizer._arena = None
            self.optimizer._bind(self.params)

    def __copy__(self):
        raise TypeError("a shallow copy of a Sequential would share its layers, weights and "
                        "optimizer with the original (building one would move the other's "
                        "weights); use copy.deepcopy(model) or fastnn.utils.clone_model")

    # ---- building: one arena for parameters, one for gradients ----------------------
    def build(self, input_shape=None):
        """Infer every layer's shapes from ``input_shape`` (the features' shape, e.g. 784;
        a leading None for the batch axis, as in Keras, is dropped; default: the
        ``Input`` entry's), allocate the arenas, bind the layer views and initialise
        the weights from the seed."""
        self._check_not_busy("build the model")   # a running fit steps the old arenas
        if input_shape is None:
            if self._input_hint is None:
                raise ValueError("build needs input_shape (the model has no Input entry)")
            input_shape = self._input_hint
        self._build(input_shape)

    def _build_from_input(self, X=None):
        """Build a model not built yet from its ``Input`` shape, else from ``X``'s; once,
        when two threads get here first together."""
        if self.built:
            return
        with _BUILD_LOCK:
            if self.built:
                return
            if self._input_hint is not None and self.layers:
                self._build(self._input_hint)
            elif X is not None:
                self._build(np.shape(X)[1:])

    def _build(self, input_shape):
        if not self.layers:
            raise ValueError("the model has no layers")
        dims = list(input_shape) if isinstance(input_shape, (tuple, list)) else \
            np.atleast_1d(input_shape).tolist()
        if len(dims) > 1 and dims[0] is None:  # Keras's (None, features): the batch axis
            dims = dims[1:]
        if not dims or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                               and d > 0 for d in dims):
            raise ValueError("input_shape must be the feature shape, positive integers such "
                             "as 784 or (28, 28), optionally after None for the batch axis. "
                             f"Received: input_shape={input_shape!r}")
        shape = tuple(int(d) for d in dims)
        if self._input_hint is not None and shape != self._input_hint:
            raise ValueError(f"input_shape {shape} differs from the model's Input entry, "
                             f"{self._input_hint}")
        self.input_shape, specs, bufs = shape, [], []
        for layer in self.layers:
            layer._be = self._be
            shape = tuple(layer.build(shape))
            specs.append(layer.param_specs())
            bufs.append(layer.buffer_specs())
        self.output_shape = shape
        opt, old = getattr(self, "optimizer", None), getattr(self, "params", None)
        if opt is not None and opt._arena is not None and opt._arena() is old:
            opt._reset()  # new weights: the moments and step count of the old ones go
        self._allocate(specs, bufs)
        for i, layer in enumerate(self.layers):
            layer._need_dx = i > 0
            if isinstance(layer, Dropout):
                layer.seed = int(np.random.SeedSequence([self.seed, 7, i]).generate_state(1)[0])
        rng = np.random.default_rng([self.seed, 1])
        for layer in self.layers:
            layer.reset_parameters(rng)
        self.built = True
        self._plan = self._pplan = None
        return self

    def _allocate(self, specs, bufs):
        """Allocate the arenas for the layers' parameter and buffer specs and bind the
        layers to views of them; buffers start at their initial values."""
        sizes = [int(np.prod(s)) for ps in specs for _, s in ps]
        self.params = zeros_aligned(sum(sizes), self.dtype, huge=True)
        self.grads = zeros_aligned(sum(sizes), self.dtype)
        self.buffers = np.zeros(sum(int(np.prod(s)) for bs in bufs for _, s, _ in bs), self.dtype)
        off = boff = 0
        for layer, ps, bs in zip(self.layers, specs, bufs):
            pv, gv, bv = [], [], []
            for _, s in ps:
                k = int(np.prod(s))
                pv.append(self.params[off:off + k].reshape(s))
                gv.append(self.grads[off:off + k].reshape(s))
                off += k
            for _, s, init in bs:
                k = int(np.prod(s))
                bv.append(self.buffers[boff:boff + k].reshape(s))
                bv[-1][...] = init
                boff += k
            layer.bind(pv, gv, bv)

    def count_params(self):
        self._build_from_input()
        return int(self.params.size) if self.built else None

    # ---- compile ----------------------------------------------------------------
    def compile(self, optimizer="adam", loss="mse", metrics=None):
        """Choose the optimizer, loss and metrics. A last-layer activation equal to the
        loss's output activation (softmax for softmax cross-entropy, sigmoid for binary
        cross-entropy; the last Dense layer's or an Activation layer's) is fused into the
        loss kernel, which is exact and stable. ``optimizer`` is a name, or an optimizer
        object not already stepping another model's parameters."""
        self._check_not_busy("compile the model")
        optimizer = O.get(optimizer)
        optimizer._check_owner(self.params if self.built else None)
        self.optimizer = optimizer
        self.loss = L.get(loss)
        if isinstance(metrics, str):  # metrics="accuracy": one metric, not its letters
            metrics = [metrics]
        self.metrics = [M.get(m) for m in (metrics or [])]
        for layer in self.layers:
            layer._fused_into_loss = False
        last = self.layers[-1] if self.layers else None
        self._output_act = self.loss.output_activation
        if isinstance(last, (Dense, Activation)):
            if self.loss.name == "softmax_cross_entropy" and last.activation == "softmax":
                last._fused_into_loss = True
            if isinstance(self.loss, L.BinaryCrossEntropy) and last.activation == "sigmoid":
                last._fused_into_loss = True
                self.loss = L.BinaryCrossEntropy(from_logits=True, reduction=self.loss.reduction)
                self._output_act = "sigmoid"
            elif isinstance(self.loss, L.BinaryCrossEntropy) and not self.loss.from_logits \
                    and last.activation not in ("softmax", "step"):
                # Keras trains this silently (clamped to [1e-7, 1 - 1e-7]); torch refuses it
                warnings.warn(f"binary cross-entropy takes probabilities, but the last layer "
                              f"{last!r} outputs {last.activation} values, not confined to "
                              "[0, 1]: give it activation='sigmoid' (fused with the loss into "
                              "the exact logits form) or use loss="
                              "'binary_cross_entropy_with_logits'", UserWarning, stacklevel=2)
        self.compiled = True
        self._plan = self._pplan = None
        return self

    def _require(self, compiled=True):
        if compiled and not self.compiled:
            raise RuntimeError("call model.compile(optimizer=..., loss=...) before this")
        self._build_from_input()
        if not self.built:
            raise RuntimeError("the model is not built yet: call fit() or build(input_shape)")

    # ---- forward / backward (Python path; the compiled plan does the same in C) ------
    def _forward(self, x, training):
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def _backward(self, g):
        for layer in reversed(self.layers):
            g = layer.backward(g)
        for layer in self.layers:
            layer.add_penalty_grads()

    def _penalty(self):
        return sum(layer.penalty() for layer in self.layers)

    def predict(self, X=None, batch_size=1024, *, allow_nonfinite=False, verbose=0, x=None):
        """Outputs for ``X`` in inference mode, in batches: probabilities for softmax /
        sigmoid cross-entropy models, raw outputs otherwise. Shape ``[n, outputs]``.
        ``verbose`` is accepted as Keras code passes it; predict prints nothing. ``x=``
        is Keras's name for ``X``."""
        if x is not None or X is None:
            X = keras_x(X, x, "predict")
        cached = self._pplan               # an array ready as is goes straight to C
        if cached is not None and cached[1] is not None and type(batch_size) is int \
                and 0 < batch_size < 2**62:
            out = cached[1].predict_fast(X, batch_size, allow_nonfinite,
                                         getattr(self, "_output_act", None))
            if out is not None:
                return out
        if not self.built:
            self._check_not_busy("build the model")
            self._build_from_input(X)
        X = check_x(X, self.dtype, self.input_shape, allow_nonfinite=allow_nonfinite)
        return self._raw_outputs(X, check_positive_int(batch_size, "batch_size"),
                                 getattr(self, "_output_act", None))

    def _raw_outputs(self, X, batch_size, output_act=None):
        """The last layer's outputs in inference mode, then ``output_act`` if given (the
        loss's output activation: the C plan applies it in place, batch by batch)."""
        bs = min(batch_size, X.shape[0])
        plan = self._inference_plan(bs)
        if plan is not None:
            out = np.empty((X.shape[0],) + self.output_shape, self.dtype)
            return plan.predict(X, out, output_act)
        outs = [np.array(self._forward(X[i:i + bs], False)) for i in range(0, X.shape[0], bs)]
        z = outs[0] if len(outs) == 1 else np.concatenate(outs)
        return z if output_act is None else self._be.output(output_act, z)

    def _inference_plan(self, batch):
        """A cached C inference plan for batches up to ``batch`` (None: Python path)."""
        if self._be.name != "c":
            return None
        from fastnn import _train
        key = (batch, _train.current_threads())
        cached = self._pplan
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            plan = _train.Plan(self, batch, training=False)
        except _train.Unsupported:
            plan = None
        self._pplan = (key, plan)
        return plan

    def evaluate(self, X=None, y=None, batch_size=1024, *, sample_weight=None, verbose=0,
                 allow_nonfinite=False, return_dict=True, x=None):
        """``{"loss": ..., <metric>: ...}`` on ``(X, y)`` in inference mode. Keras returns
        a list by default: ``return_dict=False`` gives Keras's ``[loss, <metric>, ...]``
        (the loss alone without metrics). ``x=`` is Keras's name for ``X``."""
        X = keras_x(X, x, "evaluate")
        if y is None:
            raise TypeError("evaluate() needs the targets y")
        if self.compiled and not self.built:      # as predict: an untrained model's loss
            self._check_not_busy("build the model")
            self._build_from_input(X)
        self._require()
        X = check_x(X, self.dtype, self.input_shape, allow_nonfinite=allow_nonfinite)
        y = check_y(y, X.shape[0], self.loss, self.output_shape[0], self.dtype)
        sw = check_sample_weight(sample_weight, X.shape[0], self.dtype)
        z = self._raw_outputs(X, check_positive_int(batch_size, "batch_size"))
        loss, _ = self._be.loss(self.loss, z, y, sw)
        logs = {"loss": float(loss) + self._penalty()}
        out = self._be.output(self._output_act, z)
        for name, fn in self.metrics:
            logs[name] = float(fn(y, out))
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if not return_dict:
            return logs["loss"] if len(logs) == 1 else list(logs.values())
        return logs

    # ---- weights ----------------------------------------------------------------
    def get_weights(self):
        """Copies of every parameter and buffer array, layer by layer."""
        self._require(compiled=False)
        return [p.copy() for layer in self.layers for p in layer.params + layer.buffers]

    def set_weights(self, weights):
        """Load arrays produced by ``get_weights`` (shapes must match)."""
        from fastnn.io import _weight_views, as_weight
        self._require(compiled=False)
        views = list(_weight_views(self).items())
        weights = list(weights)
        if len(weights) != len(views):
            raise ValueError(f"set_weights expects {len(views)} arrays; got {len(weights)}")
        for i, ((name, v), w) in enumerate(zip(views, weights)):
            w = np.asarray(w)
            if w.shape != v.shape:
                raise ValueError(f"weight {i} ({name}): expected shape {v.shape}, got {w.shape}")
            weights[i] = as_weight(name, w, v.dtype, f"weight {i} ({name})")
        for (_, v), w in zip(views, weights):
            v[...] = w

    def save(self, path, epoch=None):
        """Save architecture, weights, optimizer state and step counters to ``path``
        atomically (see ``fastnn.io``); ``epoch`` records completed epochs for resuming."""
        from fastnn.io import save_model
        save_model(self, path, epoch=epoch)

    def save_weights(self, path):
        """Save the weights only, as a NumPy ``.npz`` (``layer{i}.kernel``, ...), atomically."""
        from fastnn.io import save_weights_npz
        self._require(compiled=False)
        save_weights_npz(self, path)

    def load_weights(self, path):
        """Set the weights from a ``.npz`` written by ``save_weights`` (the model must be
        built with the same layers). Raises ``fastnn.io.ModelFileError`` and leaves the
        weights unchanged when the file is damaged or does not match."""
        from fastnn.io import load_weights_npz
        self._require(compiled=False)
        load_weights_npz(self, path)

    # ---- description --------------------------------------------------------------
    def summary(self, print_fn=print):
        """Print each layer with its output shape and parameter count."""
        self._build_from_input()
        rows = [("Layer", "Output shape", "Params")]
        for layer in self.layers:
            shape = "?" if layer.output_shape is None else str((None,) + layer.output_shape)
            rows.append((repr(layer), shape, f"{layer.count_params():,}" if self.built else "?"))
        w = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "-" * sum(w)
        out = [f'Model: "{self.name or "sequential"}"', line]
        out += ["".join(c.ljust(w[i]) for i, c in enumerate(r)) for r in rows[:1]] + [line]
        out += ["".join(c.ljust(w[i]) for i, c in enumerate(r)) for r in rows[1:]] + [line]
        total = self.count_params()
        out.append(f"Total params: {total:,}" if total is not None
                   else "Total params: ? (not built)")
        out.append(f"dtype: {self.dtype.name}, seed: {self.seed}")
        print_fn("\n".join(out))

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}], seed={self.seed}, dtype={self.dtype.name!r})"
