"""NumPy reference twins of every C kernel: the specification the kernels are tested against.

Each function has the same name and signature as its public ``fastnn.ops`` counterpart
and is written for clarity, not speed. Tests compare every kernel with its twin here.
"""
import numpy as np

__all__ = []

# ---- GEMM (src_c/gemm*.c, fastnn/_gemm.pyx) ----
__all__ += ["matmul"]

_GEMM_ACT = {  # forward activation of the epilogue: z -> y
    "identity": lambda z, s: z,
    "relu": lambda z, s: np.where(z > 0, z, 0),
    "leaky_relu": lambda z, s: np.where(z > 0, z, s * z),
    "sigmoid": lambda z, s: 1 / (1 + np.exp(-z)),
    "tanh": lambda z, s: np.tanh(z),
}
_GEMM_DACT = {  # act'(z) written with the forward output y = act(z)
    "identity": lambda y, s: np.ones_like(y),
    "relu": lambda y, s: (y > 0).astype(y.dtype),
    "leaky_relu": lambda y, s: np.where(y > 0, 1, s).astype(y.dtype),
    "sigmoid": lambda y, s: y * (1 - y),
    "tanh": lambda y, s: 1 - y * y,
}


def matmul(a, b, *, trans_a=False, trans_b=False, bias=None, activation=None, alpha=1.0,
           beta=0.0, out=None, preact=None, dact_y=None):
    """C := act(alpha * op(a) @ op(b) + beta * C + bias); dact_y: C := z * act'(dact_y)."""
    a, b = np.asarray(a), np.asarray(b)
    name, slope = "identity", 0.01
    if isinstance(activation, tuple):
        name, slope = activation
    elif activation is not None:
        name = activation
    name = name.lower()
    z = alpha * ((a.T if trans_a else a) @ (b.T if trans_b else b))
    if beta != 0:
        z = z + beta * out
    if bias is not None:
        z = z + bias
    if preact is not None:
        preact[...] = z
    with np.errstate(over="ignore"):
        c = z * _GEMM_DACT[name](dact_y, slope) if dact_y is not None else _GEMM_ACT[name](z, slope)
    if out is None:
        return c.astype(a.dtype)
    out[...] = c
    return out

# ---- activations (src_c/act.c) ----

# ---- losses (src_c/loss.c) ----

# ---- reductions, regularisation, clipping (src_c/reduce.c) ----

# ---- normalisation (src_c/norm.c) ----

# ---- dropout and RNG (src_c/rng.c) ----

# ---- optimizers (src_c/optim.c) ----
