"""GEMM kernels (src_c/gemm*.c via fastnn/_gemm.pyx) against the NumPy twin fastnn._ref.matmul."""
import numpy as np
import pytest
from conftest import unaligned

from fastnn import _gemm, _ref, ops

pytestmark = pytest.mark.kernels

DTYPES = [np.float32, np.float64]
EPS = {np.float32: 2e-6, np.float64: 1e-14}
# (m, k, n): zeros, ones, primes, skinny, and sizes past every MR/NR (<= 12/32) and
# KC/NC block (<= 512/512) of every ISA, none a multiple of a tile
SHAPES = [(0, 5, 3), (4, 0, 3), (3, 5, 0), (1, 1, 1), (2, 3, 5), (7, 13, 11), (13, 17, 37),
          (1, 97, 131), (1, 300, 260), (5, 31, 16), (33, 64, 10), (100, 50, 3), (61, 257, 67),
          (37, 300, 530), (131, 41, 29), (61, 1031, 67)]
ACTS = [None, "relu", ("leaky_relu", 0.1), "sigmoid", "tanh"]


def operands(rng, m, k, n, ta, tb, dtype):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


def assert_close(got, want, k, dtype):
    # each element sums k products of N(0,1) values: rounding grows like k
    tol = EPS[dtype] * (k + 4) * 4
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_matches_ref_all_shapes(isa, rng, dtype, ta, tb):
    for m, k, n in SHAPES:
        a, b = operands(rng, m, k, n, ta, tb, dtype)
        got = ops.matmul(a, b, trans_a=ta, trans_b=tb)
        assert got.shape == (m, n) and got.dtype == dtype
        assert_close(got, _ref.matmul(a, b, trans_a=ta, trans_b=tb), k, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_epilogue_bias_act_beta(isa, rng, dtype, act):
    flags_a, flags_b = [0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0], [0, 0, 1, 1] * 3 + [1]
    for (m, k, n), ta, tb in zip(SHAPES[3:], flags_a, flags_b):
        a, b = operands(rng, m, k, n, ta, tb, dtype)
        bias = rng.standard_normal(n).astype(dtype)
        c0 = rng.standard_normal((m, n)).astype(dtype)
        for beta, use_bias in [(0.0, True), (0.5, False), (-1.25, True)]:
            kw = dict(trans_a=ta, trans_b=tb, bias=bias if use_bias else None,
                      activation=act, alpha=0.75, beta=beta)
            want = _ref.matmul(a, b, out=c0.copy(), **kw)
            got = ops.matmul(a, b, out=c0.copy(), **kw)
            assert_close(got, want, k, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("m,n", [(29, 45), (29, 10), (3, 45)])
def test_preact_and_dact(isa, rng, dtype, act, m, n):
    k = 70
    a, b = operands(rng, m, k, n, 0, 1, dtype)
    bias = rng.standard_normal(n).astype(dtype)
    z_got, z_want = np.empty((m, n), dtype), np.empty((m, n), dtype)
    y = ops.matmul(a, b, trans_b=True, bias=bias, activation=act, preact=z_got)
    y_ref = _ref.matmul(a, b, trans_b=True, bias=bias, activation=act, preact=z_want)
    assert_close(z_got, z_want, k, dtype)
    assert_close(y, y_ref, k, dtype)
    # backward: dX-like product times act'(Y), from the forward output Y
    g, w = operands(rng, m, 33, n, 0, 0, dtype)
    got = ops.matmul(g, w, activation=act, dact_y=y_ref)
    want = _ref.matmul(g, w, activation=act, dact_y=y_ref)
    assert_close(got, want, 33, dtype)


def test_dact_formulas_exact(rng):
    """act' from the output: relu Y>0, leaky Y>0?1:slope, sigmoid Y(1-Y), tanh 1-Y^2."""
    y = rng.uniform(-1, 1, (3, 8))
    ones = np.eye(3)
    for act, d in [("relu", (y > 0) * 1.0), (("leaky_relu", 0.2), np.where(y > 0, 1, 0.2)),
                   ("sigmoid", y * (1 - y)), ("tanh", 1 - y * y), (None, np.ones_like(y))]:
        got = ops.matmul(ones, np.ones((3, 8)), activation=act, dact_y=y)
        np.testing.assert_array_equal(got, 1.0 * d)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_narrow_outputs(isa, rng, dtype, ta, tb):
    """n <= 16 (dot kernels, C^T = B^T A^T, half tiles): every column chunking, row
    tail and k tail of the lanes, with the whole epilogue"""
    for n in range(1, 17):
        for m, k in [(1, 40), (2, 33), (3, 64), (5, 47), (8, 100), (13, 257), (19, 9)]:
            a, b = operands(rng, m, k, n, ta, tb, dtype)
            bias = rng.standard_normal(n).astype(dtype)
            c0 = rng.standard_normal((m, n)).astype(dtype)
            kw = dict(trans_a=ta, trans_b=tb, bias=bias, activation="tanh", alpha=0.5,
                      beta=0.0 if (m + n) % 2 else -0.75)
            want = _ref.matmul(a, b, out=c0.copy(), **kw)
            assert_close(ops.matmul(a, b, out=c0.copy(), **kw), want, k, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta", [0, 1])
@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
def test_small_batch_by_rows_of_b(isa, rng, dtype, ta, m):
    """m <= 3 streams B by rows: k tails of the row passes, and B starting anywhere in a
    cache line (the column peel), with the epilogue"""
    for k, n, off in [(1, 17, 0), (7, 33, 1), (8, 100, 3), (9, 64, 5), (300, 131, 2),
                      (784, 512, 4)]:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
        b = rng.standard_normal((k, n + 8)).astype(dtype)[:, off:off + n]
        bias = rng.standard_normal(n).astype(dtype)
        for beta in (0.0, 0.5):
            c0 = rng.standard_normal((m, n)).astype(dtype)
            kw = dict(trans_a=ta, bias=bias, activation="relu", alpha=1.5, beta=beta)
            want = _ref.matmul(a, b, out=c0.copy(), **kw)
            assert_close(ops.matmul(a, b, out=c0.copy(), **kw), want, k, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta", [0, 1])
def test_one_row_tiles_match_the_row_kernel(isa, threads, rng, dtype, ta):
    """One row with alpha 1, beta 0 and B on 64-byte rows, its columns split over threads
    (B of 512 KiB or more), runs register tiles over all of k (gemv_chunk), the rest of
    the columns on the row kernel: the same FMA chain, so the same bits as B one element
    off the line (the row kernel alone), and close to NumPy."""
    from fastnn._data import zeros_aligned
    for k, n in [(1, 128), (5, 64), (9, 256), (300, 144), (784, 512), (512, 256),
                 (33, 640), (17, 1040)]:
        a = rng.standard_normal((k, 1) if ta else (1, k)).astype(dtype)
        b = zeros_aligned((k, n), dtype)
        b[...] = rng.standard_normal((k, n))
        b[rng.random((k, n)) < 0.1] = 0
        off = np.empty((k, n + 1), dtype)[:, 1:]  # rows one element off a 64-byte line
        off[...] = b
        bias = rng.standard_normal(n).astype(dtype)
        want = _ref.matmul(a, b, trans_a=ta, bias=bias, activation="relu")
        for nt in (1, 2):
            threads(nt)
            got = ops.matmul(a, b, trans_a=ta, bias=bias, activation="relu")
            ref = ops.matmul(a, off, trans_a=ta, bias=bias, activation="relu")
            assert_close(got, want, k, dtype)
            np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_beta_zero_ignores_nan_and_k_zero(isa, rng, dtype):
    a, b = operands(rng, 20, 40, 70, 0, 0, dtype)
    out = np.full((20, 70), np.nan, dtype)
    got = ops.matmul(a, b, out=out)
    assert got is out and np.isfinite(out).all()
    bias = rng.standard_normal(70).astype(dtype)
    c = rng.standard_normal((20, 70)).astype(dtype)
    a0, b0 = np.zeros((20, 0), dtype), np.zeros((0, 70), dtype)
    got = ops.matmul(a0, b0, bias=bias, activation="relu", beta=2.0, out=c.copy())
    np.testing.assert_allclose(got, np.maximum(2 * c + bias, 0), rtol=EPS[dtype] * 4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bit_identical_across_threads(isa, threads, rng, dtype):
    # all above the 2^20 multiply-add threshold under which one thread is used
    for m, k, n, ta, tb in [(203, 530, 300, 0, 0), (64, 300, 520, 1, 0), (30, 700, 77, 0, 1),
                            (31, 900, 77, 0, 0), (1500, 300, 9, 0, 0), (900, 150, 13, 0, 0),
                            # batch <= 3, B of 512 KiB or more: its columns split among threads
                            (1, 784, 517, 0, 0), (3, 600, 301, 0, 0),
                            (1, 1100, 1000, 0, 0), (3, 1100, 1000, 1, 0), (1, 1030, 1100, 1, 0)]:
        a, b = operands(rng, m, k, n, ta, tb, dtype)
        bias = rng.standard_normal(n).astype(dtype)
        results = []
        for t in (1, 2, 3, 2, 3):  # repeated: a race shows up only now and then
            threads(t)
            results.append(ops.matmul(a, b, trans_a=ta, trans_b=tb, bias=bias, activation="tanh"))
        for r in results[1:]:
            np.testing.assert_array_equal(r, results[0])
        assert_close(results[0], _ref.matmul(a, b, trans_a=ta, trans_b=tb, bias=bias,
                                             activation="tanh"), k, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_b_packed_while_first_panel_runs(isa, threads, rng, dtype):
    # The packed path's first row panel reads an untransposed B in place and packs it
    # for the later panels (ukr_pk). Cover: B a row-strided view (ldb > n), n past NC and
    # not a multiple of NR (edge tile packed separately), k over several K panels,
    # threads splitting rows or columns, and a thread whose only row panel is partial.
    for m, k, n, ta, b_pad in [(50, 1100, 70, 0, 13), (203, 530, 545, 0, 0),
                               (40, 700, 600, 0, 7), (35, 600, 20, 1, 0), (97, 64, 33, 1, 5)]:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
        b = rng.standard_normal((k, n + 2 * b_pad)).astype(dtype)[:, b_pad:b_pad + n]
        bias = rng.standard_normal(n).astype(dtype)
        want = _ref.matmul(a, b, trans_a=ta, bias=bias, activation="relu")
        results = []
        for t in (1, 2, 3):
            threads(t)
            results.append(ops.matmul(a, b, trans_a=ta, bias=bias, activation="relu"))
        assert_close(results[0], want, k, dtype)
        for r in results[1:]:
            np.testing.assert_array_equal(r, results[0])


@pytest.mark.parametrize("ws_limit", [0, 1, 20000, "one_thread"])
@pytest.mark.parametrize("m,n,tb", [(150, 200, 1), (1500, 10, 0)])
def test_small_or_missing_workspace_falls_back(isa, threads, rng, ws_limit, m, n, tb):
    a, b = operands(rng, m, 300, n, 0, tb, np.float32)
    threads(1)
    single = ops.matmul(a, b, trans_b=tb)
    if ws_limit == "one_thread":  # sized for 1 thread: 3 threads must not overrun it
        ws_limit = _gemm.workspace_bytes(np.float32, m, n, 300, 1)
    threads(3)
    got = _gemm._matmul(a, b, trans_b=tb, ws_limit=ws_limit)
    assert_close(got, _ref.matmul(a, b, trans_b=tb), 300, np.float32)
    if ws_limit > 20000:
        np.testing.assert_array_equal(got, single)


def test_strided_row_views(rng):
    big = rng.standard_normal((80, 90))
    a, b, out = big[3:20, 5:40], big[20:55, 40:70], np.zeros((40, 60))
    view = out[5:22, 10:40]
    got = ops.matmul(a, b, out=view, bias=np.ones(30))
    assert got is view
    np.testing.assert_allclose(view, a @ b + 1, rtol=1e-12)
    assert not out[:5].any() and not out[:, :10].any() and not out[22:].any()


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(a=np.ones((2, 3), np.int64)), TypeError, "a must have dtype float32 or float64"),
    (dict(b=np.ones((3, 4), np.float32)), TypeError, "b must have dtype float64"),
    (dict(b=np.ones((5, 4))), ValueError, "inner dimensions differ"),
    (dict(a=np.ones(3)), ValueError, "a must be a 2-D array"),
    (dict(a=np.ones((3, 2)).T), ValueError, "a must have contiguous rows"),
    (dict(b=np.ones((6, 4))[::-2]), ValueError, "b has an unsupported row stride"),
    (dict(bias=np.ones(5)), ValueError, r"bias must have shape \(4,\)"),
    (dict(bias=np.ones(8)[::2]), ValueError, "bias must be contiguous"),
    (dict(activation="softmax"), ValueError, "unknown activation 'softmax'"),
    (dict(activation=("relu", 0.1)), ValueError, "takes no parameter"),
    (dict(activation=3), TypeError, "activation must be None"),
    (dict(beta=1.0), ValueError, "beta=1.0 accumulates into C"),
    (dict(out=np.ones((2, 5))), ValueError, r"out must have shape \(2, 4\)"),
    (dict(out=np.ones((2, 4), np.float32)), TypeError, "out must have dtype float64"),
    (dict(preact=np.ones((3, 4))), ValueError, "preact must have shape"),
    (dict(dact_y=np.ones((2, 3))), ValueError, "dact_y must have shape"),
    (dict(out=np.ones((2, 4), ">f8")), ValueError, "out must be in the machine's byte order"),
    (dict(bias=np.ones(4, ">f8")), ValueError, "bias must be in the machine's byte order"),
])
def test_validation_names_the_argument(kwargs, exc, match):
    args = dict(a=np.ones((2, 3)), b=np.ones((3, 4)))
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        ops.matmul(args.pop("a"), args.pop("b"), **args)


def test_byte_swapped_operands_are_read_as_numbers(rng):
    a, b = rng.standard_normal((5, 7)), rng.standard_normal((7, 3))
    want = ops.matmul(a, b)
    for x, y in ((a.astype(">f8"), b), (a, b.astype(">f8"))):
        np.testing.assert_array_equal(ops.matmul(x, y), want)


def test_unaligned_operands_are_copied_and_outputs_refused(rng):
    """C forbids loading a float from an address that is not a multiple of its size (the
    sanitizer CI run aborts on it), so unaligned inputs are read through a copy, and an
    unaligned out= or preact=, written in place, is a ValueError."""
    a, b = rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal((7, 3))
    b = b.astype(np.float32)
    bias, y = rng.standard_normal(3).astype(np.float32), rng.random((5, 3)).astype(np.float32)
    want = ops.matmul(a, b, bias=bias, activation="tanh")
    got = ops.matmul(unaligned(a), unaligned(b), bias=unaligned(bias), activation="tanh")
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ops.matmul(a, b, activation="tanh", dact_y=unaligned(y)),
                                  ops.matmul(a, b, activation="tanh", dact_y=y))
    for kw in ({"out": unaligned(want)}, {"preact": unaligned(want)}):
        with pytest.raises(ValueError, match=f"{next(iter(kw))} is not aligned"):
            ops.matmul(a, b, **kw)
    out = np.full_like(want, 7.0)
    with pytest.raises(ValueError, match="param is not aligned"):
        ops.sgd_step(unaligned(bias), bias, 1, lr=0.1)
    np.testing.assert_array_equal(ops.tanh(unaligned(want), out=out), ops.tanh(want))


def test_out_must_not_alias_inputs():
    a = np.ones((4, 4))
    with pytest.raises(ValueError, match="out must not share memory with a"):
        ops.matmul(a, np.ones((4, 4)), out=a)
    ro = np.zeros((4, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        ops.matmul(a, a, out=ro)


def test_leaky_relu_default_slope_and_exports():
    x = np.array([[-2.0, 3.0]])
    np.testing.assert_array_equal(ops.matmul(x, np.eye(2), activation="leaky_relu"),
                                  [[-0.02, 3.0]])
    assert "matmul" in ops.__all__ and "matmul" in _ref.__all__


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh", ("leaky_relu", 0.1)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_operands_raise_naming_them(isa, rng, activation, bad):
    """ops.matmul checks z (or its scratch preact) instead of scanning the operands when z
    is the smaller, else scans the operands first: a NaN or inf in a or b must be found
    either way, whatever the activation hides (relu(NaN) = 0), through row strides too."""
    shapes = [(1, 784, 517, 0, 0), (2, 50, 40, 0, 0), (128, 256, 10, 0, 0), (40, 30, 20, 1, 0),
              (30, 40, 9, 0, 1), (7, 5, 3, 1, 1),
              (300, 20, 200, 1, 0), (64, 3, 64, 0, 1), (50, 4, 70, 0, 0)]  # operands first
    for m, k, n, ta, tb in shapes:
        for name in ("a", "b"):
            a, b = operands(rng, m, k, n, ta, tb, np.float32)
            if m == 50:                        # rows further apart than their length
                a = np.pad(a, ((0, 0), (0, 3)))[:, :a.shape[1]]
                b = np.pad(b, ((0, 0), (0, 5)))[:, :b.shape[1]]
            x = a if name == "a" else b
            x.flat[rng.integers(x.size)] = bad
            with pytest.raises(ValueError, match=f"^{name} contains"):
                ops.matmul(a, b, trans_a=ta, trans_b=tb, activation=activation,
                           bias=np.zeros(n, np.float32))
            with pytest.raises(ValueError, match=f"^{name} contains"):
                ops.matmul(a, b, trans_a=ta, trans_b=tb, activation=activation,
                           dact_y=np.zeros((m, n), np.float32))
            with pytest.raises(ValueError, match=f"^{name} contains"):
                ops.matmul(a, b, trans_a=ta, trans_b=tb)
            with ops.allow_nonfinite():
                z = ops.matmul(a, b, trans_a=ta, trans_b=tb)
                za = ops.matmul(a, b, trans_a=ta, trans_b=tb, activation=activation)
            assert not np.isfinite(z).all()
            if np.isnan(bad):                  # every activation propagates NaN (as NumPy)
                assert np.isnan(za).any()


def test_nonfinite_bias_out_and_overflow(rng):
    a, b = operands(rng, 6, 8, 5, 0, 0, np.float32)
    with pytest.raises(ValueError, match="^bias contains"):
        ops.matmul(a, b, bias=np.array([0, 0, np.nan, 0, 0], np.float32))
    c = np.zeros((6, 5), np.float32)
    c[2, 3] = np.inf
    with pytest.raises(ValueError, match="^out contains"):
        ops.matmul(a, b, beta=1.0, out=c)
    big = np.full((2, 3), 3e38, np.float32)          # finite operands that overflow: no error
    assert np.isinf(ops.matmul(big, big, trans_b=True)).all()
    assert np.isfinite(ops.matmul(a, b, alpha=0.0)).all()
    bad = a.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="^a contains"):   # alpha = 0 skips the product
        ops.matmul(bad, b, alpha=0.0)


def test_out_aliasing_dact_y_and_nonfinite_scalars_are_refused():
    """With dact_y=Y, out=Y the kernel wrote partial sums over Y (k spans K panels)
    before the epilogue read it: silently wrong. NaN alpha made an all-NaN result."""
    r = np.random.default_rng(0)
    g = r.standard_normal((64, 700)).astype(np.float32)
    w = r.standard_normal((700, 64)).astype(np.float32)
    y = np.tanh(r.standard_normal((64, 64))).astype(np.float32)
    with pytest.raises(ValueError, match="dact_y must not share memory with out"):
        ops.matmul(g, w, activation="tanh", dact_y=y, out=y)
    for kw in ({"alpha": float("nan")}, {"alpha": np.inf}, {"beta": float("nan")}):
        with pytest.raises(ValueError, match="alpha and beta must be finite"):
            ops.matmul(g, w, out=np.zeros((64, 64), np.float32), **kw)
