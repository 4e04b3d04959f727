"""Activations (src_c/act.c, fastnn/_act.pyx) against fastnn._ref, plus gradient checks."""
import numpy as np
import pytest

from fastnn import _ref, ops

pytestmark = pytest.mark.kernels

ACTS = list(ops.ACTIVATION_IDS)
USES_X = {"gelu", "silu"}
ALPHA = {"leaky_relu": 0.1, "elu": 0.7}
SIZES = [0, 1, 7, 97, 40009]
TOL = {np.float32: dict(rtol=2e-6, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}


def _kw(name):
    return {"alpha": ALPHA[name]} if name in ALPHA else {}


def _fwd_bwd(mod, name, x, dy):
    y = getattr(mod, name)(x, **_kw(name))
    dx = getattr(mod, name + "_backward")(x if name in USES_X else y, dy, **_kw(name))
    return y, dx


@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
def test_matches_ref(isa, name, dtype, n, rng):
    x = (rng.standard_normal(n) * 3).astype(dtype)
    dy = rng.standard_normal(n).astype(dtype)
    y, dx = _fwd_bwd(ops, name, x, dy)
    ry, rdx = _fwd_bwd(_ref, name, x, dy)
    assert y.dtype == dtype and dx.dtype == dtype
    np.testing.assert_allclose(y, ry, **TOL[dtype])
    np.testing.assert_allclose(dx, rdx, **TOL[dtype])


@pytest.mark.parametrize("name", ACTS + ["softmax", "log_softmax"])
def test_bit_identical_across_threads(threads, name, rng):
    x = rng.standard_normal((301, 257)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for t in (1, 2, 3):
        threads(t)
        if name in ("softmax", "log_softmax"):
            y = getattr(ops, name)(x)
            dx = getattr(ops, name + "_backward")(y, dy)
        else:
            y, dx = _fwd_bwd(ops, name, x, dy)
        results.append((y, dx))
    for y, dx in results[1:]:
        assert np.array_equal(y, results[0][0]) and np.array_equal(dx, results[0][1])


@pytest.mark.parametrize("name", ACTS)
def test_gradient_finite_differences(name, rng):
    x = rng.standard_normal(200) * 2
    x = x[np.abs(x) > 1e-2]  # away from the kinks at 0
    h = 1e-6
    f = getattr(ops, name)
    fd = (f(x + h, **_kw(name)) - f(x - h, **_kw(name))) / (2 * h)
    _, dx = _fwd_bwd(ops, name, x, np.ones_like(x))
    err = np.abs(dx - fd) / np.maximum(np.abs(fd), 1.0)
    assert err.max() < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (7, 13), (97, 1000), (5,)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_matches_ref(isa, dtype, shape, log, rng):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    name = "log_softmax" if log else "softmax"
    # float32 row sums of up to 1000 terms differ in summation order from NumPy's
    tol = 1e-5 if dtype == np.float32 else 1e-12
    y = getattr(ops, name)(x)
    ry = getattr(_ref, name)(x)
    np.testing.assert_allclose(y, ry, rtol=tol, atol=tol * np.abs(ry).max())
    dx = getattr(ops, name + "_backward")(y, dy)
    rdx = getattr(_ref, name + "_backward")(y, dy)
    np.testing.assert_allclose(dx, rdx, rtol=tol, atol=tol * np.abs(rdx).max())


@pytest.mark.parametrize("log", [False, True])
def test_softmax_gradient_finite_differences(log, rng):
    x = rng.standard_normal((4, 6))
    w = rng.standard_normal((4, 6))  # random projection: L = sum(w * f(x))
    f = ops.log_softmax if log else ops.softmax
    bwd = ops.log_softmax_backward if log else ops.softmax_backward
    dx = bwd(f(x), w)
    fd = np.zeros_like(x)
    h = 1e-6
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        fd[i] = ((w * f(x + e)).sum() - (w * f(x - e)).sum()) / (2 * h)
    assert np.abs(dx - fd).max() / np.abs(fd).max() < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_stability(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [3.0, 3.0, 3.0]], dtype)
    y = ops.softmax(x)
    ly = ops.log_softmax(x)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(ly))
    np.testing.assert_allclose(y.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(y[0], [1, 0, 0], atol=1e-30)
    np.testing.assert_allclose(y[1:], 1 / 3, rtol=1e-6)
    np.testing.assert_allclose(ly[0], [0, -2e4, -1e4], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_do_not_overflow(dtype):
    x = np.array([-1e4, -800, -80, 0, 80, 800, 1e4], dtype)
    for name in ACTS:
        y = getattr(ops, name)(x, **_kw(name))
        assert np.all(np.isfinite(y)), name
    np.testing.assert_allclose(ops.sigmoid(x)[[0, -1]], [0, 1])
    np.testing.assert_allclose(ops.softplus(x)[-1], 1e4)


def test_in_place_and_out():
    x = np.linspace(-2, 2, 11)
    expect = _ref.tanh(x)
    out = np.empty_like(x)
    assert ops.tanh(x, out=out) is out
    np.testing.assert_allclose(out, expect)
    ops.tanh(x, out=x)
    np.testing.assert_allclose(x, expect)
    buf = np.empty(x.nbytes + 1, np.uint8)          # unaligned input: read through a copy
    odd = np.frombuffer(buf[1:].data, x.dtype)
    odd[...] = np.linspace(-2, 2, 11)
    np.testing.assert_allclose(ops.tanh(odd), expect)


@pytest.mark.parametrize("call", [
    lambda b: ops.tanh(b[:90], out=b[10:]),
    lambda b: ops.sigmoid(b[10:], out=b[:90]),
    lambda b: ops.relu_backward(b[:90], b[5:95], out=b[10:]),
    lambda b: ops.softmax(b[:90].reshape(9, 10), out=b[10:].reshape(9, 10)),
    lambda b: ops.softmax_backward(b[:90].reshape(9, 10), b[:90].reshape(9, 10),
                                   out=b[1:91].reshape(9, 10)),
    lambda b: ops.mse_loss(b[:90], b[10:], out=b[5:95]),
])
def test_out_partly_overlapping_an_input_is_refused(call):
    """The kernels would read elements already overwritten (tanh was off by 1.37): NumPy
    buffers such calls, matmul refuses them, and so do the element-wise ops."""
    b = np.linspace(-3, 3, 100)
    keep = b.copy()
    with pytest.raises(ValueError, match="partly overlaps"):
        call(b)
    np.testing.assert_array_equal(b, keep)


def test_nan_is_an_error_by_default_and_propagates_when_allowed():
    x = np.array([np.nan, np.inf, -np.inf, 1.0])
    for name in ACTS:
        with pytest.raises(ValueError, match="x contains nan at flat index 0"):
            getattr(ops, name)(x, **_kw(name))
    with ops.allow_nonfinite():
        for name in ACTS:
            getattr(ops, name)(x, **_kw(name))
        assert np.isnan(ops.relu(x)[0]) and np.isnan(ops.softmax(x)[0])


def test_validation():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.relu(np.ones(3, np.int64))
    with pytest.raises(TypeError, match="dtype"):
        ops.relu_backward(x, x.astype(np.float64))
    with pytest.raises(ValueError, match="shape"):
        ops.relu_backward(x, np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match="alpha"):
        ops.leaky_relu(x, alpha=-1)
    with pytest.raises(ValueError, match="alpha"):
        ops.elu(x, alpha=0.0)
    with pytest.raises(ValueError, match="alpha"):
        ops.elu(x, alpha=float("nan"))
    with pytest.raises(ValueError, match="shape"):
        ops.relu(x, out=np.empty((3, 5), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.relu(x, out=np.empty((4, 3), np.float32).T)
    ro = np.empty_like(x)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ops.relu(x, out=ro)
    with pytest.raises(ValueError, match="0-d"):
        ops.softmax(np.float64(1.0))
    # non-contiguous inputs are copied, not rejected
    xt = np.arange(12.0).reshape(3, 4).T
    np.testing.assert_allclose(ops.relu(xt), xt)
