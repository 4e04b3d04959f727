"""The sparse first layer's kernels (plan.c sp_rows / sp_product) against NumPy: the scan
for a row's non-zeros, and a sparse row times a dense matrix. That training with them gives
the full GEMM's bits is tests/test_sparse_input.py's."""
import numpy as np
import pytest

from fastnn import _gemm

pytestmark = pytest.mark.kernels

DTYPES = ["float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 7, 8, 15, 16, 17, 100, 784])
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


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 15, 16, 33, 100, 128, 129, 300, 512])
@pytest.mark.parametrize("add", [False, True])
def test_sparse_row_product_matches_numpy(dtype, n, add):
    # widths below, at and past the kernel's register block, so its vector and scalar
    # tails run too
    r = np.random.default_rng(n)
    b = r.standard_normal((60, n)).astype(dtype)
    idx = np.sort(r.choice(60, 17, replace=False)).astype(np.int32)
    val = r.standard_normal(17).astype(dtype)
    out0 = r.standard_normal(n).astype(dtype)
    out = _gemm.sparse_row_product(idx, val, b, out0.copy(), add=add)
    ref = val.astype(np.float64) @ b[idx].astype(np.float64) + (out0 if add else 0)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)


def test_sparse_row_product_with_no_terms():
    b = np.ones((4, 20), np.float32)
    out = np.full(20, 3.0, np.float32)
    empty = np.zeros(0, np.int32)
    assert np.array_equal(_gemm.sparse_row_product(empty, empty, b, out, add=True), out)
    assert not _gemm.sparse_row_product(empty, empty.astype(np.float32), b, out).any()


def test_sparse_row_product_rejects_bad_input():
    b = np.ones((4, 8))
    with pytest.raises(ValueError, match="idx must index"):
        _gemm.sparse_row_product([0, 4], [1.0, 1.0], b, np.zeros(8))
    with pytest.raises(ValueError, match="one length"):
        _gemm.sparse_row_product([0, 1], [1.0], b, np.zeros(8))
    with pytest.raises(ValueError, match="out must be"):
        _gemm.sparse_row_product([0], [1.0], b, np.zeros(7))
    with pytest.raises(ValueError, match="out must be"):
        _gemm.sparse_row_product([0], [1.0], b, np.zeros(8, np.float32))
