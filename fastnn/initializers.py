"""Weight initialisers: Glorot/Xavier, He, LeCun (uniform and normal), zeros, constant.

Each initialiser is a callable ``init(shape, fan_in, fan_out, rng, dtype) -> ndarray``.
References: Glorot & Bengio (2010); He et al. (2015); LeCun et al. (1998).
"""
import numpy as np

__all__ = ["Initializer", "Constant", "Zeros", "Ones", "VarianceScaling", "GlorotUniform",
           "GlorotNormal", "HeUniform", "HeNormal", "LeCunUniform", "LeCunNormal", "get",
           "default_for"]


class Initializer:
    """Base class: subclasses implement ``__call__(shape, fan_in, fan_out, rng, dtype)``."""

    name = "initializer"

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class Constant(Initializer):
    name = "constant"

    def __init__(self, value=0.0):
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"Constant initializer needs a finite value. Received: value={value}")
        self.value = value

    def __call__(self, shape, fan_in, fan_out, rng, dtype):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "value": self.value}


class Zeros(Constant):
    name = "zeros"

    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {"name": self.name}


class Ones(Constant):
    name = "ones"

    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {"name": self.name}


class VarianceScaling(Initializer):
    """Var(w) = scale / fan, fan in {fan_in, fan_out, mean}; uniform or (untruncated) normal."""

    name = "variance_scaling"

    def __init__(self, scale=1.0, mode="fan_in", distribution="uniform"):
        if not (scale > 0 and np.isfinite(scale)):
            raise ValueError(f"scale must be positive and finite. Received: scale={scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError("mode must be 'fan_in', 'fan_out' or 'fan_avg'. "
                             f"Received: mode={mode!r}")
        if distribution not in ("uniform", "normal"):
            raise ValueError("distribution must be 'uniform' or 'normal'. "
                             f"Received: distribution={distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, fan_in, fan_out, rng, dtype):
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * var)
            w = rng.uniform(-limit, limit, size=shape)
        else:
            w = rng.normal(0.0, np.sqrt(var), size=shape)
        return w.astype(dtype)

    def get_config(self):
        return {"name": self.name, "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution}


def _preset(cls_name, scale, mode, distribution, key):
    def __init__(self):
        VarianceScaling.__init__(self, scale, mode, distribution)

    def get_config(self):
        return {"name": key}

    return type(cls_name, (VarianceScaling,),
                {"__init__": __init__, "get_config": get_config, "name": key,
                 "__doc__": f"{cls_name}: Var(w) = {scale}/{mode}, {distribution}."})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform", "glorot_uniform")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "normal", "glorot_normal")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform", "he_uniform")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "normal", "he_normal")
LeCunUniform = _preset("LeCunUniform", 1.0, "fan_in", "uniform", "lecun_uniform")
LeCunNormal = _preset("LeCunNormal", 1.0, "fan_in", "normal", "lecun_normal")

_BY_NAME = {c.name: c for c in (Zeros, Ones, GlorotUniform, GlorotNormal, HeUniform, HeNormal,
                                LeCunUniform, LeCunNormal)}
_BY_NAME.update({"xavier_uniform": GlorotUniform, "xavier_normal": GlorotNormal,
                 "kaiming_uniform": HeUniform, "kaiming_normal": HeNormal})


def get(spec):
    """An initialiser from a name, a config dict, an ``Initializer`` or a number (constant)."""
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return Constant(spec)
    if isinstance(spec, dict):
        cfg = dict(spec)
        name = cfg.pop("name", None)
        if name == "constant":
            return Constant(**cfg)
        if name == "variance_scaling":
            return VarianceScaling(**cfg)
        if name in _BY_NAME and not cfg:
            return _BY_NAME[name]()
        raise ValueError(f"unknown initializer config {spec!r}")
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    raise ValueError(f"unknown initializer {spec!r}; expected one of "
                     f"{', '.join(sorted(_BY_NAME))}, 'constant' or a number")


def default_for(activation):
    """He for the ReLU family (He et al. 2015), Glorot for saturating/linear activations."""
    if activation in ("relu", "leaky_relu", "elu", "gelu", "silu", "swish", "softplus"):
        return HeUniform()
    return GlorotUniform()
