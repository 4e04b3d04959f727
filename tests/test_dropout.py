"""Dropout and Philox (src_c/rng.c): masks keyed by (seed, step, index), thread-invariant."""
import numpy as np
import pytest

from fastnn import _ref, _rng, ops

pytestmark = pytest.mark.kernels


def test_philox_known_answers():
    # Random123 known-answer tests for philox4x32_10
    kat = [([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
           ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
           ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
            [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1])]
    for ctr, key, expect in kat:
        assert list(_rng.philox4x32_10(ctr, key)) == expect
        ref = _ref.philox4x32_10(np.array([ctr], np.uint64), key)[0]
        assert list(ref) == expect


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 97, 100003])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_matches_ref(isa, dtype, n, p, rng):
    x = rng.standard_normal(n).astype(dtype)
    seed, step = 2**40 + 17, 2**33 + 5  # exercise the high counter/key words
    y, mask = ops.dropout(x, p, seed, step)
    ry, rmask = _ref.dropout(x, p, seed, step)
    assert np.array_equal(mask, rmask) and np.array_equal(y, ry)
    dy = rng.standard_normal(n).astype(dtype)
    assert np.array_equal(ops.dropout_backward(mask, dy), _ref.dropout_backward(rmask, dy))
    if n > 10000:
        assert abs((mask != 0).mean() - (1 - p)) < 0.01
        np.testing.assert_allclose(mask[mask != 0], 1 / (1 - p), rtol=1e-7)


def test_mask_is_same_for_any_thread_count_and_dtype(threads):
    x = np.ones((3001, 101), np.float32)
    masks = []
    for t in (1, 2, 3):
        threads(t)
        masks.append(ops.dropout(x, 0.3, seed=7, step=11)[1])
    masks.append(ops.dropout(x.astype(np.float64), 0.3, seed=7, step=11)[1])
    for m in masks[1:]:
        assert np.array_equal(m != 0, masks[0] != 0)


def test_keys():
    x = np.ones(1000)
    a = ops.dropout(x, 0.5, seed=1, step=1)[1]
    assert not np.array_equal(a, ops.dropout(x, 0.5, seed=1, step=2)[1])
    assert not np.array_equal(a, ops.dropout(x, 0.5, seed=2, step=1)[1])
    assert np.array_equal(a, ops.dropout(x, 0.5, seed=1, step=1)[1])
    # element i depends only on i: a prefix of a longer stream is the shorter stream
    assert np.array_equal(a[:333], ops.dropout(x[:333], 0.5, seed=1, step=1)[1])


def test_eval_and_p0_and_in_place():
    x = np.arange(10.0)
    y, m = ops.dropout(x, 0.5, 1, training=False)
    assert m is None and np.array_equal(y, x) and y is not x
    y, m = ops.dropout(x, 0.0, 1)
    assert m is None and np.array_equal(y, x)
    y, m = ops.dropout(x, 0.5, 1, out=x)
    assert y is x and np.array_equal(x, np.arange(10.0) * m)


def test_validation():
    x = np.ones(4)
    for p in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="p must"):
            ops.dropout(x, p, 0)
    with pytest.raises(ValueError, match="seed"):
        ops.dropout(x, 0.5, -1)
    with pytest.raises(ValueError, match="2\\*\\*64"):
        ops.dropout(x, 0.5, 2**64)
    with pytest.raises(TypeError, match="seed"):
        ops.dropout(x, 0.5, 1.5)
    with pytest.raises(ValueError, match="dy has shape"):
        ops.dropout_backward(x, np.ones(3))
