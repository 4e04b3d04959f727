"""Reductions (src_c/reduce.c): bias gradient, global norm, penalties, clipping."""
import numpy as np
import pytest

from fastnn import _ref, ops

pytestmark = pytest.mark.kernels

SIZES = [0, 1, 7, 97, 100003]
RTOL = {np.float32: 1e-6, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0, 3), (1, 1), (7, 3), (97, 130), (40009, 5), (3, 0)])
@pytest.mark.parametrize("accumulate", [False, True])
def test_bias_grad(isa, dtype, shape, accumulate, rng):
    dy = rng.standard_normal(shape).astype(dtype)
    out = rng.standard_normal(shape[1]).astype(dtype)
    expect = _ref.bias_grad(dy, out.copy(), accumulate)
    got = ops.bias_grad(dy, out, accumulate)
    assert got is out
    np.testing.assert_allclose(got, expect, rtol=RTOL[dtype], atol=RTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
def test_norm_and_penalties(isa, dtype, n, rng):
    p = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    np.testing.assert_allclose(ops.grad_norm(g), _ref.grad_norm(g), rtol=1e-12)
    for name in ("l1_penalty", "l2_penalty"):
        g1, g2 = g.copy(), g.copy()
        v1 = getattr(ops, name)(p, 0.3, grad=g1)
        v2 = getattr(_ref, name)(p, 0.3, grad=g2)
        np.testing.assert_allclose(v1, v2, rtol=1e-12)
        np.testing.assert_allclose(g1, g2, rtol=RTOL[dtype])
        assert getattr(ops, name)(p, 0.3) == v1  # value only, no gradient


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
def test_clipping(isa, dtype, n, rng):
    g = (rng.standard_normal(n) * 3).astype(dtype)
    a, b = g.copy(), g.copy()
    ops.clip_by_value(a, 1.5)
    _ref.clip_by_value(b, 1.5)
    assert np.array_equal(a, b)
    for max_norm in (0.5, 1e9):
        a, b = g.copy(), g.copy()
        na, nb = ops.clip_by_norm(a, max_norm), _ref.clip_by_norm(b, max_norm)
        np.testing.assert_allclose(na, nb, rtol=1e-12)
        np.testing.assert_allclose(a, b, rtol=RTOL[dtype])
        assert ops.grad_norm(a) <= max_norm * (1 + 1e-5) or max_norm > na


def test_bit_identical_across_threads(threads, rng):
    g = rng.standard_normal(1_000_003).astype(np.float32)
    dy = rng.standard_normal((20011, 70)).astype(np.float32)
    res = []
    for t in (1, 2, 3):
        threads(t)
        c = g.copy()
        res.append((ops.grad_norm(g), ops.l2_penalty(g, 0.1), ops.l1_penalty(g, 0.1),
                    ops.clip_by_norm(c, 1.0), c, ops.bias_grad(dy)))
    for r in res[1:]:
        assert r[:4] == res[0][:4]
        assert np.array_equal(r[4], res[0][4]) and np.array_equal(r[5], res[0][5])


def test_nan_is_an_error_by_default_and_kept_when_allowed():
    g = np.array([np.nan, 5.0, -5.0])
    with pytest.raises(ValueError, match="grad contains nan"):
        ops.clip_by_value(g, 1.0)
    with ops.allow_nonfinite():
        ops.clip_by_value(g, 1.0)
        assert np.isnan(g[0]) and g[1] == 1 and g[2] == -1
        h = np.array([np.nan, 1.0])
        assert np.isnan(ops.clip_by_norm(h, 1.0))  # returns NaN norm, leaves g alone


def test_validation():
    g = np.ones(4)
    with pytest.raises(ValueError, match="clip"):
        ops.clip_by_value(g, -1)
    with pytest.raises(ValueError, match="max_norm"):
        ops.clip_by_norm(g, float("inf"))
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.clip_by_value(np.ones((4, 4))[:, 0], 1.0)
    with pytest.raises(TypeError, match="ndarray"):
        ops.clip_by_norm([1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="lam"):
        ops.l2_penalty(g, -0.1)
    with pytest.raises(ValueError, match="grad has shape"):
        ops.l2_penalty(g, 0.1, grad=np.ones(3))
    with pytest.raises(ValueError, match="2-D"):
        ops.bias_grad(g)
    with pytest.raises(ValueError, match="accumulate"):
        ops.bias_grad(np.ones((2, 2)), accumulate=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_finds_every_nonfinite_position(dtype, rng, threads):
    from fastnn import _reduce
    for n in (0, 1, 7, 16, 33, 1000):
        x = rng.standard_normal(n).astype(dtype)
        assert _reduce.all_finite(x)
        for bad in (np.nan, np.inf, -np.inf):
            for i in {0, n // 2, n - 1} if n else ():
                y = x.copy()
                y[i] = bad
                assert not _reduce.all_finite(y), (n, i, bad)
    n = 600_001                                      # split into chunks over threads
    x = rng.standard_normal(n).astype(dtype)
    for t in (1, 2, 3):
        threads(t)
        assert _reduce.all_finite(x)
        for i in (0, 131_071, 300_000, n - 1):
            y = x.copy()
            y[i] = np.nan
            assert not _reduce.all_finite(y), (t, i)
    big = np.full(5, np.finfo(dtype).max, dtype)     # finite extremes are finite
    assert _reduce.all_finite(big) and _reduce.all_finite(-big)
