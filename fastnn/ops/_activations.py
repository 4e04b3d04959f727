"""fastnn.ops: activations (see fastnn/ops/__init__.py for the conventions)."""

from fastnn import _act
from fastnn import _checks as _c

# name -> (kernel id = FNN_ACT_*, default alpha or None, derivative takes x instead of y)
_ACT = {"identity": (0, None, False), "step": (1, None, False), "sigmoid": (2, None, False),
        "tanh": (3, None, False), "relu": (4, None, False), "leaky_relu": (5, 0.01, False),
        "elu": (6, 1.0, False), "gelu": (7, None, True), "silu": (8, None, True),
        "softplus": (9, None, False)}
ACTIVATION_IDS = {k: v[0] for k, v in _ACT.items()}

_FWD_DOC = """{name} activation, elementwise: {math}.

Parameters
----------
x : ndarray, any shape, float32 or float64
{alpha}out : ndarray, optional
    Same shape and dtype as ``x``, C-contiguous; may be ``x`` itself (in place).

Returns
-------
y : ndarray, shape of ``x``
"""
_BWD_DOC = """Derivative of {name}: ``dx = dy * {name}'(x)``, computed from {src}.

Parameters
----------
{arg} : ndarray, any shape, float32 or float64
    The forward {what} of the activation.
dy : ndarray, shape and dtype of ``{arg}``
    Gradient of the loss with respect to the activation's output.
{alpha}out : ndarray, optional
    Same shape and dtype as ``dy``, C-contiguous; may be ``dy`` (in place).

Returns
-------
dx : ndarray, shape of ``dy``
"""
_MATH = {"identity": "y = x", "step": "y = 1 if x > 0 else 0 (Heaviside; derivative 0)",
         "sigmoid": "y = 1 / (1 + exp(-x))", "tanh": "y = tanh(x)", "relu": "y = max(x, 0)",
         "leaky_relu": "y = x if x >= 0 else alpha x", "elu": "y = x if x >= 0 else "
         "alpha (exp(x) - 1)", "gelu": "y = x Phi(x) (exact, erf)", "silu": "y = x sigmoid(x)"
         " (swish)", "softplus": "y = log(1 + exp(x))"}


def _alpha(name, alpha):
    # y-based derivatives need sign(y) == sign(x): alpha >= 0 (leaky_relu), > 0 (elu)
    return _c.number("alpha", alpha, lo=0.0, lo_open=(name == "elu"))


def _act_fwd(name, x, alpha, out):
    x = _c.array("x", x)
    y = _c.out_or_new("out", out, x.dtype, x.shape, {"x": x})
    _act.act_fwd(_ACT[name][0], alpha, x.reshape(-1), y.reshape(-1))
    return y


def _act_bwd(name, xy, dy, alpha, out):
    xy = _c.array("x" if _ACT[name][2] else "y", xy)
    dy = _c.same_shape("dy", _c.array("dy", dy, xy.dtype), xy.shape)
    dx = _c.out_or_new("out", out, dy.dtype, dy.shape, {"x/y": xy, "dy": dy})
    _act.act_bwd(_ACT[name][0], alpha, xy.reshape(-1), dy.reshape(-1), dx.reshape(-1))
    return dx


def _make_act(name):
    default = _ACT[name][1]
    arg, src, what = ("x", "the input x", "input") if _ACT[name][2] else \
        ("y", "the output y (no need to keep x)", "output")
    adoc = f"alpha : float, default {default}\n" if default is not None else ""
    if default is None:
        def fwd(x, out=None):
            return _act_fwd(name, x, 0.0, out)

        def bwd(xy, dy, out=None):
            return _act_bwd(name, xy, dy, 0.0, out)
    else:
        def fwd(x, alpha=default, out=None):
            return _act_fwd(name, x, _alpha(name, alpha), out)

        def bwd(xy, dy, alpha=default, out=None):
            return _act_bwd(name, xy, dy, _alpha(name, alpha), out)
    fwd.__name__ = fwd.__qualname__ = name
    bwd.__name__ = bwd.__qualname__ = name + "_backward"
    fwd.__doc__ = _FWD_DOC.format(name=name, math=_MATH[name], alpha=adoc)
    bwd.__doc__ = _BWD_DOC.format(name=name, src=src, arg=arg, what=what, alpha=adoc)
    return fwd, bwd


for _n in _ACT:
    globals()[_n], globals()[_n + "_backward"] = _make_act(_n)
swish, swish_backward = silu, silu_backward  # noqa: F821 (defined just above)
__all__ = list(_ACT) + [n + "_backward" for n in _ACT] + ["swish", "swish_backward"]


def _rows(x):
    if x.ndim == 0:
        raise ValueError("softmax needs at least 1 dimension, got a 0-d array")
    cols = x.shape[-1]
    return (x.size // cols if cols else 0), cols


def softmax(x, out=None):
    """Softmax over the last axis, stable for large logits (max subtracted).

    Parameters
    ----------
    x : ndarray, shape (..., c), float32 or float64
    out : ndarray, optional, shape and dtype of ``x`` (may be ``x``)

    Returns
    -------
    y : ndarray, shape (..., c); each row sums to 1
    """
    x = _c.array("x", x)
    rows, cols = _rows(x)
    y = _c.out_or_new("out", out, x.dtype, x.shape, {"x": x})
    _act.softmax_fwd(x.reshape(-1), y.reshape(-1), rows, cols, False)
    return y


def log_softmax(x, out=None):
    """Log-softmax over the last axis: ``x - max - log(sum(exp(x - max)))``.

    Parameters
    ----------
    x : ndarray, shape (..., c), float32 or float64
    out : ndarray, optional, shape and dtype of ``x`` (may be ``x``)

    Returns
    -------
    y : ndarray, shape (..., c)
    """
    x = _c.array("x", x)
    rows, cols = _rows(x)
    y = _c.out_or_new("out", out, x.dtype, x.shape, {"x": x})
    _act.softmax_fwd(x.reshape(-1), y.reshape(-1), rows, cols, True)
    return y


def _softmax_bwd(y, dy, out, log):
    y = _c.array("y", y)
    dy = _c.same_shape("dy", _c.array("dy", dy, y.dtype), y.shape)
    rows, cols = _rows(y)
    dx = _c.out_or_new("out", out, y.dtype, y.shape, {"y": y, "dy": dy})
    _act.softmax_bwd(y.reshape(-1), dy.reshape(-1), dx.reshape(-1), rows, cols, log)
    return dx


def softmax_backward(y, dy, out=None):
    """Backward of softmax from its output: ``dx = y * (dy - sum(dy * y, axis=-1))``.

    Parameters
    ----------
    y : ndarray, shape (..., c), output of :func:`softmax`
    dy : ndarray, shape (..., c)
    out : ndarray, optional

    Returns
    -------
    dx : ndarray, shape (..., c)
    """
    return _softmax_bwd(y, dy, out, False)


def log_softmax_backward(y, dy, out=None):
    """Backward of log_softmax from its output: ``dx = dy - exp(y) * sum(dy, axis=-1)``.

    Parameters
    ----------
    y : ndarray, shape (..., c), output of :func:`log_softmax`
    dy : ndarray, shape (..., c)
    out : ndarray, optional

    Returns
    -------
    dx : ndarray, shape (..., c)
    """
    return _softmax_bwd(y, dy, out, True)


__all__ += ["softmax", "log_softmax", "softmax_backward", "log_softmax_backward"]
