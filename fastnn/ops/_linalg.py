"""fastnn.ops: GEMM (see fastnn/ops/__init__.py for the conventions)."""
import numpy as np

from fastnn import _checks as _c
from fastnn import _gemm, _reduce

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
    if _c.nonfinite_allowed():
        return _gemm.matmul(a, b, trans_a=trans_a, trans_b=trans_b, bias=bias,
                            activation=activation, alpha=alpha, beta=beta, out=out,
                            preact=preact, dact_y=dact_y)
    for name, arr in (("bias", bias), ("out", out if beta != 0 else None)):
        if arr is not None:
            _c.finite(name, np.asarray(arr))
    # NaN or inf anywhere in a or b reaches z = alpha op(a) op(b) + ...: a NaN spreads
    # along its row or column and inf * x is inf or (x = 0) NaN. So rather than scan the
    # operands, which costs as much as a small GEMM, check z (m x n) and scan them only to
    # name the culprit. z is out itself without an activation; with one it is preact,
    # into a scratch array when the caller passed none (relu(NaN) would read as 0).
    z_out = preact is None and dact_y is None and activation in (None, "identity")
    if preact is None and not z_out:
        preact = _scratch_preact(a, b, trans_a, trans_b)
    res = _gemm.matmul(a, b, trans_a=trans_a, trans_b=trans_b, bias=bias,
                       activation=activation, alpha=alpha, beta=beta, out=out,
                       preact=preact, dact_y=dact_y)
    z = res if z_out else preact
    if z is None or z.size == 0 or alpha == 0 or not _finite(z):
        for name, arr in (("a", a), ("b", b)):   # (a finite z may also have overflowed)
            _c.finite(name, np.asarray(arr))
    return res


def _finite(z):
    """Whether z (C-contiguous, float) holds no NaN or inf, in one vectorised C pass."""
    return _reduce.all_finite(z.reshape(-1))


def _scratch_preact(a, b, trans_a, trans_b):
    """An uninitialised (m, n) array for z, or None if a and b are not float matrices
    (then the kernel's own checks raise, or the operands get scanned)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.dtype.kind != "f":
        return None
    return np.empty((a.shape[1] if trans_a else a.shape[0],
                     b.shape[0] if trans_b else b.shape[1]), a.dtype)
