"""Sequential end to end: the C plan against the NumPy twins, learning, determinism,
gradient checks, and the steady state allocating nothing."""
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
from conftest import child_kwargs, unaligned

import fastnn as fn
from fastnn import _ref
from fastnn import datasets as D

ALL_LAYERS = lambda: [  # noqa: E731 - a factory: every model needs fresh layers
    fn.Dense(6, 12, activation="tanh", kernel_regularizer=fn.L1L2(1e-3, 1e-3)),
    fn.BatchNorm(),
    fn.Dense(12, 10, activation="gelu"),
    fn.LayerNorm(),
    fn.Dropout(0.25),
    fn.Activation(("leaky_relu", 0.1)),
    fn.Dense(10, 8, activation="sigmoid"),
    fn.Dense(8, 8, activation="relu"),
    fn.Dense(8, 3),
]


def data(n=64, d=6, k=3, seed=0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, d))
    return X, r.integers(0, k, n)


def make(layers, loss="softmax_cross_entropy", opt=None, dtype="float64", backend="c", seed=3,
         metrics=("accuracy",)):
    m = fn.Sequential(layers, seed=seed, dtype=dtype, backend=backend)
    m.compile(optimizer=opt or fn.Adam(1e-2), loss=loss, metrics=list(metrics))
    return m


# ---- the C plan equals the NumPy reference execution ------------------------------
OPTIMIZERS = [lambda: fn.SGD(0.05, momentum=0.9, nesterov=True, clipnorm=1.0),
              lambda: fn.Adagrad(0.05, weight_decay=1e-3),
              lambda: fn.RMSProp(1e-2, momentum=0.5, centered=True, clipvalue=0.5),
              lambda: fn.Adam(1e-2, amsgrad=True),
              lambda: fn.AdamW(1e-2, lr=fn.CosineDecay(1e-2, 50))
              if False else fn.AdamW(fn.CosineDecay(1e-2, 50), weight_decay=0.05)]


@pytest.mark.parametrize("make_opt", OPTIMIZERS, ids=["sgd", "adagrad", "rmsprop", "adam",
                                                      "adamw"])
def test_c_plan_matches_numpy_reference_after_50_steps(make_opt):
    X, y = data(80)
    models = [make(ALL_LAYERS(), opt=make_opt(), backend=b) for b in ("c", "numpy")]
    for m in models:
        m.fit(X, y, epochs=5, batch_size=8, verbose=0)       # 10 steps x 5 = 50 steps
    c, ref = models
    assert c.optimizer.iterations == ref.optimizer.iterations == 50
    np.testing.assert_allclose(c.params, ref.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(c.buffers, ref.buffers, rtol=0, atol=1e-10)


@pytest.mark.parametrize("loss,k,act", [("mse", 2, None), ("mae", 2, None), ("huber", 2, None),
                                        ("binary_cross_entropy", 1, "sigmoid"),
                                        ("binary_cross_entropy_with_logits", 2, None)])
def test_c_plan_matches_reference_for_each_loss(loss, k, act):
    r = np.random.default_rng(1)
    X = r.standard_normal((40, 5))
    y = (r.random((40, k)) > 0.5).astype(float) if "binary" in loss else r.standard_normal((40, k))
    ms = [make([fn.Dense(5, 7, activation="elu"), fn.Dense(7, k, activation=act)], loss=loss,
               backend=b, metrics=()) for b in ("c", "numpy")]
    for m in ms:
        m.fit(X, y, epochs=10, batch_size=8, verbose=0)
    np.testing.assert_allclose(ms[0].params, ms[1].params, rtol=0, atol=1e-10)


def test_plan_path_equals_python_path():
    # top_k_accuracy is not computed by the plan, so that model steps from Python through
    # the same kernels; only the plan fuses act' into the input-gradient GEMM (rounding)
    X, y = data(64)
    a = make(ALL_LAYERS())
    b = make(ALL_LAYERS(), metrics=("accuracy", "top_k_accuracy"))
    for m in (a, b):
        m.fit(X, y, epochs=3, batch_size=16, verbose=0)
    assert a._plan is None and b._plan is None
    np.testing.assert_allclose(a.params, b.params, rtol=0, atol=1e-12)


# ---- gradients --------------------------------------------------------------------
@pytest.mark.parametrize("loss,k,last", [
    ("softmax_cross_entropy", 3, None), ("mse", 3, None), ("mae", 3, None),
    ("huber", 3, None), ("binary_cross_entropy", 3, "sigmoid"),
    ("binary_cross_entropy_with_logits", 3, None)])
def test_gradient_check_every_layer_and_loss(loss, k, last):
    X, _ = data(16)
    r = np.random.default_rng(2)
    y = r.integers(0, k, 16) if loss == "softmax_cross_entropy" else \
        (r.random((16, k)) > 0.5).astype(float) if "binary" in loss else r.standard_normal((16, k))
    layers = ALL_LAYERS()[:-1] + [fn.Dense(8, k, activation=last)]
    m = make(layers, loss=loss)
    m.build((6,))
    res = fn.utils.check_gradients(m, X, y)
    assert res["max_rel_error"] < 1e-6, res["max_rel_error"]


def test_gradient_check_catches_a_wrong_gradient():
    class Broken(fn.Layer):
        def forward(self, x, training=False):
            return x * 2.0

        def backward(self, dy):
            return dy * 3.0          # wrong on purpose

    X, y = data(8)
    m = make([fn.Dense(6, 4, activation="tanh"), Broken(), fn.Dense(4, 3)])
    m.build((6,))
    assert fn.utils.check_gradients(m, X, y)["max_rel_error"] > 1e-2


# ---- learning ---------------------------------------------------------------------
def test_xor_learned_from_every_one_of_20_seeds():
    X, y = D.make_xor()
    for seed in range(20):
        m = fn.Sequential([fn.Dense(2, 4, activation="tanh"), fn.Dense(4, 1, activation="sigmoid")],
                          seed=seed)
        m.compile(optimizer=fn.Adam(0.05), loss="binary_cross_entropy", metrics=["accuracy"])
        m.fit(X, y, epochs=500, batch_size=4, verbose=0)
        assert np.array_equal(m.predict(X).ravel() > 0.5, y > 0.5), f"seed {seed}"


def test_digits_test_accuracy_at_least_97_percent():
    X, y = D.load_digits()
    Xtr, Xte, ytr, yte = D.train_test_split(X, y, test_size=0.25, seed=0, stratify=y)
    m = fn.Sequential([fn.Dense(64, 256, activation="relu"), fn.Dense(256, 128, activation="relu"),
                       fn.Dense(128, 10)], seed=0)
    m.compile(optimizer=fn.Adam(1e-3), loss="softmax_cross_entropy", metrics=["accuracy"])
    m.fit(Xtr, ytr, epochs=30, batch_size=32, verbose=0)
    assert m.evaluate(Xte, yte)["accuracy"] >= 0.97


def test_python_layer_trains_through_the_slow_path():
    class Square(fn.Layer):
        def forward(self, x, training=False):
            self._x = x
            return x * x

        def backward(self, dy):
            return 2 * self._x * dy

    X, y = data(64)
    m = make([fn.Dense(6, 8), Square(), fn.Dense(8, 3)], dtype="float32")
    h = m.fit(X, y, epochs=20, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]


# ---- determinism across thread counts ---------------------------------------------
DETERMINISM = textwrap.dedent("""
    import sys, numpy as np, fastnn as fn
    fn.set_num_threads(int(sys.argv[1]))
    (X, y), _ = fn.datasets.load_mnist(flatten=True) if False else ((None, None), None)
    X, y = fn.datasets.load_digits()
    X = np.tile(X, (1, 4))                      # 256 features: GEMMs big enough to thread
    m = fn.Sequential([fn.Dense(256, 512, activation="relu"), fn.Dropout(0.3),
                       fn.Dense(512, 256, activation="relu"), fn.Dropout(0.2),
                       fn.Dense(256, 10)], seed=7)
    m.compile(optimizer=fn.Adam(1e-3, clipnorm=5.0), loss="softmax_cross_entropy",
              metrics=["accuracy"])
    m.fit(X, y, epochs=3, batch_size=128, verbose=0)
    sys.stdout.buffer.write(m.params.tobytes())
""")


def test_bit_identical_weights_at_1_2_3_threads_with_dropout():
    outs = []
    for t in (1, 2, 3):
        r = subprocess.run([sys.executable, "-c", DETERMINISM, str(t)], capture_output=True,
                           timeout=300, **child_kwargs(PYTHONHASHSEED="0"))
        assert r.returncode == 0, r.stderr.decode()
        outs.append(r.stdout)
    assert len(outs[0]) > 0 and outs[0] == outs[1] == outs[2]


# ---- the steady state allocates nothing -------------------------------------------
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer's quarantine keeps freed memory resident")
def test_no_allocation_growth_over_1000_steps():
    X, y = data(128 * 10, d=32, k=10)
    m = fn.Sequential([fn.Dense(32, 64, activation="relu"), fn.Dropout(0.1),
                       fn.Dense(64, 10)], seed=0)
    m.compile(optimizer=fn.Adam(1e-3), loss="softmax_cross_entropy", metrics=["accuracy"])
    m.fit(X, y, epochs=5, batch_size=128, verbose=0)        # warm-up

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    tracemalloc.start()
    r0, (t0, _) = rss(), tracemalloc.get_traced_memory()
    m.fit(X, y, epochs=100, batch_size=128, verbose=0)       # 1,000 steps
    t1, _ = tracemalloc.get_traced_memory()
    r1 = rss()
    tracemalloc.stop()
    assert m.optimizer.iterations == 1050
    assert t1 - t0 < 64 * 1024, f"Python heap grew by {t1 - t0} bytes"
    assert r1 - r0 < 1 << 20, f"RSS grew by {r1 - r0} bytes"


# ---- API surface ------------------------------------------------------------------
def test_summary_and_reprs(capsys):
    m = fn.Sequential([fn.Flatten(), fn.Dense(784, 512, activation="relu"), fn.Dropout(0.2),
                       fn.Dense(512, 10)], seed=0)
    assert repr(m.layers[1]) == "Dense(784, 512, relu)"
    assert repr(m.layers[2]) == "Dropout(0.2)"
    m.build((28, 28))
    m.summary()
    out = capsys.readouterr().out
    assert "(None, 784)" in out and "401,920" in out and "407,050" in out
    assert m.count_params() == 784 * 512 + 512 + 512 * 10 + 10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_arenas_start_at_a_cache_line(dtype):
    """Parameters, gradients and optimizer state start at a 64-byte boundary (NumPy gives
    16), so the kernels' vectors don't split cache lines on 64-byte-multiple rows."""
    from fastnn._data import zeros_aligned
    for shape in [(1,), (7,), (3, 5), (1000,)]:  # (an empty array has nothing to align)
        a = zeros_aligned(shape, dtype)
        assert a.shape == shape and a.dtype == dtype and a.ctypes.data % 64 == 0
        assert a.flags.c_contiguous and a.flags.writeable and not a.any()
    m = fn.Sequential([fn.Dense(5, 7, activation="relu"), fn.Dense(7, 3)], dtype=dtype)
    m.compile(optimizer=fn.Adam(1e-3), loss="softmax_cross_entropy")
    X, y = data(16, d=5)
    m.fit(X.astype(dtype), y, epochs=1, batch_size=8, verbose=0)
    arrays = [m.params, m.grads] + list(m.optimizer.state.values())
    assert len(arrays) >= 4 and all(a.ctypes.data % 64 == 0 for a in arrays)


def _vma(address):
    """The /proc/self/smaps entry (a dict of its fields) of the mapping holding address."""
    import re
    with open("/proc/self/smaps") as f:
        for block in re.split(r"\n(?=[0-9a-f]+-[0-9a-f]+ )", f.read()):
            lo, hi = (int(v, 16) for v in block.split()[0].split("-"))
            if lo <= address < hi:
                return dict(ln.split(":", 1) for ln in block.splitlines()[1:] if ":" in ln)
    raise AssertionError(f"no mapping holds {address:#x}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_large_parameter_arena_sits_on_huge_pages(dtype):
    """From 2 MiB on, the parameter arena starts at a 2 MiB boundary with its whole 2 MiB
    blocks marked for transparent huge pages (Linux), and is the same zeros otherwise."""
    from fastnn._data import HUGE_PAGE, zeros_aligned
    for shape in [(HUGE_PAGE // np.dtype(dtype).itemsize + 3,), (3, HUGE_PAGE)]:
        a = zeros_aligned(shape, dtype, huge=True)
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous
        assert a.flags.writeable and not a.any()
        a[...] = 1
        assert a.sum() == a.size
    small = zeros_aligned((1000,), dtype, huge=True)         # too small: plain pages
    assert small.ctypes.data % 64 == 0 and not small.any()
    m = fn.Sequential([fn.Dense(784, 700, activation="relu"), fn.Dense(700, 10)],
                      dtype=dtype, seed=0)
    m.compile(optimizer="adam", loss="softmax_cross_entropy")
    m.build((784,))
    assert m.params.nbytes >= HUGE_PAGE and m.params.any()
    if not sys.platform.startswith("linux"):
        return
    assert m.params.ctypes.data % HUGE_PAGE == 0
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            thp = "[never]" not in f.read()
    except OSError:
        thp = False
    if thp:   # eligible, whether or not the kernel had a free huge page to give
        assert _vma(m.params.ctypes.data).get("THPeligible", "1").strip() == "1"
    X = np.random.default_rng(0).random((4, 784)).astype(dtype)
    ref = fn.Sequential([fn.Dense(784, 700, activation="relu"), fn.Dense(700, 10)],
                        dtype=dtype, seed=0, backend="numpy")
    ref.compile(optimizer="adam", loss="softmax_cross_entropy")
    ref.build((784,))
    np.testing.assert_array_equal(ref.params, m.params)
    np.testing.assert_allclose(m.predict(X), ref.predict(X), rtol=1e-5 if dtype == np.float32
                               else 1e-12, atol=1e-7)


def test_dense_infers_input_size_and_flatten_takes_images():
    X = np.random.default_rng(0).random((20, 4, 4)).astype(np.float32)
    y = np.arange(20) % 3
    m = fn.Sequential([fn.Flatten(), fn.Dense(8, activation="relu"), fn.Dense(3)])
    m.compile(loss="categorical_cross_entropy", metrics=["accuracy"])
    m.fit(X, y, epochs=2, batch_size=5, verbose=0)
    assert m.layers[1].in_features == 16
    p = m.predict(X)
    assert p.shape == (20, 3) and np.allclose(p.sum(1), 1, atol=1e-5)


def test_softmax_last_layer_is_fused_with_the_loss():
    """Dense(softmax), Dense + Activation("softmax") (the usual Keras pattern) and a logits
    Dense train alike under softmax cross-entropy: softmax is applied once, by the loss."""
    X, y = data(32)
    a = make([fn.Dense(6, 3, activation="softmax")], seed=1)
    b = make([fn.Dense(6, 3)], seed=1)
    c = make([fn.Dense(6, 3), fn.Activation("softmax")], seed=1)
    for m in (a, b, c):
        m.fit(X, y, epochs=3, batch_size=8, verbose=0)
    for m in (b, c):
        np.testing.assert_allclose(a.params, m.params, atol=1e-12)
        np.testing.assert_allclose(a.predict(X), m.predict(X), atol=1e-12)
    # a layer called on its own keeps its activation: probabilities, not the loss's logits
    np.testing.assert_allclose(a.layers[0](X), a.predict(X), atol=1e-12)
    np.testing.assert_allclose(c.layers[1](c.layers[0](X)), a.predict(X), atol=1e-12)
    assert a.layers[0]._fused_into_loss and c.layers[1]._fused_into_loss
    c.compile(optimizer="adam", loss="mse")      # recompiled: nothing is fused any more
    assert not c.layers[1]._fused_into_loss
    np.testing.assert_allclose(c.predict(X), a.predict(X), atol=1e-12)


@pytest.mark.parametrize("loss,k,act", [("mse", 3, None), ("binary_cross_entropy", 3, "sigmoid"),
                                        ("binary_cross_entropy", 1, "sigmoid"), ("mse", 1, None)])
def test_training_metrics_are_the_ones_evaluate_computes(loss, k, act):
    """fit's accuracy (arg-max over outputs, threshold for one) and binary_accuracy (per
    output) from the C plan equal evaluate's on the same weights (lr = 0)."""
    X, y = data(64, k=max(k, 2))
    Y = D.one_hot(y, k) if k > 1 else y[:, None].astype(float)
    m = make([fn.Dense(6, k, activation=act)], loss=loss, opt=fn.SGD(0.0),
             metrics=("accuracy", "binary_accuracy"))
    m.build(6)
    assert m._train_plan(8) is not None            # the numbers come from the C plan
    h = m.fit(X, Y, epochs=1, batch_size=8, verbose=0).history
    ev = m.evaluate(X, Y)
    for name in ("accuracy", "binary_accuracy"):
        assert h[name][0] == pytest.approx(ev[name], abs=1e-12)
    if k > 1:
        assert h["accuracy"][0] != pytest.approx(h["binary_accuracy"][0])


def test_an_optimizer_steps_one_model():
    """Keras and torch.optim tie an optimizer to its parameters. Here a second model is
    refused with a ValueError: the state arenas are sized for the first (a larger model
    stepped through them wrote past their end), and a same-sized one would inherit its
    moments and step count."""
    X, y = data(32)
    opt = fn.Adam(1e-2)
    a = make([fn.Dense(6, 3)], opt=opt)
    a.fit(X, y, epochs=1, batch_size=8, verbose=0)
    for layers in ([fn.Dense(6, 16), fn.Dense(16, 3)], [fn.Dense(6, 3)]):
        with pytest.raises(ValueError, match="another model's parameters"):
            make(layers, opt=opt)
    shared = fn.SGD(0.1, momentum=0.9)             # compiled into two, trained in one
    b, c = make([fn.Dense(6, 3)], opt=shared), make([fn.Dense(6, 16), fn.Dense(16, 3)],
                                                    opt=shared)
    c.fit(X, y, epochs=1, batch_size=8, verbose=0)
    for step in (lambda: b.fit(X, y, epochs=1, verbose=0), lambda: b.train_on_batch(X, y)):
        with pytest.raises(ValueError, match="another model's parameters"):
            step()
    with pytest.raises(ValueError, match="another model's parameters"):
        shared.step(np.zeros(3), np.zeros(3))
    it = opt.iterations
    a.compile(optimizer=opt, loss="softmax_cross_entropy")   # the same model again: kept
    a.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert opt.iterations == it + 4
    a.build(6)                                     # new weights: the old moments go
    assert opt.iterations == 0 and not opt.state
    a.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert opt.iterations == 4
    opt.state["m"] = np.zeros(5)                   # state that does not fit is refused
    opt._arena = None
    with pytest.raises(ValueError, match="state 'm' does not match the parameters"):
        a.fit(X, y, epochs=1, verbose=0)


def test_keras_spellings_of_shapes_labels_and_metrics():
    X, y = data(40)
    m = fn.Sequential([fn.Dense(3)])
    m.compile(loss="softmax_cross_entropy", metrics="accuracy")   # one metric as a string
    assert [n for n, _ in m.metrics] == ["accuracy"]
    m.build((None, 6))                             # Keras's batch axis first
    assert m.input_shape == (6,)
    for bad in ((None,), (0,), (None, None), "six", 1.5, (-3,), (True,)):
        with pytest.raises(ValueError, match="input_shape"):
            fn.Sequential([fn.Dense(3)]).build(bad)
    a, b = make([fn.Dense(6, 3)]), make([fn.Dense(6, 3)])
    a.fit(X, y, epochs=2, batch_size=8, verbose=0)
    b.fit(X, y[:, None], epochs=2, batch_size=8, verbose=0)   # a column of labels
    np.testing.assert_array_equal(a.params, b.params)
    assert type(a.history.history["loss"][0]) is float


def test_validation_sample_weights_are_used():
    X, y = data(60)
    sw = np.linspace(0.0, 2.0, 20)
    m = make([fn.Dense(6, 3)], opt=fn.SGD(0.0))
    h = m.fit(X[:40], y[:40], epochs=1, verbose=0, validation_data=(X[40:], y[40:], sw))
    weighted = m.evaluate(X[40:], y[40:], sample_weight=sw)["loss"]
    assert h.history["val_loss"][0] == pytest.approx(weighted, abs=1e-12)
    assert weighted != pytest.approx(m.evaluate(X[40:], y[40:])["loss"])
    h = m.fit(X, y, epochs=1, verbose=0, sample_weight=np.r_[np.ones(40), sw],
              validation_split=1 / 3)             # split like X and y, as Keras does
    assert h.history["val_loss"][0] == pytest.approx(weighted, abs=1e-12)
    for bad, match in ((sw[:5], "one weight per sample"), (-sw, "finite and >= 0")):
        with pytest.raises(ValueError, match=match):
            m.fit(X[:40], y[:40], verbose=0, validation_data=(X[40:], y[40:], bad))
        with pytest.raises(ValueError, match=match):
            m.evaluate(X[40:], y[40:], sample_weight=bad)


@pytest.mark.parametrize("loss,out_act,k", [("softmax_cross_entropy", None, 3),
                                             ("binary_cross_entropy", "sigmoid", 1),
                                             ("mse", None, 2)])
@pytest.mark.parametrize("batch_size", [1, 7, 1024])
def test_predict_applies_the_output_activation_like_the_numpy_backend(loss, out_act, k,
                                                                      batch_size):
    """The C inference plan applies softmax / sigmoid itself, batch by batch."""
    X, y = data(23, k=2)
    y = y if loss == "softmax_cross_entropy" else np.tile(y[:, None], (1, k)).astype(float)
    a, b = (make([fn.Dense(6, 5, activation="tanh"), fn.Dense(5, k, activation=out_act)],
                 loss=loss, backend=be) for be in ("c", "numpy"))
    for m in (a, b):
        m.fit(X, y, epochs=2, batch_size=8, verbose=0)
    p = a.predict(X, batch_size=batch_size)
    np.testing.assert_allclose(p, b.predict(X, batch_size=batch_size), atol=1e-12)
    z = a._raw_outputs(X, 1024)
    want = {"softmax_cross_entropy": lambda: _ref.softmax(z),
            "binary_cross_entropy": lambda: _ref.sigmoid(z), "mse": lambda: z}[loss]()
    np.testing.assert_allclose(p, want, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_fast_path_agrees_and_leaves_anything_unusual_to_the_checks(dtype, threads):
    """model.predict hands a ready array straight to the cached C plan; every other input
    (lists, other dtypes, strided views, byte-swapped or unaligned arrays, other batch
    sizes or thread counts, NaN, wrong shapes) takes the general path, which converts it
    or raises the usual error."""
    X, y = data(23)
    a, b = (make([fn.Dense(6, 5, activation="relu"), fn.Dense(5, 3)], dtype=dtype, backend=be)
            for be in ("c", "numpy"))
    for m in (a, b):
        m.fit(X, y, epochs=2, batch_size=8, verbose=0)
    Xd = X.astype(dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for t in (1, 2, 1):
        threads(t)
        for x, bs in [(Xd, 1024), (Xd, 1024), (Xd[:1], 1024), (Xd[:1], 1024), (Xd, 5),
                      (Xd[:4], 5), (Xd[:9], 5), (Xd[:4], 30), (Xd[:4], 23),
                      (Xd.tolist(), 1024), (X.astype(np.float16), 1024),
                      (np.asfortranarray(Xd), 7), (Xd[::2], 1024), (Xd[:, None, :][:, 0], 3),
                      (Xd.astype(Xd.dtype.newbyteorder()), 1024), (unaligned(Xd), 1024)]:
            p = a.predict(x, batch_size=bs)
            assert p.dtype == np.dtype(dtype) and p.shape == (len(x), 3)
            np.testing.assert_allclose(p, b.predict(x, batch_size=bs), atol=tol)
    np.testing.assert_array_equal(a.predict(Xd, verbose=0), a.predict(Xd))  # Keras's call
    a.predict(Xd)                                     # the plan for this batch is cached
    plan = a._pplan[1]
    a.predict(Xd[:1])                                 # and serves single samples too
    a.predict(Xd[:7], batch_size=100)
    assert a._pplan[1] is plan
    bad = Xd.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        a.predict(bad)
    assert np.isnan(a.predict(bad, allow_nonfinite=True)[4]).all()
    with pytest.raises(ValueError, match="samples of shape"):
        a.predict(Xd[:, :5].copy())
    with pytest.raises(ValueError, match="empty"):
        a.predict(Xd[:0])
    for bs in (0, -3, True, 2.0):
        with pytest.raises(ValueError, match="batch_size"):
            a.predict(Xd, batch_size=bs)


def test_predict_from_several_threads_equals_one_at_a_time():
    """The cached inference plan's buffers serve one call at a time, so threads sharing a
    model (a web server's workers) get what sequential calls get."""
    import threading
    m = fn.Sequential([fn.Dense(16, 64, activation="relu"), fn.Dense(64, 5)], seed=0)
    m.build(16)
    Xs = [np.random.default_rng(i).standard_normal((300, 16)).astype(np.float32)
          for i in range(4)]
    want = [m.predict(x) for x in Xs] + [m.predict(x[:1]) for x in Xs]
    bad = []

    def work(i):
        for _ in range(30):
            x = Xs[i % 4] if i < 4 else Xs[i % 4][:1]
            if not np.array_equal(m.predict(x), want[i]):
                bad.append(i)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not bad


def test_one_model_trains_in_one_call_at_a_time():
    """Two fits of one model from two threads shared its plan and arenas: glibc aborted
    the process (malloc(): invalid size). The second call is now a RuntimeError, and so
    is a fit, build or compile started from a callback of a running fit."""
    import threading
    r = np.random.default_rng(0)
    X, y = r.random((4000, 32), np.float32), r.integers(0, 5, 4000)
    m = make([fn.Dense(32, 64, activation="relu"), fn.Dense(64, 5)])
    started, release, errors = threading.Event(), threading.Event(), []

    class Hold(fn.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started.set()
            release.wait(30)

    def first():
        m.fit(X, y, epochs=1, batch_size=16, verbose=0, callbacks=[Hold()])

    t = threading.Thread(target=first)
    t.start()
    assert started.wait(30)
    for call in (lambda: m.fit(X, y, batch_size=512, verbose=0),
                 lambda: m.train_on_batch(X[:8], y[:8]), lambda: m.build(32),
                 lambda: m.compile(optimizer="sgd", loss="softmax_cross_entropy")):
        try:
            call()
        except RuntimeError as e:
            errors.append(str(e))
    release.set()
    t.join()
    assert len(errors) == 4 and all("fit is running on this model" in e for e in errors)

    class Nested(fn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.fit(X, y, verbose=0)

    with pytest.raises(RuntimeError, match="cannot start fit: fit is running"):
        m.fit(X, y, epochs=1, batch_size=256, verbose=0, callbacks=[Nested()])
    with pytest.raises(ValueError):                  # a fit that fails frees the model
        m.fit(X[:, :3], y, verbose=0)
    assert m.fit(X, y, epochs=1, batch_size=256, verbose=0).history["loss"]
    assert np.isfinite(m.params).all()


def test_one_hot_targets_equal_integer_labels():
    X, y = data(32)
    a, b = make([fn.Dense(6, 3)]), make([fn.Dense(6, 3)])
    a.fit(X, y, epochs=2, batch_size=8, verbose=0)
    b.fit(X, D.one_hot(y, 3), epochs=2, batch_size=8, verbose=0)
    np.testing.assert_allclose(a.params, b.params, atol=1e-12)


def test_full_batch_gradient_descent_and_history():
    X, y = data(50)
    m = make([fn.Dense(6, 3)], opt=fn.SGD(0.1))
    h = m.fit(X, y, epochs=7, batch_size=None, validation_split=0.2, verbose=0)
    assert m.optimizer.iterations == 7
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(h.history["loss"]) == 7 and h.epoch == list(range(7))


def test_class_weight_and_sample_weight_change_training():
    X, y = data(48)
    ms = [make([fn.Dense(6, 3)]) for _ in range(3)]
    ms[0].fit(X, y, epochs=2, batch_size=8, verbose=0)
    ms[1].fit(X, y, epochs=2, batch_size=8, verbose=0, class_weight={0: 5.0})
    sw = np.where(y == 0, 5.0, 1.0)
    ms[2].fit(X, y, epochs=2, batch_size=8, verbose=0, sample_weight=sw)
    assert not np.allclose(ms[0].params, ms[1].params)
    np.testing.assert_allclose(ms[1].params, ms[2].params, atol=1e-12)
    before = ms[0].params.copy()
    for cw, exc, match in (({3: 2.0}, ValueError, r"class indices in \[0, 3\); got 3"),
                           (({"0": 2.0}), ValueError, "got '0'"),
                           ({0: "2"}, TypeError, r"class_weight\[0\] must be a real number"),
                           ({1: -1.0}, ValueError, r"class_weight\[1\] must be finite")):
        with pytest.raises(exc, match=match):
            ms[0].fit(X, y, epochs=1, verbose=0, class_weight=cw)
    np.testing.assert_array_equal(ms[0].params, before)
    ms[0].fit(X, y, epochs=1, verbose=0, class_weight={np.int64(2): 0.5})   # NumPy ints


def test_train_on_batch_and_evaluate():
    X, y = data(32)
    m = make([fn.Dense(6, 3)])
    logs = m.train_on_batch(X, y)
    assert set(logs) == {"loss", "accuracy"} and m.optimizer.iterations == 1
    ev = m.evaluate(X, y)
    assert set(ev) == {"loss", "accuracy"}


def test_divergence_stops_with_warning_and_keeps_finite_weights():
    X, y = data(64)
    m = make([fn.Dense(6, 16, activation="relu"), fn.Dense(16, 3)], opt=fn.SGD(1e30),
             loss="mse", metrics=())
    with pytest.warns(RuntimeWarning, match="diverged"):
        m.fit(X, D.one_hot(y, 3) * 1e20, epochs=5, batch_size=8, verbose=0)
    assert np.isfinite(m.params).all()


def test_divergence_on_a_chunks_first_step_restores_weights_with_a_finite_loss():
    """With SGD(1e30) the first update makes weights whose next loss is NaN. That step
    opens a chunk, so restoring the chunk's start gave back the NaN-making weights (the
    CLI then reported 'test loss nan'); the state before the first update is restored."""
    X, y = data(64)
    m = make([fn.Dense(6, 16, activation="relu"), fn.Dense(16, 3)], opt=fn.SGD(1e30),
             dtype="float32")
    m.build((6,))
    start = m.params.copy()
    with pytest.warns(RuntimeWarning, match="diverged at epoch 1, step 2"):
        m.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_array_equal(m.params, start)
    assert m.optimizer.iterations == 0 and np.isfinite(m.evaluate(X, y)["loss"])
    m.compile(optimizer=fn.SGD(0.05), loss="softmax_cross_entropy")
    m.fit(X, y, epochs=2, batch_size=8, verbose=0)          # and it trains on from there
    assert np.isfinite(m.params).all() and m._snap is None  # restore points last one fit


def test_divergence_from_nonfinite_data_keeps_the_steps_before_it():
    """With allow_nonfinite the data, not the weights, may give the NaN: a chunk's first
    step failing on a NaN row keeps the chunk's start (here the first step's update)."""
    X, y = data(64)
    X[8] = np.nan                                           # the second batch of 8
    m = make([fn.Dense(6, 3)], opt=fn.SGD(0.1))
    with pytest.warns(RuntimeWarning, match="step 2: .* after 1 optimizer steps"):
        m.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0, allow_nonfinite=True)
    assert m.optimizer.iterations == 1 and np.isfinite(m.params).all()


def test_fit_works_on_models_pickled_with_an_older_restore_point():
    """Pickles from before the two restore buffers hold no _snap, or a (arrays, counters)
    tuple; fit used to fail on both with AttributeError / TypeError."""
    X, y = data(32)
    for old in ("missing", "tuple"):
        m = make([fn.Dense(6, 3)])
        m.fit(X, y, epochs=1, verbose=0)
        if old == "missing":
            del m.__dict__["_snap"]
        else:
            m._snap = ([np.zeros_like(m.params)], [0, 0])
        m.fit(X, y, epochs=1, verbose=0)
        assert m.optimizer.iterations == 2


@pytest.mark.parametrize("last", [fn.Dense(4, 1), fn.Dense(4, 1, activation="relu"),
                                  fn.Activation("tanh")], ids=["linear", "relu", "tanh"])
def test_probability_bce_after_a_non_probability_layer_warns(last):
    """Keras trains Dense(1) + binary_crossentropy silently on clamped values; torch's
    BCELoss refuses values outside [0, 1]."""
    layers = [fn.Dense(3, 4)] + ([fn.Dense(4, 4), last] if isinstance(last, fn.Activation)
                                 else [last])
    with pytest.warns(UserWarning, match="activation='sigmoid'"):
        fn.Sequential(layers).compile(loss="binary_crossentropy")


def test_probability_bce_after_sigmoid_or_softmax_or_on_logits_does_not_warn():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for last, loss in ((fn.Dense(4, 1, activation="sigmoid"), "binary_crossentropy"),
                           (fn.Dense(4, 3, activation="softmax"), "binary_crossentropy"),
                           (fn.Dense(4, 1), "binary_cross_entropy_with_logits"),
                           (fn.Dense(4, 1), fn.BinaryCrossEntropy(from_logits=True)),
                           (fn.Dense(4, 1, activation="step"), "binary_crossentropy")):
            fn.Sequential([fn.Dense(3, 4), last]).compile(loss=loss)


def test_learning_rate_schedules():
    s = fn.StepDecay(1.0, step_size=10, gamma=0.5)
    assert s(1) == 1.0 and s(11) == 0.5 and s(21) == 0.25
    e = fn.ExponentialDecay(1.0, decay_steps=10, decay_rate=0.1, staircase=True)
    assert e(10) == 1.0 and np.isclose(e(11), 0.1)
    c = fn.CosineDecay(1.0, decay_steps=100, warmup_steps=10)
    assert c(5) == 0.5 and c(10) == 1.0 and np.isclose(c(110), 0.0)
    opt = fn.SGD(lambda step: 0.1 / step)
    assert opt.current_lr(4) == 0.025
    grow = fn.SGD(fn.ExponentialDecay(0.1, decay_steps=1, decay_rate=10.0))
    with pytest.raises(ValueError, match="schedule gave lr=inf at step 400"):
        grow.current_lr(400)                       # 10**400 overflows a float


@pytest.mark.parametrize("bad,match", [
    (lambda: fn.Dense(0, 3), "in_features"), (lambda: fn.Dense(3, -1), "out_features"),
    (lambda: fn.Dense(3, 2, activation="swoosh"), "swoosh"),
    (lambda: fn.Dropout(1.0), "rate"), (lambda: fn.Adam(lr=-1), "lr"),
    (lambda: fn.SGD(0.1, nesterov=True), "nesterov"), (lambda: fn.Adam(beta1=1.0), "beta1"),
    (lambda: fn.BatchNorm(momentum=1.5), "momentum"), (lambda: fn.L2(-1), "l2"),
    (lambda: fn.Sequential([], dtype="float16"), "dtype"),
    (lambda: fn.EarlyStopping(patience=-1), "patience"),
])
def test_bad_hyperparameters_name_the_value(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


@pytest.mark.parametrize("bad,exc,match", [
    (lambda: fn.Huber(delta="a"), TypeError, "delta must be a real number"),
    (lambda: fn.Huber(delta=0), ValueError, "delta must be finite and in"),
    (lambda: fn.SoftmaxCrossEntropy(label_smoothing="a"), TypeError, "label_smoothing"),
    (lambda: fn.EarlyStopping(baseline="x"), TypeError, "baseline must be a real number"),
    (lambda: fn.EarlyStopping(min_delta=float("nan")), ValueError, "min_delta"),
    (lambda: fn.EarlyStopping(start_from_epoch=-1), ValueError, "start_from_epoch"),
    (lambda: fn.EarlyStopping(monitor=3), TypeError, "monitor must be the name"),
    (lambda: D.one_hot([]), ValueError, "cannot infer num_classes"),
    (lambda: D.one_hot([1], num_classes=0), ValueError, "num_classes must be >= 1"),
    (lambda: fn.utils.check_gradients(make([fn.Dense(6, 3)]), *data(4), eps=0), ValueError,
     "eps must be finite and in"),
    # a NaN weight gave max_rel_error NaN, a short one NumPy's broadcast error
    (lambda: fn.utils.check_gradients(make([fn.Dense(6, 3)]), *data(4),
                                      sample_weight=[1, np.nan, 1, 1]), ValueError,
     "sample_weight must be finite"),
    (lambda: fn.utils.check_gradients(make([fn.Dense(6, 3)]), *data(4), sample_weight=[1, 2]),
     ValueError, "one weight per sample"),
])
def test_arguments_of_the_wrong_type_or_value_name_it(bad, exc, match):
    """Not NumPy's "ufunc 'isfinite' not supported" nor a ZeroDivisionError."""
    with pytest.raises(exc, match=match):
        bad()


def test_numpy_integers_count_as_integers():
    """KFold(np.int64(3)), patience=np.int64(2) and initial_epoch=np.int64(1), as a grid
    over np.arange gives them, were refused."""
    folds = fn.model_selection.KFold(np.int64(3))
    assert folds.n_splits == 3 and type(folds.n_splits) is int
    assert fn.EarlyStopping(patience=np.int64(2)).patience == 2
    X, y = data(32)
    m = make([fn.Dense(6, 3)])
    h = m.fit(X, y, epochs=np.int64(3), initial_epoch=np.int64(1), verbose=0)
    assert h.epoch == [1, 2]
    with pytest.raises(ValueError, match="n_splits"):
        fn.model_selection.KFold(np.float64(3))


def test_one_hot_of_no_labels():
    assert D.one_hot([], 3).shape == (0, 3)


def test_to_categorical_is_kerass_one_hot():
    y = np.array([2, 0, 1, 2])
    expect = np.eye(3, dtype=np.float32)[y]
    np.testing.assert_array_equal(fn.utils.to_categorical(y), expect)
    np.testing.assert_array_equal(fn.utils.to_categorical(y[:, None], num_classes=3), expect)
    assert fn.utils.to_categorical(y, 5, dtype="float64").shape == (4, 5)
    np.testing.assert_array_equal(fn.utils.to_categorical(y.astype(float)), expect)
    grid = fn.utils.to_categorical(y.reshape(2, 2))           # any shape, as in Keras
    assert grid.shape == (2, 2, 3) and (grid.argmax(-1) == y.reshape(2, 2)).all()
    assert fn.utils.to_categorical(1, num_classes=2).tolist() == [0.0, 1.0]
    assert fn.utils.to_categorical([True, False]).tolist() == [[0, 1], [1, 0]]
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\]; got labels from 0 to 2"):
        fn.utils.to_categorical(y, num_classes=2)
    with pytest.raises(ValueError, match="from -1 to 0"):
        fn.utils.to_categorical([0, -1])
    with pytest.raises(ValueError, match="whole numbers"):
        fn.utils.to_categorical([0.5, 1.0])
    with pytest.raises(ValueError, match="integer class labels"):
        fn.utils.to_categorical(["a", "b"])


def test_hyperparameters_are_checked_when_changed_after_construction():
    """The update kernels take hyperparameters as they are; a value set between two fits
    (or by a callback) is checked as the constructor checks it."""
    X, y = data(32)
    opt = fn.Adam(1e-2)
    m = make([fn.Dense(6, 3)], opt=opt)
    m.fit(X, y, epochs=1, batch_size=8, verbose=0)
    before = m.params.copy()
    for name, value in (("beta1", 5), ("beta2", 1.0), ("eps", 0), ("lr", -1e-3),
                        ("lr", float("nan")), ("weight_decay", "0.1"), ("clipnorm", 0)):
        with pytest.raises(ValueError, match=f"Adam: {name} must be"):
            setattr(opt, name, value)
    assert (opt.beta1, opt.beta2, opt.eps, opt.lr) == (0.9, 0.999, 1e-8, 1e-2)
    opt.beta1, opt.clipnorm, opt.lr = 0.5, None, fn.StepDecay(1e-2, 10)   # valid: taken
    m.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(m.params).all() and not np.array_equal(m.params, before)
    with pytest.raises(ValueError, match="SGD: momentum must be"):
        fn.SGD().momentum = 1.0
    with pytest.raises(ValueError, match="RMSProp: rho must be"):
        fn.RMSProp().rho = -0.1


def test_keras_spellings_of_layers_and_fit_arguments():
    """The first model a Keras user writes runs as written."""
    X, y = data(40)
    m = fn.Sequential([fn.Dense(units=16, activation="relu", input_shape=(6,)),
                       fn.Dense(3, activation="softmax")])
    m.compile(optimizer=fn.Adam(learning_rate=1e-2), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    ref = fn.Sequential([fn.Dense(6, 16, activation="relu"), fn.Dense(3, activation="softmax")])
    ref.compile(optimizer=fn.Adam(1e-2), loss="softmax_cross_entropy", metrics=["accuracy"])
    h = m.fit(x=X, y=y, epochs=2, batch_size=8, verbose=0)
    assert h.history == ref.fit(X, y, epochs=2, batch_size=8, verbose=0).history
    np.testing.assert_array_equal(m.params, ref.params)
    assert m.evaluate(x=X, y=y) == ref.evaluate(X, y)
    loss, acc = m.evaluate(X, y, return_dict=False)          # Keras's list
    assert [loss, acc] == list(ref.evaluate(X, y).values())
    assert ref.evaluate(X, y, return_dict=False) == [loss, acc]
    plain = fn.Sequential([fn.Dense(6, 3)])
    plain.compile(optimizer="sgd", loss="softmax_cross_entropy")
    assert plain.evaluate(X, y, return_dict=False) == plain.evaluate(X, y)["loss"]
    np.testing.assert_array_equal(m.predict(x=X), ref.predict(X))
    assert (fn.Dense(4, input_dim=6).in_features, fn.Dense(units=4).in_features) == (6, None)
    for bad, exc, match in (
            (lambda: fn.Dense(3, 4, units=5), TypeError, "output size twice"),
            (lambda: fn.Dense(3, 4, input_dim=5), TypeError, "input size twice"),
            (lambda: fn.Dense(), TypeError, "needs its output size"),
            (lambda: fn.Dense(4, input_shape=(28, 28)), ValueError, "Flatten"),
            (lambda: m.fit(X, y, x=X), TypeError, "inputs once"),
            (lambda: m.fit(X, y, 8, 2), TypeError, "positional"),     # Keras: batch, epochs
            (lambda: m.evaluate(X, y, 8, 0), TypeError, "positional"),
            (lambda: m.predict(X, 8, 0), TypeError, "positional"),
            (lambda: m.fit(X), TypeError, "needs the targets y"),
            (lambda: m.evaluate(y=y), TypeError, "needs the inputs X"),
            (lambda: m.predict(), TypeError, "needs the inputs X")):
        with pytest.raises(exc, match=match):
            bad()


def test_keras_input_entry_builds_the_model_from_its_shape(capsys, tmp_path):
    """Keras 3's way to give the input shape: Sequential([Input(shape=...), ...])."""
    X, y = data(40)
    m = fn.Sequential([fn.Input(shape=(6,)), fn.Dense(16, activation="relu"), fn.Dense(3)])
    assert len(m.layers) == 2 and m.count_params() == 6 * 16 + 16 + 16 * 3 + 3
    m.summary()                                   # built before any data, as in Keras
    assert "Total params: 163" in capsys.readouterr().out
    ref = fn.Sequential([fn.Dense(6, 16, activation="relu"), fn.Dense(3)])
    for model in (m, ref):
        model.compile(optimizer="adam", loss="softmax_cross_entropy")
        model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(m.params, ref.params)
    with pytest.raises(ValueError, match=r"shape \(5,\); the model expects \(6,\)"):
        m.predict(np.zeros((2, 5), np.float32))
    added = fn.Sequential()
    added.add(fn.Input(shape=6))
    added.add(fn.Dense(3))
    assert added.predict(X[:2]).shape == (2, 3) and added.input_shape == (6,)
    lazy = fn.Sequential([fn.Input((4, 2)), fn.Flatten(), fn.Dense(3)])
    lazy.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"the model expects \(4, 2\)"):
        lazy.fit(X, np.zeros((40, 3), np.float32), epochs=1, verbose=0)
    assert lazy.input_shape == (4, 2)
    assert fn.utils.clone_model(fn.Sequential([fn.Input(6), fn.Dense(2)])).count_params() == 14
    fn.Sequential([fn.Input(6), fn.Dense(2)]).save(tmp_path / "new.fnn")
    assert fn.load_model(tmp_path / "new.fnn").input_shape == (6,)
    for bad, match in (
            (lambda: fn.Input(shape=(None, 6)), "positive integers"),
            (lambda: fn.Input(shape=0), "positive integers"),
            (lambda: fn.Input(shape=(6,), dtype="int32"), "float32 or float64"),
            (lambda: fn.Input(shape=(6,), batch_size=-3), "batch_size"),
            (lambda: fn.Sequential([fn.Input(6), fn.Dense(3)]).build(5), "Input entry"),
            (lambda: fn.Sequential([fn.Dense(3), fn.Input((6,))]), "first entry"),
            (lambda: fn.Sequential([fn.Input((6,)), fn.Input((6,))]), "first entry"),
            (lambda: fn.Sequential([fn.Input((6,), dtype="float64"), fn.Dense(3)]), "dtype"),
            (lambda: fn.Sequential([fn.Dense(3)]).build(), "needs input_shape")):
        with pytest.raises(ValueError, match=match):
            bad()


def test_keras_optimizer_spellings():
    assert fn.Adam(learning_rate=3e-4).lr == 3e-4 and fn.SGD(learning_rate=0.5).lr == 0.5
    opt = fn.RMSProp()
    opt.learning_rate = 0.02                     # Keras's attribute reads and sets lr
    assert opt.lr == opt.learning_rate == 0.02 and opt.current_lr() == 0.02
    assert (fn.SGD().lr, fn.Adagrad().lr, fn.RMSProp().lr, fn.Adam().lr) == \
        (0.01, 0.01, 0.001, 0.001)               # each default as before
    with pytest.raises(TypeError, match="not both"):
        fn.Adam(lr=1e-3, learning_rate=1e-3)
    with pytest.raises(TypeError, match="'beta_1'; fastnn spells it 'beta1'"):
        fn.Adam(beta_1=0.9)
    with pytest.raises(TypeError, match="'epsilon'; fastnn spells it 'eps'"):
        fn.Adam(epsilon=1e-7)
    with pytest.raises(TypeError, match="unexpected keyword argument 'nesterovv'"):
        fn.SGD(nesterovv=True)
    # torch.optim.RMSprop's alpha is fastnn's (and Keras's) rho; it was a bare TypeError
    assert fn.RMSProp().rho == 0.9 and fn.RMSProp(alpha=0.99).rho == 0.99
    assert fn.RMSProp(rho=0.8).rho == 0.8
    with pytest.raises(TypeError, match="rho or alpha"):
        fn.RMSProp(rho=0.9, alpha=0.99)
    with pytest.raises(ValueError, match="rho must be"):
        fn.RMSProp(alpha=1.0)


@pytest.mark.parametrize("X,y,match", [
    (np.zeros((4, 5)), np.zeros(4, int), "features"),
    (np.zeros((0, 6)), np.zeros(0, int), "empty"),
    (np.full((4, 6), np.nan), np.zeros(4, int), "non-finite"),
    (np.zeros((4, 6)), np.zeros(3, int), "samples"),
    (np.zeros((4, 6)), np.array([0, 1, 2, 3]), "labels must be in"),
    (np.zeros((4, 6)).astype(object), np.zeros(4, int), "object"),
    (np.zeros(6), np.zeros(1, int), "2 dimensions"),
])
def test_bad_data_raises_clear_errors(X, y, match):
    m = make([fn.Dense(6, 3)])
    with pytest.raises((ValueError, TypeError), match=match):
        m.fit(X, y, epochs=1, verbose=0)


def test_nonfinite_inputs_are_an_error_unless_allowed():
    X, y = data(32)
    X[3, 2] = np.inf
    m = make([fn.Dense(6, 3)])
    with pytest.raises(ValueError, match=r"non-finite values \(inf at index \(3, 2\)\)"):
        m.fit(X, y, epochs=1, verbose=0)
    with pytest.warns(RuntimeWarning, match="diverged"):
        m.fit(X, y, epochs=1, batch_size=8, verbose=0, allow_nonfinite=True)
    assert np.isfinite(m.params).all()
    assert np.isnan(m.predict(X, allow_nonfinite=True)[3]).all()
    assert np.isfinite(m.evaluate(X[:3], y[:3])["loss"])


def test_a_model_built_on_first_use_from_two_threads_is_built_once():
    """summary/count_params/predict build an Input model on first use; two threads
    doing so together each re-bound the layers while the other predicted."""
    import threading
    X = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    ref = fn.Sequential([fn.Dense(64, 256, activation="relu"), fn.Dense(256, 3)]).predict(X)

    def use(m, go, outs, first):
        go.wait()
        if first:
            m.count_params()
        outs.append(m.predict(X))

    for _ in range(20):
        m = fn.Sequential([fn.Input((64,)), fn.Dense(256, activation="relu"), fn.Dense(3)])
        outs, go = [], threading.Barrier(2)
        threads = [threading.Thread(target=use, args=(m, go, outs, i == 0)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for out in outs:
            np.testing.assert_array_equal(out, ref)
