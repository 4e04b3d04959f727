"""Optimizers, in order of increasing complexity, each stepping the whole flat parameter
arena with one C kernel; learning-rate schedules.

Every optimizer takes ``lr`` (a number, a schedule, or any callable ``lr(step)``),
``weight_decay`` (L2 added to the gradient; decoupled for AdamW), ``clipnorm`` (global
gradient norm over all parameters, like ``torch.nn.utils.clip_grad_norm_``) and
``clipvalue`` (element-wise). Semantics follow ``torch.optim``; where Keras 3 differs:
its ``weight_decay`` is decoupled in every optimizer (here only in AdamW), its
``clipnorm`` clips each variable on its own (here: the global norm, Keras's
``global_clipnorm``), and it places Adam's and RMSProp's eps differently. Default
learning rates: 0.01 for SGD (Keras's) and Adagrad (torch's), 0.001 for the others.

The C steps flush denormal numbers to zero while they run (``fastnn.set_flush_denormal``,
on by default, as in TensorFlow; torch leaves them): a moment that only decays would
otherwise slow every step on Intel cores.
"""
import math
import weakref

import numpy as np

from fastnn._backend import default_backend
from fastnn._data import zeros_aligned

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSProp", "Adam", "AdamW", "StepDecay",
           "ExponentialDecay", "CosineDecay", "get"]


def _check(cls, name, value, lo=0.0, hi=math.inf, lo_open=False, hi_open=False):
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value > lo if lo_open else value >= lo) \
        and (value < hi if hi_open else value <= hi)
    if not ok:
        lo_b, hi_b = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ValueError(f"{cls}: {name} must be a finite number in {lo_b}{lo}, {hi}{hi_b}. "
                         f"Received: {name}={value!r}")
    return float(value)


def _aligned_copy(a):
    """``a`` in a 64-byte-aligned array, as ``build`` allocates the state (unpickled
    arrays are only as aligned as NumPy's allocator makes them)."""
    out = zeros_aligned(a.shape, a.dtype)
    out[...] = a
    return out


class _Hyper:
    """A hyperparameter's bounds, as a class attribute. ``Optimizer.__setattr__`` checks
    every assignment against them, not only the constructor's, so ``opt.beta1 = 5``
    between two fits is refused as ``Adam(beta1=5)`` is (the update kernels take the
    values as they are). Reads are plain instance attributes. ``optional``: None is
    allowed (off); ``schedule``: a callable ``lr(step)`` is allowed."""

    def __init__(self, lo=0.0, hi=math.inf, lo_open=False, hi_open=False, optional=False,
                 schedule=False):
        self.bounds = dict(lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)
        self.optional, self.schedule = optional, schedule

    def __set_name__(self, owner, name):
        self.name = name

    def check(self, obj, value):
        if (value is None and self.optional) or (self.schedule and callable(value)):
            return value
        return _check(type(obj).__name__, self.name, value, **self.bounds)


# Keras's names for the hyperparameters that fastnn spells as torch.optim does
_KERAS_NAMES = {"beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps",
                "global_clipnorm": "clipnorm"}


class Optimizer:
    """Base class: holds hyperparameters and per-parameter state arenas.

    ``learning_rate=`` (Keras's name) is accepted for ``lr``, and the property
    ``learning_rate`` reads and sets it.
    """

    state_names = ()
    default_lr = 0.001
    lr = _Hyper(schedule=True)
    weight_decay = _Hyper()
    clipnorm = _Hyper(lo_open=True, optional=True)
    clipvalue = _Hyper(lo_open=True, optional=True)

    def __init__(self, lr=None, weight_decay=0.0, clipnorm=None, clipvalue=None, *,
                 learning_rate=None, **unknown):
        cls = type(self).__name__
        if unknown:
            k = next(iter(unknown))
            hint = f"; fastnn spells it {_KERAS_NAMES[k]!r}" if k in _KERAS_NAMES else ""
            raise TypeError(f"{cls} got an unexpected keyword argument {k!r}{hint}")
        if learning_rate is not None:
            if lr is not None:
                raise TypeError(f"{cls}: pass lr or learning_rate, not both")
            lr = learning_rate
        self.lr = self.default_lr if lr is None else lr
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue = clipnorm, clipvalue
        self.iterations = 0          # steps taken; the next step is iterations + 1
        self.state = {}
        self._arena = None           # weak reference to the parameter arena it steps

    def __setattr__(self, name, value):
        spec = getattr(type(self), name, None)
        if isinstance(spec, _Hyper):
            value = spec.check(self, value)
        object.__setattr__(self, name, value)

    def __getstate__(self):
        """copy.deepcopy and pickle: the copy is bound to no arena (a deep copy would
        share the original's weak reference; a pickle cannot hold one). Its model's
        copy re-binds it; alone it steps the first model it is given, state and all."""
        state = self.__dict__.copy()
        state["_arena"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.state = {k: _aligned_copy(a) if isinstance(a, np.ndarray) else a
                      for k, a in self.state.items()}

    @property
    def learning_rate(self):
        return self.lr

    @learning_rate.setter
    def learning_rate(self, value):
        self.lr = value

    def current_lr(self, step=None):
        """Learning rate for ``step`` (default: the next step)."""
        step = self.iterations + 1 if step is None else step
        try:
            lr = float(self.lr(step)) if callable(self.lr) else self.lr
        except OverflowError:  # e.g. ExponentialDecay with decay_rate > 1, far on
            lr = math.inf
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"{type(self).__name__}: learning-rate schedule gave lr={lr} at "
                             f"step {step}")
        return lr

    def build(self, n, dtype):
        """Allocate the state arenas (same length and dtype as the parameter arena)."""
        self.state = {k: zeros_aligned(n, dtype) for k in self.active_state()}

    def active_state(self):
        return self.state_names

    def _reset(self):
        """Forget the state, the step count and the arena (its model was rebuilt)."""
        self.state, self.iterations, self._arena = {}, 0, None

    def _check_owner(self, params):
        """Raise unless this optimizer is free or already steps ``params``."""
        if self._arena is None:
            return
        if params is None or self._arena() is not params:
            raise ValueError(
                f"this {type(self).__name__} object already holds the step count and state of "
                "another model's parameters; an optimizer steps one model (as in Keras and "
                "torch.optim), so give each model its own, e.g. compile(optimizer="
                f"fastnn.{type(self).__name__}(...)) or compile(optimizer=\"adam\")")

    def _bind(self, params):
        """Tie the optimizer to the parameter arena ``params`` and allocate its state on
        first use. The update kernels read and write every state array at every
        parameter's index, so state sized or typed for another arena would be accessed
        past its end: that is refused here with a ValueError."""
        self._check_owner(params)
        if not self.state and self.active_state():
            self.build(params.size, params.dtype)
        missing = sorted(set(self.active_state()) - set(self.state))
        if missing:
            raise ValueError(f"{type(self).__name__} state lacks {missing}, which its settings "
                             f"need (it holds {sorted(self.state)})")
        for k, a in self.state.items():
            if not (isinstance(a, np.ndarray) and a.shape == params.shape and
                    a.dtype == params.dtype and a.flags.c_contiguous and a.flags.writeable):
                got = (f"shape {a.shape}, dtype {a.dtype}" if isinstance(a, np.ndarray)
                       else type(a).__name__)
                raise ValueError(
                    f"{type(self).__name__} state {k!r} does not match the parameters: "
                    f"{got}, need a writeable contiguous {params.dtype} array of shape "
                    f"{params.shape}")
        self._arena = weakref.ref(params)

    def clip(self, grads, backend=None):
        """Clip the gradient arena in place by value, then by global norm; return the norm."""
        be = backend or default_backend()
        if self.clipvalue is not None:
            be.clip_value(grads, self.clipvalue)
        if self.clipnorm is not None:
            return be.clip_norm(grads, self.clipnorm)
        return None

    def step(self, params, grads, backend=None):
        """One update of the whole arena ``params`` from ``grads`` (both 1-D)."""
        be = backend or default_backend()
        if self._arena is None or self._arena() is not params:
            self._bind(params)
        self.clip(grads, be)
        self.iterations += 1
        self._update(be, params, grads, self.iterations, self.current_lr(self.iterations))

    def get_config(self):
        cfg = {"name": type(self).__name__,
               "lr": self.lr if not callable(self.lr) else _schedule_config(self.lr),
               "weight_decay": self.weight_decay}
        if self.clipnorm is not None:
            cfg["clipnorm"] = self.clipnorm
        if self.clipvalue is not None:
            cfg["clipvalue"] = self.clipvalue
        return cfg

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                         if k != "name" and not (k == "weight_decay" and v == 0.0))
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent; with ``momentum`` (heavy ball) and optionally ``nesterov``.

    Full-batch gradient descent is ``fit(..., batch_size=None)`` with this optimizer.
    """

    default_lr = 0.01
    momentum = _Hyper(hi=1.0, hi_open=True)
    dampening = _Hyper(hi=1.0)

    def __init__(self, lr=None, momentum=0.0, nesterov=False, dampening=0.0, **kw):
        super().__init__(lr, **kw)
        self.momentum, self.dampening = momentum, dampening
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening == 0. "
                             f"Received: momentum={momentum}, dampening={dampening}")

    def active_state(self):
        return ("momentum_buffer",) if self.momentum else ()

    def _update(self, be, p, g, t, lr):
        be.sgd_step(p, g, self.state.get("momentum_buffer"), t, lr, self.momentum,
                    self.dampening, self.weight_decay, self.nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov,
                "dampening": self.dampening}


class Adagrad(Optimizer):
    """Adaptive per-weight steps lr / sqrt(Σg²) (Duchi et al. 2011)."""
    state_names = ("sum",)
    default_lr = 0.01
    lr_decay = _Hyper()
    eps = _Hyper(lo_open=True)
    initial_accumulator_value = _Hyper()

    def __init__(self, lr=None, lr_decay=0.0, eps=1e-10, initial_accumulator_value=0.0, **kw):
        super().__init__(lr, **kw)
        self.lr_decay, self.eps = lr_decay, eps
        self.initial_accumulator_value = initial_accumulator_value

    def build(self, n, dtype):
        self.state = {"sum": np.full(n, self.initial_accumulator_value, dtype=dtype)}

    def _update(self, be, p, g, t, lr):
        be.adagrad_step(p, g, self.state["sum"], t, lr, self.lr_decay, self.eps,
                        self.weight_decay)

    def get_config(self):
        return {**super().get_config(), "lr_decay": self.lr_decay, "eps": self.eps,
                "initial_accumulator_value": self.initial_accumulator_value}


class RMSProp(Optimizer):
    """Divide by a running RMS of gradients (Hinton 2012); ``centered`` per Graves (2013).

    The update is ``torch.optim.RMSprop``'s: ``p -= lr * g / (sqrt(v) + eps)`` with
    ``v = rho * v + (1 - rho) * g**2`` (``alpha=`` is torch's name for ``rho``). The
    defaults are Keras's (lr 1e-3, rho 0.9, eps 1e-7), not torch's (lr 1e-2, alpha 0.99,
    eps 1e-8); Keras adds eps inside the square root, which matters only for gradients
    near sqrt(eps) or smaller.
    """

    rho = _Hyper(hi=1.0, hi_open=True)
    eps = _Hyper(lo_open=True)
    momentum = _Hyper(hi=1.0, hi_open=True)

    def __init__(self, lr=None, rho=None, eps=1e-7, momentum=0.0, centered=False, *,
                 alpha=None, **kw):
        super().__init__(lr, **kw)
        if alpha is not None and rho is not None:
            raise TypeError("RMSProp: pass rho or alpha (torch's name for it), not both")
        rho = alpha if alpha is not None else 0.9 if rho is None else rho
        self.rho, self.eps, self.momentum = rho, eps, momentum
        self.centered = bool(centered)

    def active_state(self):
        return ("square_avg",) + (("momentum_buffer",) if self.momentum else ()) + \
            (("grad_avg",) if self.centered else ())

    def _update(self, be, p, g, t, lr):
        s = self.state
        be.rmsprop_step(p, g, s["square_avg"], s.get("momentum_buffer"), s.get("grad_avg"), t,
                        lr, self.rho, self.eps, self.weight_decay, self.momentum, self.centered)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "eps": self.eps,
                "momentum": self.momentum, "centered": self.centered}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), optional AMSGrad (Reddi et al. 2018); L2 ``weight_decay``."""
    decoupled = False
    beta1 = _Hyper(hi=1.0, hi_open=True)
    beta2 = _Hyper(hi=1.0, hi_open=True)
    eps = _Hyper(lo_open=True)

    def __init__(self, lr=None, beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=False, **kw):
        super().__init__(lr, **kw)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.amsgrad = bool(amsgrad)

    def active_state(self):
        return ("m", "v") + (("vmax",) if self.amsgrad else ())

    def _update(self, be, p, g, t, lr):
        s = self.state
        be.adam_step(p, g, s["m"], s["v"], s.get("vmax"), t, lr, self.beta1, self.beta2,
                     self.eps, self.weight_decay, self.decoupled, self.amsgrad)

    def get_config(self):
        return {**super().get_config(), "beta1": self.beta1, "beta2": self.beta2,
                "eps": self.eps, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay p ← p(1 - lr·wd) (Loshchilov & Hutter 2019)."""
    decoupled = True

    def __init__(self, lr=None, weight_decay=0.01, **kw):
        super().__init__(lr, weight_decay=weight_decay, **kw)


# ---- learning-rate schedules: callables of the optimizer step (1, 2, ...) ----------------
class _Schedule:
    def get_config(self):
        return {"name": type(self).__name__, **self.__dict__}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


class StepDecay(_Schedule):
    """lr = initial · gamma^floor((step-1) / step_size)"""

    def __init__(self, initial, step_size, gamma=0.1):
        self.initial = _check("StepDecay", "initial", initial)
        self.step_size = int(_check("StepDecay", "step_size", step_size, lo=1))
        self.gamma = _check("StepDecay", "gamma", gamma)

    def __call__(self, step):
        return self.initial * self.gamma ** ((step - 1) // self.step_size)


class ExponentialDecay(_Schedule):
    """lr = initial · rate^((step-1) / decay_steps), floored exponent if ``staircase``"""

    def __init__(self, initial, decay_steps, decay_rate, staircase=False):
        self.initial = _check("ExponentialDecay", "initial", initial)
        self.decay_steps = _check("ExponentialDecay", "decay_steps", decay_steps, lo_open=True)
        self.decay_rate = _check("ExponentialDecay", "decay_rate", decay_rate)
        self.staircase = bool(staircase)

    def __call__(self, step):
        e = (step - 1) / self.decay_steps
        return self.initial * self.decay_rate ** (math.floor(e) if self.staircase else e)


class CosineDecay(_Schedule):
    """Linear warm-up, then lr = floor + (initial - floor)·½(1 + cos(π·progress))"""

    def __init__(self, initial, decay_steps, alpha=0.0, warmup_steps=0):
        self.initial = _check("CosineDecay", "initial", initial)
        self.decay_steps = int(_check("CosineDecay", "decay_steps", decay_steps, lo=1))
        self.alpha = _check("CosineDecay", "alpha", alpha, hi=1.0)
        self.warmup_steps = int(_check("CosineDecay", "warmup_steps", warmup_steps))

    def __call__(self, step):
        if step <= self.warmup_steps:
            return self.initial * step / self.warmup_steps
        t = min(step - self.warmup_steps, self.decay_steps) / self.decay_steps
        return self.initial * (self.alpha + (1 - self.alpha) * 0.5 * (1 + math.cos(math.pi * t)))


_SCHEDULES = {c.__name__: c for c in (StepDecay, ExponentialDecay, CosineDecay)}


def _schedule_config(fn):
    if isinstance(fn, _Schedule):
        return fn.get_config()
    raise ValueError(f"learning-rate callable {fn!r} cannot be saved; use StepDecay, "
                     "ExponentialDecay or CosineDecay")


_BY_NAME = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSProp, "adam": Adam, "adamw": AdamW}


def get(spec):
    """An optimizer from a name ('adam', ...), a config dict or an ``Optimizer``."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, dict):
        cfg = dict(spec)
        cls = _BY_NAME.get(str(cfg.pop("name", "")).lower())
        if cls is None:
            raise ValueError(f"unknown optimizer config {spec!r}")
        if isinstance(cfg.get("lr"), dict):
            sc = dict(cfg["lr"])
            sched = _SCHEDULES.get(sc.pop("name", None))
            if sched is None:
                raise ValueError(f"unknown learning-rate schedule {cfg['lr']!r}")
            cfg["lr"] = sched(**sc)
        return cls(**cfg)
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    raise ValueError(f"unknown optimizer {spec!r}; expected one of {', '.join(_BY_NAME)}")
