"""Batch norm and layer norm (src_c/norm.c) against fastnn._ref, with gradient checks."""
import numpy as np
import pytest

import fastnn as fn
from fastnn import _ref, ops

pytestmark = pytest.mark.kernels

SHAPES = [(1, 1), (2, 3), (7, 13), (97, 130), (4001, 17)]
RTOL = {np.float32: 2e-5, np.float64: 1e-11}


def _params(c, dtype, rng):
    return (rng.uniform(0.5, 2, c).astype(dtype), rng.standard_normal(c).astype(dtype))


def _close(a, b, dtype):
    np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(b).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm(isa, dtype, shape, rng):
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    gamma, beta = _params(shape[1], dtype, rng)
    rm, rv = rng.standard_normal(shape[1]).astype(dtype), np.ones(shape[1], dtype)
    rm2, rv2 = rm.copy(), rv.copy()
    y, mean, invstd = ops.batch_norm(x, gamma, beta, rm, rv, momentum=0.2)
    ry, rmean, rinvstd = _ref.batch_norm(x, gamma, beta, rm2, rv2, momentum=0.2)
    for a, b in ((y, ry), (mean, rmean), (invstd, rinvstd), (rm, rm2), (rv, rv2)):
        _close(a, b, dtype)
    dx, dg, db = ops.batch_norm_backward(x, dy, gamma, mean, invstd)
    for a, b in zip((dx, dg, db), _ref.batch_norm_backward(x, dy, gamma, mean, invstd)):
        _close(a, b, dtype)
    ye, m0, s0 = ops.batch_norm(x, gamma, beta, rm, rv, training=False)
    assert m0 is None and s0 is None
    _close(ye, _ref.batch_norm(x, gamma, beta, rm, rv, training=False)[0], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_running_variance_biased_as_keras(isa, dtype, shape, rng):
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    gamma, beta = _params(shape[1], dtype, rng)
    rm, rv = np.zeros(shape[1], dtype), np.ones(shape[1], dtype)
    rm2, rv2 = rm.copy(), rv.copy()
    y, _, _ = ops.batch_norm(x, gamma, beta, rm, rv, momentum=0.2, unbiased=False)
    ry, _, _ = _ref.batch_norm(x, gamma, beta, rm2, rv2, momentum=0.2, unbiased=False)
    keras = 0.8 + 0.2 * x.astype(np.float64).var(axis=0)          # ddof=0
    for a, b in ((y, ry), (rm, rm2), (rv, rv2), (rv, keras)):
        _close(a, b, dtype)


def test_batch_normalization_keeps_kerass_running_variance_through_fit_and_files(tmp_path):
    """Keras's BatchNormalization averages the biased batch variance; fastnn's factory of
    that name did the unbiased one (PyTorch's): eval outputs 1.6% apart at batch 32."""
    X = np.random.default_rng(0).standard_normal((32, 5)) * 2 + 1
    y = np.random.default_rng(1).integers(0, 3, 32)
    runs = []
    for path in ("fit", "train_on_batch"):
        m = fn.Sequential([fn.BatchNormalization(momentum=0.5), fn.Dense(5, 3)], seed=0,
                          dtype="float64")
        m.compile(optimizer=fn.SGD(0.0), loss="softmax_cross_entropy")
        if path == "fit":
            m.fit(X, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
        else:
            m.train_on_batch(X, y)
        bn = m.layers[0]
        np.testing.assert_allclose(bn.buffers[1], 0.5 + 0.5 * X.var(axis=0), rtol=1e-12)
        np.testing.assert_allclose(bn.buffers[0], 0.5 * X.mean(axis=0), rtol=1e-12)
        runs.append(m)
    runs[0].save(tmp_path / "bn.fnn")
    loaded = fn.load_model(tmp_path / "bn.fnn")
    assert loaded.layers[0].unbiased is False
    torch_like = fn.Sequential([fn.BatchNorm(momentum=0.5), fn.Dense(5, 3)], seed=0,
                               dtype="float64")
    torch_like.compile(optimizer=fn.SGD(0.0), loss="softmax_cross_entropy")
    torch_like.fit(X, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    np.testing.assert_allclose(torch_like.layers[0].buffers[1],
                               0.5 + 0.5 * X.var(axis=0, ddof=1), rtol=1e-12)
    with pytest.raises(TypeError, match="unbiased must be True or False"):
        fn.BatchNorm(unbiased="no")
    with pytest.raises(TypeError, match="unbiased must be True or False"):    # not bool()
        ops.batch_norm(X, np.ones(5), np.zeros(5), np.zeros(5), np.ones(5), unbiased="False")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES + [(3, 1000)])
def test_layer_norm(isa, dtype, shape, rng):
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    gamma, beta = _params(shape[1], dtype, rng)
    out = ops.layer_norm(x, gamma, beta)
    for a, b in zip(out, _ref.layer_norm(x, gamma, beta)):
        _close(a, b, dtype)
    y, mean, invstd = out
    got = ops.layer_norm_backward(x, dy, gamma, mean, invstd)
    for a, b in zip(got, _ref.layer_norm_backward(x, dy, gamma, mean, invstd)):
        _close(a, b, dtype)


@pytest.mark.parametrize("layer", [False, True])
def test_gradient_finite_differences(layer, rng):
    x = rng.standard_normal((5, 4))
    w = rng.standard_normal((5, 4))
    gamma, beta = _params(4, np.float64, rng)

    def f(x, gamma, beta):
        if layer:
            return (w * ops.layer_norm(x, gamma, beta)[0]).sum()
        return (w * ops.batch_norm(x, gamma, beta, np.zeros(4), np.ones(4))[0]).sum()

    if layer:
        _, mean, invstd = ops.layer_norm(x, gamma, beta)
        dx, dg, db = ops.layer_norm_backward(x, w, gamma, mean, invstd)
    else:
        _, mean, invstd = ops.batch_norm(x, gamma, beta, np.zeros(4), np.ones(4))
        dx, dg, db = ops.batch_norm_backward(x, w, gamma, mean, invstd)
    h = 1e-6
    for k, (arr, grad) in enumerate(((x, dx), (gamma, dg), (beta, db))):
        fd = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            args = [x, gamma, beta]
            e = np.zeros_like(arr)
            e[i] = h
            args[k] = arr + e
            fp = f(*args)
            args[k] = arr - e
            fd[i] = (fp - f(*args)) / (2 * h)
        assert np.abs(grad - fd).max() / np.abs(fd).max() < 1e-6


def test_bit_identical_across_threads(threads, rng):
    x = rng.standard_normal((5001, 130)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    g, b = _params(130, np.float32, rng)
    res = []
    for t in (1, 2, 3):
        threads(t)
        y, m, s = ops.batch_norm(x, g, b, np.zeros(130, np.float32), np.ones(130, np.float32))
        ly, lm, ls = ops.layer_norm(x, g, b)
        res.append((y, m, s, *ops.batch_norm_backward(x, dy, g, m, s), ly,
                    *ops.layer_norm_backward(x, dy, g, lm, ls)))
    for r in res[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(r, res[0]))


def test_validation():
    x = np.ones((4, 3))
    g, b = np.ones(3), np.zeros(3)
    with pytest.raises(ValueError, match="gamma"):
        ops.layer_norm(x, np.ones(4), b)
    with pytest.raises(ValueError, match="eps"):
        ops.layer_norm(x, g, b, eps=0)
    with pytest.raises(ValueError, match="momentum"):
        ops.batch_norm(x, g, b, np.zeros(3), np.ones(3), momentum=2)
    with pytest.raises(ValueError, match="running_var"):
        ops.batch_norm(x, g, b, np.zeros(3), np.ones(4))
    with pytest.raises(ValueError, match="at least one sample"):
        ops.batch_norm(np.ones((0, 3)), g, b, np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="at least one feature"):   # mean of no values
        ops.layer_norm(np.ones((4, 0)), np.ones(0), np.zeros(0))
    y, mean, invstd = ops.layer_norm(np.ones((0, 3)), g, b)       # no rows: nothing to do
    assert y.shape == (0, 3) and mean.shape == invstd.shape == (0,)
    with pytest.raises(ValueError, match="2-D"):
        ops.layer_norm(np.ones(3), g, b)
    with pytest.raises(TypeError, match="dtype"):
        ops.layer_norm(x, g.astype(np.float32), b)


def test_keras_names_give_the_same_layers_with_kerass_defaults():
    bn, ln = fn.BatchNormalization(), fn.LayerNormalization(epsilon=1e-5)
    assert type(bn) is fn.BatchNorm and (bn.momentum, bn.eps) == (0.99, 1e-3)
    assert type(ln) is fn.LayerNorm and ln.eps == 1e-5
    assert fn.BatchNormalization(momentum=0.9, epsilon=1e-5).get_config() == \
        fn.BatchNorm(unbiased=False).get_config()          # Keras's biased running variance
    for bad, exc in ((lambda: fn.BatchNormalization(axis=0), ValueError),
                     (lambda: fn.BatchNormalization(center=False), ValueError),
                     (lambda: fn.LayerNormalization(scale=False), ValueError),
                     (lambda: fn.BatchNormalization(renorm=True), TypeError),
                     (lambda: fn.BatchNormalization(momentum=1.0), ValueError)):
        with pytest.raises(exc):
            bad()


def test_layer_norm_backward_refuses_out_sharing_x_or_dy():
    """dgamma / dbeta sum over x and dy after dx is written: out=x or out=dy was wrong."""
    r = np.random.default_rng(0)
    x = r.standard_normal((6, 10)).astype(np.float32)
    _, mean, invstd = ops.layer_norm(x, np.ones(10, np.float32), np.zeros(10, np.float32))
    dy = r.standard_normal((6, 10)).astype(np.float32)
    for out in (x, dy):
        with pytest.raises(ValueError, match="shares memory with"):
            ops.layer_norm_backward(x, dy, np.ones(10, np.float32), mean, invstd, out=out)
