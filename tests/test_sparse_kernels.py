"""The sparse first layer's kernels (plan.c sp_build / sp_fwd / sp_dw, spg.h) against
NumPy: the scan for a row's non-zeros, and x·B and xᵀ·B through the non-zeros paired by
adjacent columns. That training with them gives the full GEMM's bits is
tests/test_sparse_input.py's."""
import numpy as np
import pytest

from fastnn import _gemm

pytestmark = pytest.mark.kernels

DTYPES = ["float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 7, 8, 15, 16, 17, 63, 64, 65, 100, 784])
def test_nonzeros_matches_numpy(dtype, n):
    r = np.random.default_rng(n)
    x = r.standard_normal(n).astype(dtype) * (r.random(n) < 0.3)
    if n > 5:
        x[[1, 3, 5]] = [np.nan, np.inf, -0.0]   # NaN and inf count, -0 does not
    idx, val = _gemm.nonzeros(x)
    ref = np.flatnonzero(x)
    assert idx.dtype == np.int32 and val.dtype == x.dtype
    assert np.array_equal(idx, ref) and np.array_equal(val, x[ref], equal_nan=True)


def test_nonzeros_of_all_zero_and_all_dense_rows():
    assert _gemm.nonzeros(np.zeros(40, np.float32))[0].size == 0
    x = np.arange(1, 41, dtype=np.float64)
    idx, val = _gemm.nonzeros(x)
    assert np.array_equal(idx, np.arange(40)) and np.array_equal(val, x)


def sparse(r, m, k, dtype, density=0.2):
    return (r.standard_normal((m, k)) * (r.random((m, k)) < density)).astype(dtype)


def check(out, ref, dtype):
    tol = 2e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)


# shapes: widths below, at and past the kernels' 32 / 16 columns (their scalar tail runs
# too), odd k (a one-column group at the end), K panels that split k unevenly or one
# column at a time, and more rows than a row block (128)
SHAPES = [(1, 1, 1, 1), (5, 3, 1, 2), (17, 31, 45, 7), (40, 64, 32, 64), (33, 64, 16, 5),
          (130, 64, 100, 64), (200, 50, 33, 50), (64, 101, 65, 1), (300, 40, 48, 17)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, k, n, kp", SHAPES)
def test_sparse_product_matches_numpy(dtype, m, k, n, kp):
    r = np.random.default_rng(m * k + n)
    x, b = sparse(r, m, k, dtype), r.standard_normal((k, n)).astype(dtype)
    y, entries = _gemm.sparse_product(x, b, kp)
    assert y.dtype == x.dtype and y.shape == (m, n)
    check(y, x.astype(np.float64) @ b, dtype)
    # an entry per row and group with a non-zero: columns (2i, 2i + 1), split in two where
    # a K panel starts at 2i + 1
    groups = [[j] if j + 1 == k or (j + 1) % kp == 0 else [j, j + 1] for j in range(0, k, 2)]
    groups += [[j + 1] for j in range(0, k - 1, 2) if (j + 1) % kp == 0]
    assert entries == sum(int((x[:, g] != 0).any(1).sum()) for g in groups)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, k, n, kp", SHAPES)
def test_sparse_weight_gradient_matches_numpy(dtype, m, k, n, kp):
    # kp: panels of rows (the GEMM's K is the batch here)
    r = np.random.default_rng(m * k + n + 1)
    x, g = sparse(r, m, k, dtype), r.standard_normal((m, n)).astype(dtype)
    g[r.random(m) < 0.2] = -0.0
    dw, _ = _gemm.sparse_product(x, g, kp, grad=True)
    assert dw.shape == (k, n)
    check(dw, x.T.astype(np.float64) @ g, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("grad", [False, True])
def test_sparse_product_gives_the_gemms_bits(dtype, grad):
    # one K panel: the GEMM sums each output in k order from zero, so do the kernels,
    # leaving out only exact zero terms
    r = np.random.default_rng(7)
    x = sparse(r, 128, 100, dtype)
    b = r.standard_normal((128 if grad else 100, 64)).astype(dtype)
    y, _ = _gemm.sparse_product(x, b, 128 if grad else 100, grad=grad)
    assert np.array_equal(y, _gemm._matmul(x, b, trans_a=grad))


@pytest.mark.parametrize("grad", [False, True])
def test_sparse_product_is_the_same_on_one_and_two_threads(grad, threads):
    r = np.random.default_rng(3)
    x = sparse(r, 256, 90, "float32")
    b = r.standard_normal((256 if grad else 90, 200)).astype(np.float32)
    out = []
    for t in (1, 2):
        threads(t)
        out.append(_gemm.sparse_product(x, b, 40, grad=grad)[0])
    assert np.array_equal(out[0], out[1])


def test_sparse_product_of_zero_dense_and_nan_inputs():
    b = np.arange(60, dtype=np.float64).reshape(6, 10)
    y, e = _gemm.sparse_product(np.zeros((4, 6)), b, 6)
    assert e == 0 and not y.any() and y.shape == (4, 10)
    dw, e = _gemm.sparse_product(np.zeros((4, 6)), np.ones((4, 10)), 4, grad=True)
    assert e == 0 and not dw.any() and dw.shape == (6, 10)
    x = np.ones((4, 6))
    y, e = _gemm.sparse_product(x, b, 6)
    assert e == 4 * 3 and np.array_equal(y, x @ b)
    x[1, 2] = np.nan     # a NaN input is a non-zero: its row's outputs are NaN, as NumPy's
    y, _ = _gemm.sparse_product(x, b, 6)
    assert np.isnan(y[1]).all() and np.array_equal(y[[0, 2, 3]], (x @ b)[[0, 2, 3]])
    assert _gemm.sparse_product(np.zeros((0, 6)), b, 6)[0].shape == (0, 10)


def test_sparse_product_rejects_bad_input():
    x, b = np.ones((4, 6)), np.ones((6, 8))
    with pytest.raises(ValueError, match="b must have 6 rows"):
        _gemm.sparse_product(x, np.ones((5, 8)), 6)
    with pytest.raises(ValueError, match="b must have 4 rows"):
        _gemm.sparse_product(x, b, 6, grad=True)
    with pytest.raises(TypeError, match="one dtype"):
        _gemm.sparse_product(x, b.astype(np.float32), 6)
    with pytest.raises(TypeError, match="float32 or float64"):
        _gemm.sparse_product(x.astype(int), b.astype(int), 6)
    with pytest.raises(ValueError, match="kp must be"):
        _gemm.sparse_product(x, b, 0)
    with pytest.raises(ValueError, match="2-D"):
        _gemm.sparse_product(np.ones(6), b, 6)
