"""Activation names and their kernel ids.

Element-wise: identity (linear), step (Heaviside), sigmoid, tanh, relu, leaky_relu(alpha),
elu(alpha), gelu, silu (swish), softplus; row-wise: softmax, log_softmax.
An activation is given as a name, ``None`` (identity) or ``(name, alpha)``,
e.g. ``("leaky_relu", 0.1)``.
"""
import math

__all__ = ["ELEMENTWISE", "ROWWISE", "GEMM_FUSABLE", "ACT_ID", "parse", "to_config", "to_repr"]

# ids shared with src_c/fastnn.h (FNN_ACT_*)
ACT_ID = {"identity": 0, "step": 1, "sigmoid": 2, "tanh": 3, "relu": 4, "leaky_relu": 5,
          "elu": 6, "gelu": 7, "silu": 8, "softplus": 9}
ELEMENTWISE = tuple(ACT_ID)
ROWWISE = ("softmax", "log_softmax")
# applied inside the GEMM epilogue; the rest run as a separate element-wise pass
GEMM_FUSABLE = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
# derivative needs the pre-activation x (not only the output y)
NEEDS_INPUT = ("gelu", "silu")
DEFAULT_PARAM = {"leaky_relu": 0.01, "elu": 1.0}
ALIASES = {None: "identity", "linear": "identity", "none": "identity", "swish": "silu",
           "heaviside": "step", "lrelu": "leaky_relu"}


def parse(spec):
    """``(name, param)`` from ``None``, a name or ``(name, param)``; raises on unknown names."""
    param = None
    if isinstance(spec, (tuple, list)):
        if len(spec) != 2:
            raise ValueError("activation tuple must be (name, alpha). "
                             f"Received: activation={spec!r}")
        spec, param = spec
    key = spec.lower() if isinstance(spec, str) else spec
    name = ALIASES.get(key, key)
    if name not in ELEMENTWISE and name not in ROWWISE:
        raise ValueError(f"unknown activation {spec!r}; expected one of "
                         f"{', '.join(ELEMENTWISE + ROWWISE)} (or None)")
    if param is None:
        param = DEFAULT_PARAM.get(name, 0.0)
    elif name not in DEFAULT_PARAM:
        raise ValueError(f"activation {name!r} takes no parameter. Received: {param!r}")
    param = float(param)
    if not math.isfinite(param):
        raise ValueError(f"activation parameter must be finite. Received: {name}={param}")
    if name == "elu" and param <= 0:
        raise ValueError(f"elu alpha must be > 0 (its derivative is read from the output). "
                         f"Received: alpha={param}")
    if name == "leaky_relu" and param < 0:
        raise ValueError(f"leaky_relu alpha must be >= 0. Received: alpha={param}")
    return name, param


def to_config(name, param):
    return [name, param] if name in DEFAULT_PARAM else name


def to_repr(name, param):
    return f"{name}({param:g})" if name in DEFAULT_PARAM and param != DEFAULT_PARAM[name] else name
