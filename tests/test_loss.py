"""Losses (src_c/loss.c, fastnn/_loss.pyx) against fastnn._ref, gradient checks, stability."""
import numpy as np
import pytest

from fastnn import _ref, ops

pytestmark = pytest.mark.kernels

ELEMENTWISE = ["mse_loss", "mae_loss", "huber_loss", "binary_cross_entropy",
               "binary_cross_entropy_with_logits"]
SHAPES = [(0, 3), (1,), (1, 1), (7, 3), (97, 13), (5003, 11)]
RTOL = {np.float32: 2e-5, np.float64: 1e-12}


def _inputs(name, shape, dtype, rng):
    pred = rng.standard_normal(shape) * 2
    target = rng.standard_normal(shape)
    if name == "binary_cross_entropy":
        pred = rng.uniform(0.01, 0.99, shape)
    if name.startswith("binary"):
        target = rng.uniform(0, 1, shape)
    return pred.astype(dtype), target.astype(dtype)


def _check(loss, grad, rloss, rgrad, dtype, gscale=1e-2):
    assert grad.dtype == dtype
    np.testing.assert_allclose(loss, rloss, rtol=RTOL[dtype], atol=RTOL[dtype] * 1e-2)
    # float32 rounds products like p * sum(a) of size ~ gscale before they cancel
    scale = max(np.abs(rgrad).max() if rgrad.size else 1.0, gscale)
    np.testing.assert_allclose(grad, rgrad, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_elementwise_matches_ref(isa, name, dtype, shape, reduction, weighted, rng):
    pred, target = _inputs(name, shape, dtype, rng)
    kw = {"reduction": reduction}
    if weighted:
        kw["sample_weight"] = rng.uniform(0, 2, shape[0]).astype(dtype)
    if name == "huber_loss":
        kw["delta"] = 0.8
    loss, grad = getattr(ops, name)(pred, target, **kw)
    _check(loss, grad, *getattr(_ref, name)(pred, target, **kw), dtype)


def _xent_case(kind, n, c, dtype, rng):
    logits = (rng.standard_normal((n, c)) * 3).astype(dtype)
    if kind == "soft":
        t = rng.uniform(0, 1, (n, c))
        labels = (t / t.sum(axis=1, keepdims=True)).astype(dtype)
    else:
        labels = rng.integers(0, c, n)
    return logits, labels


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,c", [(0, 4), (1, 1), (1, 5), (7, 3), (128, 10), (257, 1000)])
@pytest.mark.parametrize("kind", ["labels", "soft"])
@pytest.mark.parametrize("opts", ["plain", "class_weight", "smoothing", "sample_weight",
                                  "all_sum"])
def test_softmax_xent_matches_ref(isa, dtype, n, c, kind, opts, rng):
    logits, labels = _xent_case(kind, n, c, dtype, rng)
    kw = {}
    if opts in ("class_weight", "all_sum"):
        kw["class_weight"] = rng.uniform(0.5, 2, c).astype(dtype)
    if opts in ("smoothing", "all_sum"):
        kw["label_smoothing"] = 0.1
    if opts in ("sample_weight", "all_sum"):
        kw["sample_weight"] = rng.uniform(0, 2, n).astype(dtype)
    if opts == "all_sum":
        kw["reduction"] = "sum"
    loss, grad = ops.softmax_cross_entropy(logits, labels, **kw)
    gscale = 4.0 / max(n, 1) if kw.get("reduction", "mean") == "mean" else 4.0
    _check(loss, grad, *_ref.softmax_cross_entropy(logits, labels, **kw), dtype, gscale)


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax_cross_entropy"])
def test_bit_identical_across_threads(threads, name, rng):
    if name == "softmax_cross_entropy":
        args = _xent_case("labels", 3001, 37, np.float32, rng)
    else:
        args = _inputs(name, (3001, 37), np.float32, rng)
    sw = rng.uniform(0, 1, 3001).astype(np.float32)
    res = []
    for t in (1, 2, 3):
        threads(t)
        res.append(getattr(ops, name)(*args, sample_weight=sw))
    for loss, grad in res[1:]:
        assert loss == res[0][0] and np.array_equal(grad, res[0][1])


def _fd_check(f, x):
    loss, grad = f(x)
    fd = np.zeros_like(x)
    h = 1e-6
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        fd[i] = (f(x + e)[0] - f(x - e)[0]) / (2 * h)
    assert np.abs(grad - fd).max() / max(np.abs(fd).max(), 1e-3) < 1e-6


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_elementwise_gradient_finite_differences(name, reduction, rng):
    pred, target = _inputs(name, (4, 3), np.float64, rng)
    if name in ("mae_loss", "huber_loss"):  # keep |pred - target| away from kinks
        d = pred - target
        pred = target + np.where(np.abs(d) < 0.05, 0.3, d)
        pred = np.where(np.abs(np.abs(pred - target) - 1.0) < 0.05, target + 0.5, pred)
    sw = rng.uniform(0.5, 2, 4)
    _fd_check(lambda p: getattr(ops, name)(p, target, sample_weight=sw, reduction=reduction),
              pred)


@pytest.mark.parametrize("kind", ["labels", "soft"])
def test_softmax_xent_gradient_finite_differences(kind, rng):
    logits, labels = _xent_case(kind, 5, 4, np.float64, rng)
    cw, sw = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 5)
    _fd_check(lambda z: ops.softmax_cross_entropy(z, labels, class_weight=cw, sample_weight=sw,
                                                  label_smoothing=0.1), logits)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_xent_stability(dtype):
    logits = np.array([[1e4, -1e4, 0], [-1e4, 1e4, 0], [5, 5, 5], [-1e4, -1e4, -1e4]], dtype)
    labels = np.array([0, 0, 1, 2])
    loss, grad = ops.softmax_cross_entropy(logits, labels, reduction="sum")
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(loss, 2e4 + 2 * np.log(3), rtol=1e-6)
    np.testing.assert_allclose(grad[0], [0, 0, 0], atol=1e-30)
    np.testing.assert_allclose(grad[1], [-1, 1, 0], atol=1e-30)
    np.testing.assert_allclose(grad[2], [1 / 3, -2 / 3, 1 / 3], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_stability(dtype):
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype)
    t = np.array([0.0, 1.0, 1.0, 0.0, 1.0], dtype)
    loss, grad = ops.binary_cross_entropy(p, t)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    z = np.array([1e4, -1e4, 1e4, -1e4, 0], dtype)
    loss, grad = ops.binary_cross_entropy_with_logits(z, t, reduction="sum")
    np.testing.assert_allclose(loss, 2e4 + np.log(2), rtol=1e-6)
    np.testing.assert_allclose(grad, [1, -1, 0, 0, -0.5], atol=1e-7)


@pytest.mark.parametrize("logits", [False, True])
def test_bce_float_vector_log_is_accurate_per_element(isa, logits):
    """float32 BCE runs a vectorised log (src_c/fnn_util.h): each element's loss and
    gradient must match float64 to float precision over the whole clamp range."""
    # float32 clamps p to [1e-7, 1 - 2^-23] (float64: 1 - 1e-7), so stay inside that
    x = np.concatenate([np.logspace(-7.2, -0.31, 60), 1 - np.logspace(-6.5, -0.31, 60),
                        [0.5]]) if not logits else \
        np.concatenate([-np.logspace(-6, 2, 60), np.logspace(-6, 2, 60), [0.0]])
    f = ops.binary_cross_entropy_with_logits if logits else ops.binary_cross_entropy
    for t in (0.0, 1.0, 0.3):
        x32, t32 = x.astype(np.float32), np.full(x.shape, t, np.float32)
        for i in range(x.size):                     # one element: its own loss
            loss, grad = f(x32[i:i + 1], t32[i:i + 1])
            want, wgrad = f(x32[i:i + 1].astype(np.float64), t32[i:i + 1].astype(np.float64))
            np.testing.assert_allclose(loss, want, rtol=3e-6, atol=1e-12, err_msg=f"x={x[i]}")
            # sigmoid(z) - t cancels: float32 keeps it to an absolute 2^-23 or so
            np.testing.assert_allclose(grad, wgrad, rtol=3e-6, atol=2e-7 if logits else 0,
                                       err_msg=f"x={x[i]}")
        loss, _ = f(x32, t32, reduction="sum")       # the whole vector at once
        np.testing.assert_allclose(loss, f(x32.astype(np.float64), t32.astype(np.float64),
                                           reduction="sum")[0], rtol=1e-6)


def test_bce_nan_propagates_through_the_vector_path():
    with ops.allow_nonfinite():
        for f in (ops.binary_cross_entropy, ops.binary_cross_entropy_with_logits):
            x = np.array([0.5, np.nan, 0.25, 0.1] * 9, np.float32)
            loss, grad = f(x, np.ones_like(x))
            assert np.isnan(loss) and np.isnan(grad[1::4]).all() and np.isfinite(grad[::4]).all()


def test_validation(rng):
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels\[1\] = 4"):
        ops.softmax_cross_entropy(z, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"labels\[0\] = -1"):
        ops.softmax_cross_entropy(z, np.array([-1, 0, 1]))
    with pytest.raises(TypeError, match="integers"):
        ops.softmax_cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="labels has shape"):
        ops.softmax_cross_entropy(z, np.array([0, 1]))
    with pytest.raises(ValueError, match="label_smoothing"):
        ops.softmax_cross_entropy(z, np.array([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="class_weight"):
        ops.softmax_cross_entropy(z, np.array([0, 1, 2]), class_weight=np.ones(3))
    with pytest.raises(ValueError, match="2-D"):
        ops.softmax_cross_entropy(np.zeros(4), np.array([0]))
    with pytest.raises(ValueError, match="reduction"):
        ops.mse_loss(z, z, reduction="avg")
    with pytest.raises(TypeError, match="dtype"):
        ops.mse_loss(z, z.astype(np.float32))
    with pytest.raises(ValueError, match="sample_weight"):
        ops.mse_loss(z, z, sample_weight=np.ones(4))
    with pytest.raises(ValueError, match="delta"):
        ops.huber_loss(z, z, delta=0)
    nan = np.full((2, 2), np.nan)
    with pytest.raises(ValueError, match="logits contains nan"):
        ops.softmax_cross_entropy(nan, np.array([0, 1]))
    with ops.allow_nonfinite():
        ops.softmax_cross_entropy(nan, np.array([0, 1]))  # NaN allowed: no crash
        ops.binary_cross_entropy(nan, nan)


def test_softmax_cross_entropy_refuses_out_sharing_its_inputs():
    """The loss reads the logits (and soft targets) after the gradient is written into
    out: out=logits gave the wrong loss."""
    r = np.random.default_rng(0)
    z = r.standard_normal((8, 5)).astype(np.float32)
    t = np.full((8, 5), 0.2, np.float32)
    for labels, out in ((np.arange(8) % 5, z), (t, t), (t, z)):
        with pytest.raises(ValueError, match="shares memory with"):
            ops.softmax_cross_entropy(z, labels, out=out)
