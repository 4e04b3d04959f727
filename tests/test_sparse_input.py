"""Training skips the input columns that are zero in a whole batch (plan.c live_cols):
the first Dense layer's product and weight gradient lose only exact zeros, summed panel
by panel as the full GEMM sums them, so the results are the full computation's values."""
import numpy as np
import pytest

import fastnn as fn
from fastnn import _train


def sparse_data(n=240, d=600, seed=0):
    """Inputs like MNIST's: each sample is nonzero in a random window of the columns, and a
    band of columns is zero in every sample; 3 classes."""
    r = np.random.default_rng(seed)
    X = np.zeros((n, d))
    for i in range(n):
        lo = r.integers(0, d // 2)
        X[i, lo:lo + d // 3] = r.standard_normal(d // 3)
    X[:, d // 2:d // 2 + d // 8] = 0
    return X, r.integers(0, 3, n)


def train(X, y, skip, monkeypatch, batch, dtype="float64", hidden=24, epochs=2, min_macs=0,
          l2=1e-3, shuffle=True, mode="live"):
    """(params, history, steps that skipped zeros) of one seeded training run; mode "live"
    skips the zero columns (plan.c live_cols), "sparse" every zero (plan.c sp_rows) when
    the first layer's GEMMs allow either"""
    monkeypatch.setattr(_train, "SKIP_ZERO_INPUTS", skip)
    monkeypatch.setattr(_train, "SKIP_ZERO_MIN", min_macs)   # 0: small products too
    # twice the pairs can be up to twice the live columns' entries: 0.99 keeps dense inputs out
    monkeypatch.setattr(_train, "SPARSE_INPUT_RATIO", 0.99 if mode == "sparse" else 0.0)
    plans = []
    make_plan = fn.Sequential._train_plan

    def keep(model, bs):
        plans.append(make_plan(model, bs))
        return plans[-1]

    monkeypatch.setattr(fn.Sequential, "_train_plan", keep)
    m = fn.Sequential([fn.Dense(X.shape[1], hidden, activation="relu",
                                kernel_regularizer=fn.L2(l2) if l2 else None),
                       fn.Dense(hidden, 3)], seed=5, dtype=dtype)
    m.compile(optimizer=fn.Adam(1e-2), loss="softmax_cross_entropy", metrics=["accuracy"])
    h = m.fit(X.astype(dtype), y, epochs=epochs, batch_size=batch, verbose=0, shuffle=shuffle)
    if mode == "sparse":
        assert sum(p.live_steps for p in plans) == 0
    return m.params.copy(), h.history, sum(p.live_steps + p.sparse_steps for p in plans)


MODES = pytest.mark.parametrize("mode", ["live", "sparse"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch", [4, 17, 64, 240])
@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("l2", [0, 1e-3], ids=["plain", "l2"])
@MODES
def test_skipping_zero_columns_gives_the_full_computation(dtype, batch, nthreads, l2, mode,
                                                          monkeypatch, threads):
    # with and without an L2 penalty on W, which adds to every row of dW after the skip
    threads(nthreads)
    X, y = sparse_data()
    p0, h0, n0 = train(X, y, False, monkeypatch, batch, dtype, l2=l2)
    p1, h1, n1 = train(X, y, True, monkeypatch, batch, dtype, l2=l2, mode=mode)
    # every step skipped zeros but a last batch of 2 rows (GEMV: no per-panel promise)
    assert n0 == 0 and n1 == 2 * (len(X) // batch + (len(X) % batch > 3))
    assert np.array_equal(p0, p1) and h0 == h1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden", [32, 40, 70])
@pytest.mark.parametrize("nthreads", [1, 2])
@MODES
def test_wide_first_layers_give_the_full_computation(dtype, hidden, nthreads, mode,
                                                     monkeypatch, threads):
    # 32 / 16 columns (float32 / float64) a vector block of the sparse kernels: full
    # blocks and a tail, as MNIST's 512 are 16 / 32 blocks
    threads(nthreads)
    X, y = sparse_data(150)
    p0, h0, n0 = train(X, y, False, monkeypatch, 64, dtype, hidden=hidden)
    p1, h1, n1 = train(X, y, True, monkeypatch, 64, dtype, hidden=hidden, mode=mode)
    assert n0 == 0 and n1 == 6 and np.array_equal(p0, p1) and h0 == h1


def test_skipping_zero_columns_matches_the_numpy_reference(monkeypatch):
    X, y = sparse_data(120)
    monkeypatch.setattr(_train, "SKIP_ZERO_INPUTS", True)
    monkeypatch.setattr(_train, "SKIP_ZERO_MIN", 0)
    ms = []
    for backend in ("c", "numpy"):
        m = fn.Sequential([fn.Dense(600, 20, activation="tanh"), fn.Dense(20, 3)], seed=1,
                          dtype="float64", backend=backend)
        m.compile(optimizer=fn.SGD(0.05, momentum=0.9), loss="softmax_cross_entropy")
        m.fit(X, y, epochs=3, batch_size=32, verbose=0)
        ms.append(m)
    np.testing.assert_allclose(ms[0].params, ms[1].params, rtol=0, atol=1e-10)


@MODES
def test_rows_the_full_product_wrote_are_zeroed_again(mode, monkeypatch):
    # batches 1-2 skip columns 300-599 (their dW rows are zero), batch 3 (2 rows: the full
    # product) is live there, and the next epoch's batches must zero those rows again
    X, y = sparse_data(66)
    X[:64, 300:] = 0
    X[64:, :300] = 0
    p0, h0, _ = train(X, y, False, monkeypatch, 32, l2=0, shuffle=False)
    p1, h1, n1 = train(X, y, True, monkeypatch, 32, l2=0, shuffle=False, mode=mode)
    assert n1 == 4 and np.array_equal(p0, p1) and h0 == h1


@pytest.mark.parametrize("live", [0, 1], ids=["all-zero", "one-column"])
@MODES
def test_batches_with_no_or_one_live_column(live, mode, monkeypatch):
    X, y = sparse_data(96)
    X[:, live:] = 0
    p0, h0, _ = train(X, y, False, monkeypatch, 32)
    p1, h1, n1 = train(X, y, True, monkeypatch, 32, mode=mode)
    assert n1 == 6 and np.array_equal(p0, p1) and h0 == h1


@MODES
def test_narrow_first_layer_and_dense_inputs_take_the_full_product(mode, monkeypatch):
    # a 16-wide first layer goes through the dot kernels, which sum k across lanes, so
    # skipping zeros could change the rounding; dense inputs have nothing to skip
    X, y = sparse_data(96)
    p0, h0, _ = train(X, y, False, monkeypatch, 32, hidden=16)
    p1, h1, n1 = train(X, y, True, monkeypatch, 32, hidden=16, mode=mode)
    assert n1 == 0 and np.array_equal(p0, p1) and h0 == h1
    Xd = np.random.default_rng(3).standard_normal(X.shape)
    assert train(Xd, y, True, monkeypatch, 32, mode=mode)[2] == 0



@MODES
def test_small_products_keep_the_full_product(mode, monkeypatch):
    # below SKIP_ZERO_MIN multiply-adds (batch x n_in x n_out of the first layer) the
    # bookkeeping costs more than the zeros save
    X, y = sparse_data(64)
    macs = 32 * 600 * 24
    assert train(X, y, True, monkeypatch, 32, min_macs=macs + 1, mode=mode)[2] == 0
    assert train(X, y, True, monkeypatch, 32, min_macs=macs, mode=mode)[2] == 4


def predictor(skip, monkeypatch, dtype="float64", n_out=300, min_weights=0):
    """A fresh seeded 600-n_out-3 model and a predict that also returns how many of its
    batches skipped zero columns (plan.c live_predict)"""
    monkeypatch.setattr(_train, "SKIP_ZERO_INPUTS", skip)
    monkeypatch.setattr(_train, "SKIP_ZERO_PREDICT_MIN", min_weights)
    m = fn.Sequential([fn.Dense(600, n_out, activation="relu"), fn.Dense(n_out, 3)], seed=2,
                      dtype=dtype)
    m.compile(optimizer=fn.Adam(1e-2), loss="softmax_cross_entropy")
    m.build((600,))

    def predict(x, **kw):                      # a plan is built per batch size, then
        monkeypatch.setattr(_train, "SKIP_ZERO_INPUTS", skip)   # and counts afresh
        out = m.predict(x.astype(dtype), **kw)
        return out, m._pplan[1].live_steps
    return m, predict


def assert_same_outputs(a, b, dtype):
    # the AVX-512 GEMV row kernel sums each output in k order, so the zeros' absence
    # changes nothing; the tile kernels of the other ISAs add each run's sum to y
    if fn.config.get_isa() == "avx512":
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == "float32" else 1e-13, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows", [1, 2, 3])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_predict_of_few_rows_skips_zero_columns(dtype, rows, nthreads, monkeypatch, threads):
    threads(nthreads)
    X, _ = sparse_data(12)
    m0, full = predictor(False, monkeypatch, dtype)
    m1, skip = predictor(True, monkeypatch, dtype)
    ref = fn.Sequential([fn.Dense(600, 300, activation="relu"), fn.Dense(300, 3)], seed=2,
                        dtype="float64", backend="numpy")
    ref.compile(optimizer=fn.Adam(1e-2), loss="softmax_cross_entropy")
    for i in range(0, 12, rows):
        (a, n0), (b, n1) = full(X[i:i + rows]), skip(X[i:i + rows])
        assert n0 == 0 and n1 == i // rows + 1
        assert_same_outputs(a, b, dtype)
        np.testing.assert_allclose(b, ref.predict(X[i:i + rows]),
                                   rtol=2e-5 if dtype == "float32" else 1e-12, atol=1e-7)


@pytest.mark.parametrize("live", [0, 1, 599], ids=["all-zero", "first-column", "last-column"])
def test_predict_with_no_or_one_live_column(live, monkeypatch):
    x = np.zeros((1, 600))
    if live:
        x[0, live] = -1.5
    m0, full = predictor(False, monkeypatch)
    m1, skip = predictor(True, monkeypatch)
    (a, _), (b, n1) = full(x), skip(x)
    assert n1 == 1
    assert_same_outputs(a, b, "float64")


def test_predict_keeps_nonfinite_inputs_live(monkeypatch):
    # a NaN or inf input is not zero: its column is multiplied as in the full product
    X, _ = sparse_data(2)
    X[0, 590], X[1, 595] = np.nan, np.inf
    m0, full = predictor(False, monkeypatch)
    m1, skip = predictor(True, monkeypatch)
    for x in (X[:1], X[1:]):
        (a, _), (b, n1) = (f(x, allow_nonfinite=True) for f in (full, skip))
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        assert np.isnan(b).all()


def test_predict_takes_the_full_product_when_it_should(monkeypatch):
    X, _ = sparse_data(8)
    Xd = np.random.default_rng(4).standard_normal(X.shape)
    Xd[:, :600 // 8 - 1] = 0                   # an eighth of the columns zero, less one
    m, skip = predictor(True, monkeypatch, min_weights=600 * 300 + 1)
    assert skip(X[:1])[1] == 0                 # below SKIP_ZERO_PREDICT_MIN weights
    m, skip = predictor(True, monkeypatch, min_weights=600 * 300)
    assert skip(X[:1])[1] == 1
    assert skip(Xd[:1])[1] == 1                # too few zeros: not counted
    Xd[0, 600 // 8 - 1] = 0
    assert skip(Xd[:1])[1] == 2
    assert skip(X[:3])[1] == 1 and skip(X[:4])[1] == 0   # 4 rows: not a GEMV batch


def chunked_predictor(skip, monkeypatch, dtype="float64", chunk=40, min_macs=0, sort=True):
    """predictor() with larger batches skipping zero columns chunk by chunk (plan.c
    live_predict_rows) in chunks of ``chunk`` rows from ``min_macs`` multiply-adds a chunk
    (over 32 rows: the GEMM then packs, as it does for the whole batch, and sums the same
    K panels), the rows sorted by their zero margins (live_order) if ``sort``"""
    monkeypatch.setattr(_train, "SKIP_ZERO_PREDICT_CHUNK", chunk)
    monkeypatch.setattr(_train, "SKIP_ZERO_MIN", min_macs)
    monkeypatch.setattr(_train, "SKIP_ZERO_PREDICT_SORT", sort)
    return predictor(skip, monkeypatch, dtype)


def mixed_rows(n, dense_chunks, chunk=40, seed=6):
    """sparse_data rows, with the rows of the chunks numbered in ``dense_chunks`` dense
    (the last chunk takes the remainder)"""
    X, _ = sparse_data(n)
    r = np.random.default_rng(seed)
    last = n // chunk - 1
    for c in dense_chunks:
        hi = n if c == last else (c + 1) * chunk
        X[c * chunk:hi] = r.standard_normal((hi - c * chunk, X.shape[1]))
    return X


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows", [40, 100, 250])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_predict_of_many_rows_skips_zero_columns_chunk_by_chunk(dtype, rows, nthreads,
                                                                  monkeypatch, threads):
    threads(nthreads)
    X, _ = sparse_data(rows)
    m0, full = chunked_predictor(False, monkeypatch, dtype)
    m1, skip = chunked_predictor(True, monkeypatch, dtype)
    (a, n0), (b, n1) = full(X, batch_size=rows), skip(X, batch_size=rows)
    assert n0 == 0 and n1 == rows // 40        # the last chunk takes the remainder
    np.testing.assert_array_equal(a, b)        # the same K panels in the same order
    ref = fn.Sequential([fn.Dense(600, 300, activation="relu"), fn.Dense(300, 3)], seed=2,
                        dtype="float64", backend="numpy")
    ref.compile(optimizer=fn.Adam(1e-2), loss="softmax_cross_entropy")
    np.testing.assert_allclose(b, ref.predict(X), rtol=2e-5 if dtype == "float32" else 1e-12,
                               atol=1e-7)


@pytest.mark.parametrize("dense_chunks", [(0,), (1, 2), (0, 2, 4), (5,)],
                         ids=["first", "middle", "alternate", "last"])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_dense_chunks_between_sparse_ones_take_the_full_product(dense_chunks, nthreads,
                                                                monkeypatch, threads):
    # 250 rows in their own order: chunks of 40 rows, the sixth taking 50; dense chunks
    # run as one GEMM over the rows between skipping chunks
    threads(nthreads)
    X = mixed_rows(250, dense_chunks)
    m0, full = chunked_predictor(False, monkeypatch)
    m1, skip = chunked_predictor(True, monkeypatch, sort=False)
    (a, _), (b, n1) = full(X, batch_size=250), skip(X, batch_size=250)
    assert n1 == 6 - len(dense_chunks)
    np.testing.assert_array_equal(a, b)


def test_all_dense_chunks_take_one_full_product(monkeypatch):
    X = mixed_rows(250, range(6))
    m0, full = chunked_predictor(False, monkeypatch)
    m1, skip = chunked_predictor(True, monkeypatch)
    (a, _), (b, n1) = full(X, batch_size=250), skip(X, batch_size=250)
    assert n1 == 0
    np.testing.assert_array_equal(a, b)


def test_chunks_keep_nonfinite_inputs_live(monkeypatch):
    X, _ = sparse_data(120)
    X[3, 590], X[50, 320], X[100, 2] = np.nan, np.inf, -np.inf   # 320: in the zero band
    m0, full = chunked_predictor(False, monkeypatch)
    m1, skip = chunked_predictor(True, monkeypatch)
    (a, _), (b, n1) = (f(X, batch_size=120, allow_nonfinite=True) for f in (full, skip))
    assert n1 == 3
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    assert np.isnan(b[[3, 50, 100]]).all() and not np.isnan(b[:3]).any()
    np.testing.assert_array_equal(a[~np.isnan(a)], b[~np.isnan(b)])


def test_chunks_take_the_full_product_when_they_should(monkeypatch):
    X, _ = sparse_data(160)
    macs = 40 * 600 * 300
    assert chunked_predictor(True, monkeypatch, min_macs=macs + 1)[1](X, batch_size=160)[1] == 0
    assert chunked_predictor(True, monkeypatch, min_macs=macs)[1](X, batch_size=160)[1] == 4
    skip = chunked_predictor(True, monkeypatch)[1]
    assert skip(X[:39], batch_size=39)[1] == 0          # fewer rows than a chunk
    assert skip(X[:40], batch_size=40)[1] == 1
    assert chunked_predictor(True, monkeypatch, chunk=0)[1](X, batch_size=160)[1] == 0
    # batch_size smaller than the data: each batch is chunked (two batches of 2 chunks)
    assert chunked_predictor(True, monkeypatch)[1](X, batch_size=80)[1] == 4


@pytest.mark.parametrize("rows", [40, 100, 160])
def test_chunks_of_the_gemms_unpacked_path(rows, monkeypatch):
    # chunks of up to 32 rows take the GEMM's unpacked path: skipped only where its K
    # panels are the whole batch's, so the outputs are the full product's either way
    X, _ = sparse_data(rows)
    a = chunked_predictor(False, monkeypatch, chunk=16)[1](X, batch_size=rows)[0]
    b = chunked_predictor(True, monkeypatch, chunk=16)[1](X, batch_size=rows)[0]
    np.testing.assert_array_equal(a, b)


def test_default_chunks_on_a_large_first_layer(monkeypatch):
    # the shipped settings: chunks of 64 rows from 4M multiply-adds (600 x 300 x 64 is
    # 11.5M), sorted; predict's default batch of 1,024 rows
    X, _ = sparse_data(300)
    monkeypatch.setattr(_train, "SKIP_ZERO_INPUTS", False)
    m0 = predictor(False, monkeypatch)[0]
    a = m0.predict(X)
    monkeypatch.undo()
    m1 = predictor(True, monkeypatch)[0]
    b = m1.predict(X)
    assert m1._pplan[1].live_steps == 4                 # 64, 64, 64, then 108 rows
    np.testing.assert_array_equal(a, b)


def interleaved_rows(n, dtype="float64", seed=7):
    """Even rows dense; odd rows zero outside columns 300-399, a few of them all zero"""
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, 600))
    X[1::2] = 0
    X[1::2, 300:400] = r.standard_normal((n // 2, 100))
    X[1:n // 4:8] = 0
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_sorted_rows_group_the_sparse_ones(dtype, nthreads, monkeypatch, threads):
    # in their own order every chunk holds dense rows and nothing is skipped; sorted by
    # their zero margins, the 120 sparse rows fill 3 chunks of their own; the outputs come
    # back in X's order, equal to the full product's
    threads(nthreads)
    X = interleaved_rows(240, dtype)
    a, n0 = chunked_predictor(False, monkeypatch, dtype)[1](X, batch_size=240)
    b, n1 = chunked_predictor(True, monkeypatch, dtype, sort=False)[1](X, batch_size=240)
    c, n2 = chunked_predictor(True, monkeypatch, dtype)[1](X, batch_size=240)
    assert (n0, n1, n2) == (0, 0, 3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def full_and_skipping(X, layers, train=0):
    """[(outputs, batches that skipped), ...] of predict(X) in one batch for a seeded model
    of ``layers()`` without, then with, the skip (chunks of 40 rows, sorted); ``train``
    outputs: one epoch of fit on them first (BatchNorm's running statistics)"""
    outs = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_train, "SKIP_ZERO_PREDICT_CHUNK", 40)
        mp.setattr(_train, "SKIP_ZERO_MIN", 0)
        for skip in (False, True):
            mp.setattr(_train, "SKIP_ZERO_INPUTS", skip)
            m = fn.Sequential(layers(), seed=3)
            m.compile(optimizer=fn.Adam(1e-3), loss="mse")
            if train:
                m.fit(X, np.ones((len(X), train)), epochs=1, batch_size=50, verbose=0)
            m.build((X.shape[1],))
            outs.append((m.predict(X, batch_size=len(X)), m._pplan[1].live_steps))
    return outs


@pytest.mark.parametrize("nthreads", [1, 2])
def test_sorted_rows_through_normalisation_and_dropout(nthreads, threads):
    # every inference op maps rows to rows, so they run in the sorted order too
    threads(nthreads)
    (a, n0), (b, n1) = full_and_skipping(
        interleaved_rows(200),
        lambda: [fn.Dense(600, 300, activation="relu"), fn.BatchNorm(), fn.Dropout(0.3),
                 fn.LayerNorm(), fn.Dense(300, 64, activation="tanh"), fn.Dense(64, 5)],
        train=5)
    assert n0 == 0 and n1 == 2
    np.testing.assert_array_equal(a, b)


def test_sorted_rows_of_a_single_layer_model():
    # the first op is also the last: its outputs go through the plan's buffer, then back
    (a, n0), (b, n1) = full_and_skipping(interleaved_rows(160), lambda: [fn.Dense(600, 200)])
    assert n0 == 0 and n1 == 2
    np.testing.assert_array_equal(a, b)


def test_rows_with_the_same_margins_keep_their_order(monkeypatch):
    # dense rows all share their margins: no sort, one full GEMM
    X = np.random.default_rng(8).standard_normal((200, 600))
    a = chunked_predictor(False, monkeypatch)[1](X, batch_size=200)[0]
    b, n1 = chunked_predictor(True, monkeypatch)[1](X, batch_size=200)
    assert n1 == 0
    np.testing.assert_array_equal(a, b)


# ---- one-row predict: hidden Dense layers on their non-zero inputs (plan.c live_hidden)
def hidden_predictor(skip, monkeypatch, sizes, dtype="float64", acts=None, min_weights=0):
    """A seeded MLP (ReLU hidden layers unless ``acts`` says otherwise) and a predict that
    also returns how many hidden Dense ops ran on their non-zero inputs alone"""
    acts = acts or ["relu"] * (len(sizes) - 2)
    m = fn.Sequential([fn.Dense(a, b, activation=act)
                       for a, b, act in zip(sizes[:-2], sizes[1:-1], acts)] +
                      [fn.Dense(sizes[-2], sizes[-1])], seed=5, dtype=dtype)
    m.build((sizes[0],))

    def predict(x, **kw):                      # the flags are read when a plan is built
        monkeypatch.setattr(_train, "SKIP_ZERO_HIDDEN", skip)
        monkeypatch.setattr(_train, "SKIP_ZERO_PREDICT_MIN", min_weights)
        out = m.predict(np.asarray(x, dtype), **kw)
        return out, m._pplan[1].live_hidden_calls
    return m, predict


def taken(n):
    """Hidden ops run on their live inputs: only the AVX-512 path has the kernel (its
    one-row GEMM is the one that sums each output as that kernel does)"""
    return n if fn.config.get_isa() == "avx512" else 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes", [(40, 300, 200, 37), (30, 64, 300, 24), (20, 784, 512, 256)],
                         ids=["tails", "wide-hidden", "two-blocks"])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_one_row_predict_skips_the_zeros_of_hidden_layers(dtype, sizes, nthreads, monkeypatch,
                                                           threads):
    """The same bits as the full one-row product (each output one FMA chain in k order)
    for outputs in 16-vector blocks, single vectors and scalar tails."""
    threads(nthreads)
    X = np.random.default_rng(3).standard_normal((10, sizes[0]))
    m0, full = hidden_predictor(False, monkeypatch, sizes, dtype)
    m1, skip = hidden_predictor(True, monkeypatch, sizes, dtype)
    ref = fn.utils.clone_model(m1, dtype="float64")       # float64 batch products
    for i in range(10):
        (a, n0), (b, n1) = full(X[i:i + 1]), skip(X[i:i + 1])
        assert n0 == 0 and n1 == taken(2 * (i + 1))
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(b, ref.predict(np.tile(X[i:i + 1], (4, 1)))[:1],
                                   rtol=1e-4 if dtype == "float32" else 1e-12,
                                   atol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "tanh", "sigmoid", "linear", "gelu"])
def test_skipped_hidden_layer_applies_its_own_bias_and_activation(act, monkeypatch):
    sizes = (30, 200, 100, 20)
    X = np.random.default_rng(4).standard_normal((4, 30))
    m0, full = hidden_predictor(False, monkeypatch, sizes, acts=["relu", act])
    m1, skip = hidden_predictor(True, monkeypatch, sizes, acts=["relu", act])
    for m in (m0, m1):                         # biases that matter
        for layer in m.layers:
            layer.bias[...] = np.linspace(-0.5, 0.5, layer.bias.size)
    for i in range(4):
        (a, _), (b, n1) = full(X[i:i + 1]), skip(X[i:i + 1])
        np.testing.assert_array_equal(a, b)
    assert n1 == taken(8 if act == "relu" else 4)   # only ReLU leaves zeros for layer 3


def test_hidden_layer_with_no_live_input_gives_its_bias(monkeypatch):
    sizes = (30, 200, 100, 20)
    m0, full = hidden_predictor(False, monkeypatch, sizes)
    m1, skip = hidden_predictor(True, monkeypatch, sizes)
    for m in (m0, m1):
        m.layers[0].bias[...] = -1.0           # every first-layer unit off: h1 = 0
        m.layers[1].bias[...] = np.linspace(-1, 1, 100)
    x = np.full((1, 30), 1e-3)
    (a, _), (b, n1) = full(x), skip(x)
    np.testing.assert_array_equal(a, b)
    assert n1 == taken(2)


def test_hidden_skip_keeps_nonfinite_values_live(monkeypatch):
    sizes = (30, 200, 100, 20)
    x = np.random.default_rng(5).standard_normal((1, 30))
    x[0, 3] = np.nan
    m0, full = hidden_predictor(False, monkeypatch, sizes)
    m1, skip = hidden_predictor(True, monkeypatch, sizes)
    (a, _), (b, _) = full(x, allow_nonfinite=True), skip(x, allow_nonfinite=True)
    assert np.isnan(a).all() and np.isnan(b).all()


def test_hidden_skip_only_where_it_pays_and_sums_alike(monkeypatch):
    X = np.random.default_rng(6).standard_normal((4, 30))
    # several rows: not a one-row GEMV
    _, skip = hidden_predictor(True, monkeypatch, (30, 200, 100, 20))
    assert skip(X[:2])[1] == 0 and skip(X[:1])[1] == taken(2)
    # 16 outputs or fewer take the dot kernels, which sum in another order
    _, skip = hidden_predictor(True, monkeypatch, (30, 200, 16))
    assert skip(X[:1])[1] == 0
    # under SKIP_ZERO_PREDICT_MIN weights (200 x 100)
    _, skip = hidden_predictor(True, monkeypatch, (30, 200, 100, 20), min_weights=200 * 100 + 1)
    assert skip(X[:1])[1] == 0
    # inputs without zeros (tanh)
    _, skip = hidden_predictor(True, monkeypatch, (30, 200, 100, 20), acts=["tanh", "tanh"])
    assert skip(X[:1])[1] == 0
