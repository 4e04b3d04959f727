"""Metrics against hand-computed values and scikit-learn's definitions; k-fold."""
import numpy as np
import pytest

import fastnn as fn
from fastnn import metrics as M
from fastnn.model_selection import KFold, cross_validate


def test_metrics_values():
    y = np.array([0, 1, 2, 1])
    p = np.array([[.8, .1, .1], [.2, .7, .1], [.1, .5, .4], [.25, .35, .4]])
    assert M.accuracy(y, p) == 0.5
    assert M.accuracy(fn.datasets.one_hot(y, 3), p) == 0.5
    assert M.top_k_accuracy(y, p, k=2) == 1.0
    assert M.binary_accuracy([1, 0, 1], [0.9, 0.6, 0.2]) == pytest.approx(1 / 3)
    t, q = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 2.0, 2.0, 5.0])
    assert M.mean_squared_error(t, q) == pytest.approx((0.25 + 0 + 1 + 1) / 4)
    assert M.mean_absolute_error(t, q) == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert M.r2_score(t, q) == pytest.approx(1 - 2.25 / 5.0)
    assert M.r2_score(t, t) == 1.0


def test_r2_multi_output_averages_outputs():
    t = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    q = t + np.array([[0.5, 0.0], [0.0, 1.0], [-0.5, 0.0]])
    expected = np.mean([1 - 0.5 / 2.0, 1 - 1.0 / 200.0])
    assert M.r2_score(t, q) == pytest.approx(expected)


def test_metric_lookup():
    assert M.get("acc")[0] == "accuracy" and M.get("r2")[0] == "r2"
    with pytest.raises(ValueError, match="unknown metric"):
        M.get("f1-ish")


def test_kfold_partitions_every_sample_once():
    X = np.arange(23)
    folds = list(KFold(5, seed=3).split(X))
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests.tolist()) == list(range(23))
    for tr, te in folds:
        assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == 23
    assert [len(te) for _, te in folds] == [5, 5, 5, 4, 4]
    with pytest.raises(ValueError, match="n_splits"):
        KFold(1)
    same = list(KFold(5, seed=3).split(X, X % 2, groups=None))   # scikit-learn's signature
    assert all((a == c).all() and (b == d).all() for (a, b), (c, d) in zip(folds, same))
    assert KFold(5).get_n_splits(X) == 5


def test_cross_validate_returns_per_fold_scores():
    X, y = fn.datasets.load_digits()

    def build():
        m = fn.Sequential([fn.Dense(64, 32, activation="relu"), fn.Dense(32, 10)], seed=0)
        m.compile(optimizer=fn.Adam(3e-3), loss="softmax_cross_entropy", metrics=["accuracy"])
        return m

    res = cross_validate(build, X[:600], y[:600], k=3, epochs=10, batch_size=32)
    assert len(res["accuracy"]) == 3 and len(res["loss"]) == 3
    assert res["mean_accuracy"] > 0.85 and res["std_accuracy"] >= 0


def test_metrics_refuse_mismatched_inputs_and_propagate_nan():
    P = np.eye(4, 3)
    for call in (lambda: M.accuracy([0], P), lambda: M.top_k_accuracy([1], P, k=1),
                 lambda: M.mean_squared_error(np.ones((1, 3)), np.ones((3, 1))),
                 lambda: M.r2_score([1.0, 2.0], [1.0, 2.0, 3.0])):
        with pytest.raises(ValueError, match="samples"):
            call()
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            M.top_k_accuracy([0, 1, 2, 0], P, k=k)
    assert np.isnan(M.r2_score([1.0, np.nan, 3.0], [1.0, 2.0, 3.0]))
    assert M.accuracy([0, 1, 2, 0], P) == 1.0 and M.top_k_accuracy([2, 2, 2, 2], P, k=1) == 0.25


def test_cross_validate_needs_one_label_per_sample():
    def build():
        m = fn.Sequential([fn.Dense(2, 2)])
        m.compile(optimizer="sgd", loss="softmax_cross_entropy")
        return m
    with pytest.raises(ValueError, match="X has 10 samples but y 12"):
        cross_validate(build, np.zeros((10, 2), np.float32), np.zeros(12, int), k=2)
