"""Perceptron and Adaline: the classic single neurons."""
import warnings

import numpy as np
import pytest

import fastnn as fn
from fastnn.linear import ConvergenceWarning


@pytest.mark.parametrize("gate", ["and", "or", "nand"])
def test_perceptron_learns_linearly_separable_gates(gate):
    X, y = fn.datasets.logic_gate(gate)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = fn.Perceptron(epochs=50).fit(X, y)
    assert p.converged_ and p.errors_[-1] == 0 and p.score(X, y) == 1.0
    assert p.coef_.shape == (2,) and p.intercept_.shape == (1,)


def test_perceptron_reports_xor_non_convergence():
    X, y = fn.datasets.logic_gate("xor")
    with pytest.warns(ConvergenceWarning, match="not linearly separable"):
        p = fn.Perceptron(epochs=30).fit(X, y)
    assert not p.converged_ and p.n_iter_ == 30 and p.score(X, y) < 1.0


def test_perceptron_overflow_is_an_error_not_a_convergence_warning():
    X, y = fn.datasets.logic_gate("xor")
    with pytest.raises(FloatingPointError, match="weights overflowed"):
        fn.Perceptron(lr=1e308).fit(X * 1e10, y)
    assert fn.Perceptron(lr=np.float32(0.5)).lr == 0.5      # NumPy scalars are numbers too
    with pytest.raises(ValueError, match="lr must be positive"):
        fn.Perceptron(lr=True)


def test_perceptron_rule_matches_a_python_reference():
    r = np.random.default_rng(0)
    X = r.standard_normal((40, 3))
    y = (X @ [1.0, -2.0, 0.5] + 0.3 > 0).astype(int)
    p = fn.Perceptron(lr=0.5, epochs=5, shuffle=False).fit(X, y)
    w, b = np.zeros(3), 0.0
    for _ in range(p.n_iter_):
        for x, t in zip(X, y):
            err = t - float(w @ x + b > 0)
            w, b = w + 0.5 * err * x, b + 0.5 * err
    np.testing.assert_allclose(p.coef_, w, atol=1e-12)
    np.testing.assert_allclose(p.intercept_[0], b, atol=1e-12)


def test_perceptron_keeps_label_values():
    X, y = fn.datasets.logic_gate("or")
    labels = np.where(y > 0, 7, -3)
    p = fn.Perceptron().fit(X, labels)
    assert p.classes_.tolist() == [-3, 7] and p.predict(X).tolist() == labels.tolist()


def test_adaline_delta_rule_decreases_mse_and_separates():
    X, y = fn.datasets.make_moons(200, noise=0.1, seed=0)
    X = fn.datasets.standardize(X).astype(np.float64)
    a = fn.Adaline(lr=0.1, epochs=300).fit(X, y)
    assert a.cost_[-1] < a.cost_[0] and np.all(np.diff(a.cost_) <= 1e-12)
    assert a.score(X, y) > 0.8
    # the fixed point is least squares on targets ±1
    A = np.c_[X, np.ones(len(X))]
    sol = np.linalg.lstsq(A, np.where(y > 0, 1.0, -1.0), rcond=None)[0]
    np.testing.assert_allclose(np.r_[a.coef_, a.intercept_], sol, atol=1e-3)


@pytest.mark.parametrize("bad,match", [
    (lambda: fn.Perceptron(lr=0), "lr"), (lambda: fn.Adaline(epochs=0), "epochs"),
    (lambda: fn.Perceptron().fit(np.zeros((3, 2)), [0, 1, 2]), "exactly 2 classes"),
    (lambda: fn.Perceptron().fit(np.zeros((3, 2)), [0, 1]), "one label per sample"),
    (lambda: fn.Perceptron().predict(np.zeros((3, 2))), "not fitted"),
    (lambda: fn.Adaline().fit(np.full((2, 2), np.nan), [0, 1]), "non-finite"),
    # NaN labels became a class of their own and fit reported convergence
    (lambda: fn.Perceptron().fit(np.eye(4), [0, np.nan, np.nan, 0]), "NaN or inf labels"),
    (lambda: fn.Adaline().fit(np.eye(4), [0, np.inf, 1, 0]), "NaN or inf labels"),
    (lambda: fn.Perceptron(dtype="int32"), "dtype"),
    (lambda: fn.Adaline(seed=-1), "seed"),
    (lambda: fn.Perceptron().fit(np.zeros((4, 2, 2)), [0, 1, 0, 1]), "2-D"),
])
def test_bad_input(bad, match):
    with pytest.raises((ValueError, RuntimeError, TypeError), match=match):
        bad()


def test_scikit_learn_parameter_protocol():
    """get_params / set_params as scikit-learn's estimators have them: set_params checks
    values as the constructor does and keeps what fit learned."""
    X, y = fn.datasets.logic_gate("and")
    p = fn.Perceptron(lr=0.5, epochs=20, shuffle=False).fit(X, y)
    assert p.get_params() == {"lr": 0.5, "epochs": 20, "shuffle": False, "seed": 0,
                              "dtype": np.dtype("float64")}
    assert p.set_params(epochs=7) is p and p.epochs == 7 and hasattr(p, "coef_")
    with pytest.raises(ValueError, match="lr must be positive"):
        p.set_params(lr=-1)
    with pytest.raises(ValueError, match="invalid parameter 'eta0' for Perceptron"):
        p.set_params(eta0=1.0)
    a = fn.Adaline(lr=0.05, tol=0.0)
    assert fn.Adaline(**a.get_params()).get_params() == a.get_params()


def test_scikit_learn_clones_and_cross_validates_them():
    sk = pytest.importorskip("sklearn")
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import cross_val_score
    X, y = fn.datasets.make_moons(200, noise=0.0, seed=0)
    X = np.hstack([X, X[:, :1] * 0])             # not separable: the score is a fraction
    for est in (fn.Perceptron(lr=0.1, epochs=5), fn.Adaline(lr=0.01, epochs=50)):
        c = clone(est)
        assert c is not est and c.get_params() == est.get_params() and is_classifier(c)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            scores = cross_val_score(est, X, y, cv=fn.model_selection.KFold(4))
        assert scores.shape == (4,) and 0.5 < scores.mean() < 1.0, sk.__version__
