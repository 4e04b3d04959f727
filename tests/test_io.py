"""Model files: round trip, exact resume, damaged and hostile files, atomic saves."""
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import child_kwargs

import fastnn as fn
from fastnn import io


def data(n=120, seed=0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, 8)).astype(np.float32)
    return X, (X[:, :3].sum(1) > 0).astype(np.int64) + (X[:, 3] > 1)


def build(seed=0):
    m = fn.Sequential([fn.Dense(8, 32, activation="relu", kernel_regularizer=fn.L2(1e-4)),
                       fn.BatchNorm(), fn.Dropout(0.2), fn.Dense(32, 3)], seed=seed)
    m.compile(optimizer=fn.AdamW(1e-2, amsgrad=True, clipnorm=1.0),
              loss=fn.SoftmaxCrossEntropy(label_smoothing=0.05), metrics=["accuracy"])
    return m


def test_roundtrip_keeps_everything(tmp_path):
    X, y = data()
    m = build()
    m.fit(X, y, epochs=2, batch_size=16, verbose=0)
    m.save(tmp_path / "m.fnn", epoch=2)
    m2 = fn.load_model(tmp_path / "m.fnn")
    assert repr(m2) == repr(m) and m2.saved_epoch == 2
    np.testing.assert_array_equal(m2.params, m.params)
    np.testing.assert_array_equal(m2.buffers, m.buffers)
    assert m2.optimizer.get_config() == m.optimizer.get_config()
    assert m2.optimizer.iterations == m.optimizer.iterations
    for k in m.optimizer.state:
        np.testing.assert_array_equal(m2.optimizer.state[k], m.optimizer.state[k])
    np.testing.assert_array_equal(m2.predict(X), m.predict(X))
    assert m2.loss.label_smoothing == 0.05


def test_exact_resume_is_bit_identical(tmp_path):
    X, y = data()
    full = build()
    full.fit(X, y, epochs=5, batch_size=16, verbose=0)
    part = build()
    part.fit(X, y, epochs=3, batch_size=16, verbose=0)
    part.save(tmp_path / "ckpt.fnn", epoch=3)
    resumed = fn.load_model(tmp_path / "ckpt.fnn")
    resumed.fit(X, y, epochs=5, initial_epoch=3, batch_size=16, verbose=0)
    np.testing.assert_array_equal(resumed.params, full.params)
    np.testing.assert_array_equal(resumed.buffers, full.buffers)


def test_weights_only_npz(tmp_path):
    X, y = data()
    m = build()
    m.fit(X, y, epochs=1, batch_size=16, verbose=0)
    m.save_weights(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["layer0.kernel"], m.layers[0].kernel)
        assert set(z.files) >= {"layer1.running_mean", "layer3.bias"}
    other = build(seed=5)
    other.build((8,))
    other.load_weights(tmp_path / "w.npz")        # Keras's pair: weights and buffers back
    np.testing.assert_array_equal(other.params, m.params)
    np.testing.assert_array_equal(other.buffers, m.buffers)
    np.testing.assert_array_equal(other.predict(X), m.predict(X))


def test_load_weights_refuses_what_does_not_fit_and_keeps_the_weights(tmp_path):
    m = build()
    m.build((8,))
    m.save_weights(tmp_path / "w.npz")
    small = fn.Sequential([fn.Dense(8, 3)])
    small.build(8)
    before = small.params.copy()
    w = dict(np.load(tmp_path / "w.npz"))
    w["layer3.bias"] = np.full(3, np.nan, np.float32)
    np.savez(tmp_path / "nan.npz", **w)
    (tmp_path / "cut.npz").write_bytes((tmp_path / "w.npz").read_bytes()[:300])
    for model, name, match in ((small, "w.npz", "do not match this model's layers"),
                               (m, "nan.npz", "layer3.bias must be finite float32 "
                                              "values; it holds nan"),
                               (m, "cut.npz", "not a readable .npz"),
                               (m, "none.npz", "cannot read weights")):
        keep = model.params.copy()
        with pytest.raises(fn.ModelFileError, match=match):
            model.load_weights(tmp_path / name)
        np.testing.assert_array_equal(model.params, keep)
    np.testing.assert_array_equal(small.params, before)
    with pytest.raises(RuntimeError, match="not built"):   # and the good file stays
        fn.Sequential([fn.Dense(8, 3)]).save_weights(tmp_path / "w.npz")
    assert "layer0.kernel" in np.load(tmp_path / "w.npz").files


def test_save_keeps_permissions_and_symlinks_and_names_the_path(tmp_path):
    m = build()
    m.build((8,))
    for save, name in ((m.save, "m.fnn"), (m.save_weights, "w.npz")):
        save(tmp_path / name)
        os.chmod(tmp_path / name, 0o640)
        save(tmp_path / name)
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o640
        os.symlink(tmp_path / name, tmp_path / ("link-" + name))
        save(tmp_path / ("link-" + name))
        assert os.path.islink(tmp_path / ("link-" + name))
        with pytest.raises(FileNotFoundError, match=r"cannot save to '.*nodir.*x'"):
            save(tmp_path / "nodir" / "x")
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def _craft(tmp_path, header, payload=b"", version=io.FORMAT_VERSION, magic=io.MAGIC):
    import hashlib
    h = json.dumps(header).encode()
    body = struct.pack("<8sIQ", magic, version, len(h)) + h + payload
    p = tmp_path / "crafted.fnn"
    p.write_bytes(body + hashlib.sha256(body).digest())
    return p


def _good_header(tmp_path):
    m = build()
    m.build((8,))
    m.save(tmp_path / "good.fnn")
    raw = (tmp_path / "good.fnn").read_bytes()
    _, _, hlen = struct.unpack_from("<8sIQ", raw)
    return json.loads(raw[20:20 + hlen]), raw[20 + hlen:-32]


@pytest.mark.parametrize("mutate,match", [
    (lambda h: h["model"]["layers"].__setitem__(0, {"type": "os.system", "config": {}}),
     "unknown layer type"),
    (lambda h: h["model"]["layers"][0]["config"].__setitem__("out_features", 33),
     "received 33|shape|needs"),
    (lambda h: h["arrays"][0].__setitem__("shape", [2**39, 2**39]), "declares|invalid"),
    (lambda h: h["arrays"][0].__setitem__("dtype", "|O"), "invalid array"),
    (lambda h: h["arrays"][0].__setitem__("offset", 10**12), "beyond"),
    (lambda h: h["model"]["layers"][0]["config"].__setitem__("activation", "rm -rf"),
     "invalid architecture"),
    (lambda h: h["model"]["layers"][0].__setitem__("config", {"__class__": 1}),
     "invalid architecture"),
    (lambda h: h.__setitem__("format", "pickle"), "does not describe"),
    (lambda h: h["training"].__setitem__("step", "abc"), "training.step"),
    (lambda h: h["training"].__setitem__("step", 2**70), "training.step"),
    (lambda h: h["training"].__setitem__("epoch", [1]), "training.epoch"),
    (lambda h: h.__setitem__("training", [1]), "'training' must be an object"),
    (lambda h: h["compile"].__setitem__("optimizer_iterations", -1), "optimizer_iterations"),
    (lambda h: h["compile"].__setitem__("optimizer_state", 5), "optimizer state 5"),
    (lambda h: h["compile"].__setitem__("optimizer_state", ["m"]), "does not match"),
    (lambda h: h["arrays"][0].__setitem__("shape", [True]), "invalid array entry"),
])
def test_hostile_headers_raise_model_file_error(tmp_path, mutate, match):
    header, payload = _good_header(tmp_path)
    mutate(header)
    with pytest.raises(fn.ModelFileError, match=match):
        fn.load_model(_craft(tmp_path, header, payload))


@pytest.mark.parametrize("kind", ["truncated", "bitflip", "magic", "version", "empty",
                                  "huge_header"])
def test_damaged_files_raise_model_file_error(tmp_path, kind):
    header, payload = _good_header(tmp_path)
    raw = (tmp_path / "good.fnn").read_bytes()
    p = tmp_path / "bad.fnn"
    if kind == "truncated":
        p.write_bytes(raw[: len(raw) // 2])
    elif kind == "bitflip":
        b = bytearray(raw)
        b[len(b) // 2] ^= 0x10
        p.write_bytes(bytes(b))
    elif kind == "magic":
        p = _craft(tmp_path, header, payload, magic=b"PK\x03\x04xxxx")
    elif kind == "version":
        p = _craft(tmp_path, header, payload, version=99)
    elif kind == "empty":
        p.write_bytes(b"")
    else:
        import hashlib
        body = struct.pack("<8sIQ", io.MAGIC, 1, 2**62) + b"{}"
        p.write_bytes(body + hashlib.sha256(body).digest())
    with pytest.raises(fn.ModelFileError):
        fn.load_model(p)


def test_fuzz_mutated_files_load_identically_or_raise(tmp_path):
    m = build()
    m.build((8,))
    m.save(tmp_path / "good.fnn")
    raw = (tmp_path / "good.fnn").read_bytes()
    r = np.random.default_rng(0)
    outcomes = {"error": 0, "same": 0}
    for i in range(300):
        b = bytearray(raw)
        op = i % 4
        if op == 0:
            for _ in range(r.integers(1, 8)):
                b[r.integers(len(b))] = r.integers(256)
        elif op == 1:
            b = b[: r.integers(len(b))]
        elif op == 2:
            k = r.integers(len(b))
            b[k:k] = bytes(r.integers(0, 256, r.integers(1, 64), dtype=np.uint8))
        else:
            k = r.integers(len(b) - 8)
            del b[k:k + r.integers(1, 8)]
        p = tmp_path / "fuzz.fnn"
        p.write_bytes(bytes(b))
        try:
            got = fn.load_model(p)
        except fn.ModelFileError:
            outcomes["error"] += 1
            continue
        np.testing.assert_array_equal(got.params, m.params)
        outcomes["same"] += 1
    assert outcomes["error"] + outcomes["same"] == 300 and outcomes["error"] > 250


def test_loading_never_unpickles(tmp_path):
    import pickle
    p = tmp_path / "evil.fnn"
    p.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(fn.ModelFileError, match="magic|short"):
        fn.load_model(p)


@pytest.mark.parametrize("change,match", [
    (lambda h: h["compile"].__setitem__("optimizer", {"name": "SGD", "lr": 0.1,
                                                      "momentum": 0.9}),
     r"optimizer state \['m', 'v', 'vmax'\] does not match SGD"),
    (lambda h: h["compile"].__setitem__("optimizer_state", ["m", "v"]), "does not match"),
])
def test_trained_optimizer_state_must_be_the_optimizers(tmp_path, change, match):
    """A file whose checksum holds but whose optimizer keeps other state (a NULL momentum
    buffer for the kernel once) is refused at load, not at the first fit."""
    X, y = data()
    m = build()
    m.fit(X, y, epochs=1, batch_size=16, verbose=0)
    m.save(tmp_path / "t.fnn")
    raw = (tmp_path / "t.fnn").read_bytes()
    _, _, hlen = struct.unpack_from("<8sIQ", raw)
    header = json.loads(raw[20:20 + hlen])
    change(header)
    with pytest.raises(fn.ModelFileError, match=match):
        fn.load_model(_craft(tmp_path, header, raw[20 + hlen:-32]))


def test_nonfinite_weights_in_a_file_are_refused(tmp_path):
    header, payload = _good_header(tmp_path)
    entry = next(e for e in header["arrays"] if e["name"] == "params")
    payload = bytearray(payload)
    payload[entry["offset"]:entry["offset"] + 4] = np.float32(np.nan).tobytes()
    with pytest.raises(fn.ModelFileError, match="'params' holds non-finite values"):
        fn.load_model(_craft(tmp_path, header, bytes(payload)))


def test_negative_running_variance_is_refused_everywhere(tmp_path):
    """BatchNorm takes the running variance's square root at inference; a negative one
    (never produced by training) is refused from a model file, a weights file and
    set_weights, as weights beyond float32's range are."""
    header, payload = _good_header(tmp_path)
    entry = next(e for e in header["arrays"] if e["name"] == "buffers")
    payload = bytearray(payload)
    at = entry["offset"] + 32 * 4 + 8          # running_var[2], after 32 running means
    payload[at:at + 4] = np.float32(-0.5).tobytes()
    with pytest.raises(fn.ModelFileError, match=r"layer1.running_var holds a negative "
                                                r"variance \(-0.5\)"):
        fn.load_model(_craft(tmp_path, header, bytes(payload)))
    m = build()
    m.build((8,))
    m.save_weights(tmp_path / "w.npz")
    w = dict(np.load(tmp_path / "w.npz"))
    before = m.get_weights()
    for key, value, match in (("layer1.running_var", -1.0, "negative variance"),
                              ("layer0.kernel", 1e39, "must be finite float32 values; "
                                                      "it holds 1e\\+39")):
        bad = dict(w)
        bad[key] = np.full(w[key].shape, value)           # float64, as NumPy makes it
        np.savez(tmp_path / "bad.npz", **bad)
        with pytest.raises(fn.ModelFileError, match=match):
            m.load_weights(tmp_path / "bad.npz")
        with pytest.raises(ValueError, match=match):
            m.set_weights([bad[k] for k in w])
        for a, b in zip(m.get_weights(), before):
            np.testing.assert_array_equal(a, b)
    m.set_weights([w[k].astype(np.float64) for k in w])   # float64 in range: converted


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(fn.ModelFileError, match="cannot read"):
        fn.load_model(tmp_path / "nope.fnn")


KILL = textwrap.dedent("""
    import sys, numpy as np, fastnn as fn
    m = fn.Sequential([fn.Dense(256, 1024), fn.Dense(1024, 256)], seed=int(sys.argv[2]))
    m.build((256,))
    print("GO", flush=True)
    while True:
        m.save(sys.argv[1])
""")


def test_kill_during_save_leaves_old_or_new_file(tmp_path):
    path = tmp_path / "m.fnn"
    old = fn.Sequential([fn.Dense(256, 1024), fn.Dense(1024, 256)], seed=1)
    old.build((256,))
    old.save(path)
    new = fn.Sequential([fn.Dense(256, 1024), fn.Dense(1024, 256)], seed=2)
    new.build((256,))
    r = np.random.default_rng(0)
    for _ in range(8):
        p = subprocess.Popen([sys.executable, "-c", KILL, str(path), "2"],
                             stdout=subprocess.PIPE, text=True, **child_kwargs())
        assert p.stdout.readline().strip() == "GO"
        import time
        time.sleep(float(r.uniform(0.0, 0.2)))
        p.send_signal(signal.SIGKILL)
        p.wait()
        got = fn.load_model(path)
        assert np.array_equal(got.params, old.params) or np.array_equal(got.params, new.params)
    leftovers = [f for f in os.listdir(tmp_path) if f.startswith(".fastnn-")]
    for f in leftovers:           # a killed writer may leave its temp file, never the target
        os.remove(tmp_path / f)


def _copy(how, m):
    import copy
    import pickle
    return copy.deepcopy(m) if how == "deepcopy" else pickle.loads(pickle.dumps(m))


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copy_resumes_bit_identically_and_leaves_the_original(how):
    """A layer's weights are views of its model's arena: copied as plain arrays they
    came apart from the copy's arena (training stepped one, predict read the other), and
    the copied optimizer still pointed at the original's arena."""
    X, y = data()
    full = build()
    full.fit(X, y, epochs=5, batch_size=16, verbose=0)
    part = build()
    part.fit(X, y, epochs=3, batch_size=16, verbose=0)
    part.predict(X[:1])                       # a cached inference plan is not copied
    before = part.params.copy(), part.buffers.copy(), part.optimizer.iterations
    c = _copy(how, part)
    np.testing.assert_array_equal(c.predict(X), part.predict(X))
    for layer in c.layers:
        for w in layer.params + layer.grads + layer.buffers:
            assert not any(np.shares_memory(w, a) for a in (part.params, part.grads,
                                                            part.buffers))
            assert any(np.shares_memory(w, a) for a in (c.params, c.grads, c.buffers))
    for a in [c.params, c.grads] + list(c.optimizer.state.values()):
        assert a.ctypes.data % 64 == 0
    c.fit(X, y, epochs=5, initial_epoch=3, batch_size=16, verbose=0)
    np.testing.assert_array_equal(c.params, full.params)
    np.testing.assert_array_equal(c.buffers, full.buffers)
    assert c.optimizer.iterations == full.optimizer.iterations
    np.testing.assert_array_equal(c.predict(X), full.predict(X))
    np.testing.assert_array_equal(part.params, before[0])
    np.testing.assert_array_equal(part.buffers, before[1])
    assert part.optimizer.iterations == before[2]
    part.fit(X, y, epochs=5, initial_epoch=3, batch_size=16, verbose=0)   # still its own
    np.testing.assert_array_equal(part.params, full.params)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copy_of_unbuilt_model_and_numpy_backend(how):
    X, y = data()
    m = fn.Sequential([fn.Dense(16, activation="tanh"), fn.Dense(3)], backend="numpy")
    c = _copy(how, m)
    assert not c.built and c._be is m._be
    c.compile(optimizer="sgd", loss="softmax_cross_entropy")
    c.fit(X, y, epochs=1, batch_size=32, verbose=0)
    assert c.built and not m.built


def test_copy_taken_in_a_callback_can_train():
    X, y = data()
    m, copies = build(), []
    m.fit(X, y, epochs=2, batch_size=16, verbose=0,
          callbacks=[fn.callbacks.LambdaCallback(
              on_epoch_end=lambda epoch, logs: copies.append(_copy("pickle", m)))])
    assert len(copies) == 2
    copies[0].fit(X, y, epochs=2, initial_epoch=1, batch_size=16, verbose=0)
    np.testing.assert_array_equal(copies[0].params, m.params)


def test_optimizer_copied_alone_keeps_its_state_unbound():
    X, y = data()
    m = build()
    m.fit(X, y, epochs=1, batch_size=16, verbose=0)
    opt = _copy("pickle", m.optimizer)
    assert opt._arena is None and opt.iterations == m.optimizer.iterations
    for k, a in m.optimizer.state.items():
        np.testing.assert_array_equal(opt.state[k], a)
        assert opt.state[k].ctypes.data % 64 == 0


def test_shallow_copy_is_refused_and_leaves_the_original_alone():
    import copy
    X, y = data()
    m = build()
    m.fit(X, y, epochs=1, batch_size=16, verbose=0)
    before = m.predict(X)
    with pytest.raises(TypeError, match="deepcopy"):
        copy.copy(m)
    m.fit(X, y, epochs=1, batch_size=16, verbose=0)       # still trains: nothing moved
    assert not np.array_equal(m.predict(X), before)


def test_copy_keeps_layer_state_instead_of_building_again():
    """The copy re-binds arenas; it does not build its layers again, which restarted a
    custom layer's own random stream and re-derived dropout seeds from model.seed."""
    class Noise(fn.Layer):
        def build(self, input_shape):
            self.rng = np.random.default_rng(0)
            return super().build(input_shape)

        def forward(self, x, training=False):
            return x + self.rng.standard_normal(x.shape).astype(x.dtype) if training else x

        def backward(self, dy):
            return dy

    X, y = data()
    m = fn.Sequential([fn.Dense(8, 16, activation="relu"), Noise(), fn.Dropout(0.3),
                       fn.Dense(16, 3)])
    m.compile(optimizer="adam", loss="softmax_cross_entropy")
    m.fit(X, y, epochs=1, batch_size=16, verbose=0)
    m.seed = 99                                            # after build: not re-derived
    c = _copy("deepcopy", m)                               # (a local class: no pickle)
    assert c.layers[2].seed == m.layers[2].seed
    for model in (m, c):
        model.fit(X, y, epochs=2, initial_epoch=1, batch_size=16, verbose=0)
    np.testing.assert_array_equal(c.params, m.params)


def test_a_plan_keeps_the_weights_it_points_into_alive():
    """Two models sharing layer objects (a user error) re-bind them in turn; a cached
    plan of the first pointed into an arena the second had freed (a segfault)."""
    code = textwrap.dedent("""
        import numpy as np, fastnn as fn
        X = np.ones((2, 64), np.float32)
        layers = [fn.Dense(64, 4096), fn.Dense(4096, 10)]
        a = fn.Sequential(layers)
        a.build(64)
        b = fn.Sequential(layers)
        b.build(64)
        first = a.predict(X)       # a's plan reads the layers' views: b's first arena
        b.build(64)                # which this frees
        same = []
        for _ in range(3):
            np.ones(10**6)         # reuse the freed memory
            same.append(np.array_equal(a.predict(X), first))
        print("OK" if all(same) else f"stale {same}")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       **child_kwargs())
    assert r.returncode == 0 and r.stdout.strip() == "OK", (r.stdout, r.stderr[-2000:])


def test_pickle_leaves_out_gradients_snapshots_and_the_last_batch():
    import pickle
    r = np.random.default_rng(1)
    X = r.standard_normal((300, 64)).astype(np.float32)
    y = r.integers(0, 3, 300)
    m = fn.Sequential([fn.Dense(64, 128, activation="tanh"), fn.Dense(128, 3)], backend="numpy")
    m.compile(optimizer="adam", loss="softmax_cross_entropy")
    m.fit(X, y, epochs=1, batch_size=300, verbose=0)
    m.predict(X)
    blob = pickle.dumps(m)
    # the layers' views (the arena is rebuilt from them) and Adam's two moments
    assert len(blob) < 3 * m.params.nbytes + 50_000
    assert X[-1].tobytes() not in blob
    c = pickle.loads(blob)
    assert all(a.shape == p.shape and not a.any()
               for layer in c.layers for a, p in zip(layer.grads, layer.params))


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_pickle_holds_the_parameters_once_and_round_trips(backend):
    """The arena and the layers' views of it were both pickled: twice the parameters."""
    import pickle
    r = np.random.default_rng(2)
    X = r.standard_normal((64, 20)).astype(np.float32)
    y = r.integers(0, 3, 64)
    m = fn.Sequential([fn.Dense(20, 256, activation="relu"), fn.BatchNorm(),
                       fn.Dense(256, 3)], backend=backend, seed=3)
    m.compile(optimizer="sgd", loss="softmax_cross_entropy")
    m.fit(X, y, epochs=2, batch_size=16, verbose=0)
    blob = pickle.dumps(m)
    assert len(blob) < m.params.nbytes + m.buffers.nbytes + 20_000
    c = pickle.loads(blob)
    np.testing.assert_array_equal(c.params, m.params)
    np.testing.assert_array_equal(c.buffers, m.buffers)      # BatchNorm's running stats
    for layer, orig in zip(c.layers, m.layers):               # views of the new arenas
        for a, b in zip(layer.params + layer.buffers, orig.params + orig.buffers):
            assert np.may_share_memory(a, c.params) or np.may_share_memory(a, c.buffers)
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c.predict(X), m.predict(X))
    for model in (m, c):
        model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    np.testing.assert_array_equal(c.params, m.params)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_models_sharing_layers_copied_together_keep_their_own_weights(how):
    """Two models over one encoder, copied in one go: the second model's copy read its
    weights from the shared layers after the first copy had re-bound them to its own."""
    import copy
    import pickle
    enc = [fn.Dense(8, 16, activation="relu")]
    a = fn.Sequential(enc + [fn.Dense(16, 3)], seed=1)
    b = fn.Sequential(enc + [fn.Dense(16, 2)], seed=2)
    for m in (a, b):
        m.compile(loss="softmax_cross_entropy")
        m.build((8,))                    # the encoder now views b's arena
    X = data()[0]
    a2, b2 = (copy.deepcopy([a, b]) if how == "deepcopy"
              else pickle.loads(pickle.dumps([a, b])))
    for orig, c in ((a, a2), (b, b2)):
        np.testing.assert_array_equal(c.params, orig.params)
    np.testing.assert_array_equal(b2.predict(X), b.predict(X))


def test_pickles_holding_the_arenas_still_load(monkeypatch):
    """Pickles written before the arenas were left out, and those of a model whose layers
    were since built into another model (their views then point elsewhere), carry the
    arenas, and load from them."""
    import pickle
    X, y = data()
    m = build()
    m.fit(X, y, epochs=1, batch_size=16, verbose=0)
    with monkeypatch.context() as mp:
        mp.setattr(fn.Sequential, "_layers_own_arenas", lambda self: False)
        blob = pickle.dumps(m)
    # the arenas' bytes, less the few the newer form spends on references to the views
    assert len(blob) - len(pickle.dumps(m)) >= m.params.nbytes + m.buffers.nbytes - 200
    c = pickle.loads(blob)
    np.testing.assert_array_equal(c.params, m.params)
    np.testing.assert_array_equal(c.predict(X), m.predict(X))
    other = fn.Sequential(m.layers, seed=5)
    other.build((8,))                       # m's layers now view other's arenas
    assert not m._layers_own_arenas()
    kept = m.params.copy()
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(m)).params, kept)


@pytest.mark.parametrize("spoil, match", [
    (lambda m: {"epoch": -1}, "epoch must be"),
    (lambda m: {"epoch": 1.5}, "epoch must be"),
    (lambda m: {"epoch": True}, "epoch must be"),
    (lambda m: {"epoch": 2**70}, "epoch must be"),
    (lambda m: m.params.__setitem__(0, np.nan), "'params' holds non-finite"),
    (lambda m: m.optimizer.state["m"].__setitem__(3, np.inf), "'opt/m' holds non-finite"),
    (lambda m: m.layers[1].buffers[1].__setitem__(0, -1.0), "negative variance"),
    (lambda m: setattr(m.optimizer, "iterations", 2**63), "iterations"),
])
def test_a_save_the_loader_would_refuse_keeps_the_old_file(tmp_path, spoil, match):
    """save() replaced a good file atomically with one load_model refuses."""
    X, y = data()
    m = build()
    m.fit(X, y, epochs=1, batch_size=16, verbose=0)
    m.save(tmp_path / "good.fnn", epoch=np.int64(1))       # NumPy integers are fine
    good = (tmp_path / "good.fnn").read_bytes()
    kw = spoil(m) or {}
    with pytest.raises(ValueError, match=match):
        m.save(tmp_path / "good.fnn", **kw)
    assert (tmp_path / "good.fnn").read_bytes() == good
    assert fn.load_model(tmp_path / "good.fnn").saved_epoch == 1


def test_a_forged_layer_size_is_refused_before_allocating(tmp_path):
    m = fn.Sequential([fn.Dense(4, 3)])
    m.build((4,))
    m.save(tmp_path / "m.fnn")
    raw = (tmp_path / "m.fnn").read_bytes()
    head = json.loads(raw[io._PREFIX.size:io._PREFIX.size + io._PREFIX.unpack(
        raw[:io._PREFIX.size])[2]])
    head["model"]["layers"][0]["config"]["out_features"] = 2**40
    forged = io._pack({k: v for k, v in head.items() if k != "arrays"},
                      [("params", m.params), ("buffers", m.buffers)])
    (tmp_path / "f.fnn").write_bytes(b"".join(forged))
    with pytest.raises(fn.ModelFileError, match="parameters; the file stores"):
        fn.load_model(tmp_path / "f.fnn")
