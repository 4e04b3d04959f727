"""k-fold cross-validation."""
import numbers

import numpy as np

__all__ = ["KFold", "cross_validate"]


class KFold:
    """Split ``n`` samples into ``n_splits`` folds; each fold is the test set once.

    >>> for train_idx, test_idx in KFold(5, seed=0).split(X): ...
    """

    def __init__(self, n_splits=5, shuffle=True, seed=0):
        if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral) or n_splits < 2:
            raise ValueError(f"n_splits must be an integer >= 2. Received: n_splits={n_splits!r}")
        self.n_splits, self.shuffle, self.seed = int(n_splits), bool(shuffle), seed

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """(train, test) index arrays for each fold. ``y`` and ``groups`` are accepted
        and ignored, as scikit-learn's KFold does, so it can serve as a ``cv=``."""
        n = len(X)
        if n < self.n_splits:
            raise ValueError(f"cannot split {n} samples into {self.n_splits} folds")
        order = np.random.default_rng(self.seed).permutation(n) if self.shuffle else np.arange(n)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[:n % self.n_splits] += 1
        start = 0
        for size in sizes:
            test = order[start:start + size]
            yield np.sort(np.concatenate([order[:start], order[start + size:]])), np.sort(test)
            start += size

    def __repr__(self):
        return f"KFold(n_splits={self.n_splits}, shuffle={self.shuffle}, seed={self.seed})"


def cross_validate(build_fn, X, y, k=5, seed=0, **fit_kwargs):
    """Train a fresh model on each of ``k`` folds and evaluate it on the held-out fold.

    Parameters
    ----------
    build_fn : callable
        ``build_fn()`` returns a new compiled model.
    X, y : arrays
    k : int
        Number of folds.
    **fit_kwargs
        Passed to ``model.fit`` (``epochs``, ``batch_size``, ...; ``verbose`` defaults to 0).

    Returns
    -------
    dict
        ``{"loss": [per fold], <metric>: [per fold], "mean_<name>": ..., "std_<name>": ...}``
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y {len(y)}")
    fit_kwargs.setdefault("verbose", 0)
    scores = {}
    for train, test in KFold(k, seed=seed).split(X):
        model = build_fn()
        model.fit(X[train], y[train], **fit_kwargs)
        for name, value in model.evaluate(X[test], y[test]).items():
            scores.setdefault(name, []).append(value)
    out = dict(scores)
    for name, values in scores.items():
        out["mean_" + name] = float(np.mean(values))
        out["std_" + name] = float(np.std(values))
    return out
