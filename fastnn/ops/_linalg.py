"""fastnn.ops: GEMM (see fastnn/ops/__init__.py for the conventions)."""
import numpy as np

from fastnn import _checks as _c
from fastnn import _gemm

__all__ = ["matmul"]


def matmul(a, b, *, trans_a=False, trans_b=False, bias=None, activation=None, alpha=1.0,
           beta=0.0, out=None, preact=None, dact_y=None):
    """C := act(alpha * op(a) @ op(b) + beta * C + bias), fused in one C kernel.

    Parameters
    ----------
    a : ndarray, float32 or float64, shape (m, k), or (k, m) if ``trans_a``
    b : ndarray, same dtype, shape (k, n), or (n, k) if ``trans_b``
        Rows must be contiguous (any row stride >= row length is fine); pass a
        transposed operand through ``trans_a``/``trans_b`` instead of ``x.T``.
    trans_a, trans_b : bool
        ``op(x) = x.T`` when set (forward NN, weight gradient TN, input gradient NT).
    bias : ndarray, shape (n,), optional
    activation : None, str or (str, float)
        ``None``/``"identity"``, ``"relu"``, ``"leaky_relu"`` (slope 0.01, or
        ``("leaky_relu", slope)``), ``"sigmoid"``, ``"tanh"``.
    alpha, beta : float
        ``beta != 0`` accumulates into ``out`` (which must then hold C); ``beta == 0``
        never reads ``out``.
    out : ndarray, shape (m, n), optional
        Filled and returned; a new array when omitted.
    preact : ndarray, shape (m, n), optional
        Receives ``z = alpha*op(a)@op(b) + beta*C + bias`` before the activation.
    dact_y : ndarray, shape (m, n), optional
        Backward mode: ``C := z * act'(Y)`` with Y = ``dact_y`` the forward output of
        ``activation`` (relu: Y>0, leaky_relu: Y>0 ? 1 : slope, sigmoid: Y(1-Y),
        tanh: 1-Y**2, identity: 1).

    Returns
    -------
    out : ndarray, shape (m, n)
    """
    for name, arr in (("a", a), ("b", b), ("bias", bias)):
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "f":
            _c.finite(name, arr)
    return _gemm.matmul(a, b, trans_a=trans_a, trans_b=trans_b, bias=bias,
                        activation=activation, alpha=alpha, beta=beta, out=out,
                        preact=preact, dact_y=dact_y)
