"""Single neurons, the field's beginning: Rosenblatt's perceptron and Widrow–Hoff's Adaline.

Both have scikit-learn's shape: ``fit(X, y)``, ``predict``, ``score``, ``decision_function``,
``get_params``/``set_params``, ``coef_`` ``[features]``, ``intercept_`` ``[1]``,
``classes_``. The perceptron applies its
rule with a C kernel (one epoch per call); Adaline's batch gradient descent runs on the
GEMM, MSE and SGD kernels over a two-array parameter arena.
"""
import inspect
import warnings

import numpy as np

from fastnn import ops
from fastnn._data import check_positive_int, check_x

__all__ = ["Perceptron", "Adaline", "ConvergenceWarning"]


class ConvergenceWarning(UserWarning):
    """Training stopped before the learning rule converged."""


def _two_classes(y, n, name):
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must be 1-D with one label per sample ({n}); got shape {y.shape}")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y must hold numbers; got dtype {y.dtype}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"{name}: y holds NaN or inf labels")
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError(f"{name} is a binary classifier: y must have exactly 2 classes; got "
                         f"{classes.tolist()[:10]}")
    return classes, (y == classes[1])


def _samples(X, dtype):
    X = check_x(X, dtype)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (samples, features); got shape {X.shape}")
    return X


class _Neuron:
    def __init__(self, lr, epochs, seed, dtype):
        if isinstance(lr, bool) or not (isinstance(lr, (int, float, np.floating, np.integer))
                                        and np.isfinite(lr) and lr > 0):
            raise ValueError(f"{type(self).__name__}: lr must be positive. Received: lr={lr!r}")
        self.lr, self.epochs = float(lr), check_positive_int(epochs, "epochs")
        if seed is not None and (isinstance(seed, bool) or not isinstance(
                seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"{type(self).__name__}: seed must be None or an integer >= 0. "
                             f"Received: seed={seed!r}")
        if dtype not in ("float32", "float64", np.float32, np.float64):
            raise ValueError(f"{type(self).__name__}: dtype must be 'float32' or 'float64'. "
                             f"Received: dtype={dtype!r}")
        self.seed, self.dtype = seed, np.dtype(dtype)

    @classmethod
    def _param_names(cls):
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep=True):
        """The constructor's arguments, as scikit-learn's estimators report them (so
        ``sklearn.base.clone`` and ``cross_val_score`` can copy the estimator)."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params):
        """Change constructor arguments, checked as the constructor checks them."""
        unknown = sorted(set(params) - set(self._param_names()))
        if unknown:
            raise ValueError(f"invalid parameter {unknown[0]!r} for {type(self).__name__}; "
                             f"valid ones: {', '.join(self._param_names())}")
        self.__init__(**{**self.get_params(), **params})
        return self

    _estimator_type = "classifier"          # scikit-learn < 1.6 reads this

    def __sklearn_tags__(self):
        """scikit-learn >= 1.6 asks for these (only when it is in use)."""
        from sklearn.utils import ClassifierTags, Tags, TargetTags
        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(multi_class=False))

    def _check_fitted(self, X):
        if not hasattr(self, "coef_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet: call fit(X, y)")
        return check_x(X, self.dtype, self.coef_.shape)

    def decision_function(self, X):
        """w·x + b for each row: ``[n]``."""
        X = self._check_fitted(X)
        return ops.matmul(X, self.coef_[:, None], bias=self.intercept_).ravel()

    def predict(self, X):
        """Class labels ``[n]``: ``classes_[1]`` where the decision function is positive."""
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.int64)]

    def score(self, X, y):
        """Accuracy on ``(X, y)``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))


class Perceptron(_Neuron):
    """Rosenblatt's perceptron: ŷ = step(w·x + b); after each sample,
    ``w += lr·(y - ŷ)·x`` and ``b += lr·(y - ŷ)``.

    Training stops after the first epoch without a mistake (``converged_ = True``); if
    ``epochs`` pass with mistakes left — the classes are not linearly separable, as for
    XOR — a ``ConvergenceWarning`` says so and ``converged_`` is False.
    """

    def __init__(self, lr=1.0, epochs=100, shuffle=True, seed=0, dtype="float64"):
        super().__init__(lr, epochs, seed, dtype)
        self.shuffle = bool(shuffle)

    def fit(self, X, y):
        from fastnn import _classic
        X = _samples(X, self.dtype)
        self.classes_, t = _two_classes(y, X.shape[0], "Perceptron")
        t = t.astype(self.dtype)
        w, b = np.zeros(X.shape[1], self.dtype), np.zeros(1, self.dtype)
        rng = np.random.default_rng(self.seed)
        self.errors_ = []
        for _ in range(self.epochs):
            order = rng.permutation(X.shape[0]) if self.shuffle else np.arange(X.shape[0])
            self.errors_.append(int(_classic.perceptron_epoch(X, t, w, b, order, self.lr)))
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                raise FloatingPointError(
                    f"Perceptron weights overflowed at epoch {len(self.errors_)} (lr={self.lr} "
                    "on these inputs): scale X (e.g. fastnn.datasets.StandardScaler) or lower lr")
            if self.errors_[-1] == 0:
                break
        self.coef_, self.intercept_ = w, b
        self.n_iter_, self.converged_ = len(self.errors_), self.errors_[-1] == 0
        if not self.converged_:
            warnings.warn(f"Perceptron did not converge in {self.epochs} epochs "
                          f"({self.errors_[-1]} mistakes in the last one): the classes are "
                          "probably not linearly separable", ConvergenceWarning, stacklevel=2)
        return self

    def __repr__(self):
        return f"Perceptron(lr={self.lr:g}, epochs={self.epochs})"


class Adaline(_Neuron):
    """Adaline (Widrow & Hoff 1960): the delta rule on the linear output z = w·x + b,
    minimising the mean squared error to targets ±1 by batch gradient descent
    ``w -= lr·∂MSE/∂w``; predictions threshold z at 0. ``cost_`` holds the MSE per epoch.
    Standardise the inputs (``fn.datasets.StandardScaler``) for a stable learning rate.
    """

    def __init__(self, lr=0.01, epochs=100, tol=1e-8, seed=0, dtype="float64"):
        super().__init__(lr, epochs, seed, dtype)
        self.tol = float(tol)

    def fit(self, X, y):
        X = _samples(X, self.dtype)
        self.classes_, pos = _two_classes(y, X.shape[0], "Adaline")
        t = np.where(pos, 1.0, -1.0).astype(self.dtype)[:, None]
        d = X.shape[1]
        params, grads = np.zeros(d + 1, self.dtype), np.zeros(d + 1, self.dtype)
        w, b, dw, db = params[:d], params[d:], grads[:d].reshape(d, 1), grads[d:]
        self.cost_ = []
        with ops.allow_nonfinite():      # X is validated; divergence is reported below
            self._descend(X, t, params, grads, w, b, dw, db)
        self.coef_, self.intercept_, self.n_iter_ = w.copy(), b.copy(), len(self.cost_)
        return self

    def _descend(self, X, t, params, grads, w, b, dw, db):
        for epoch in range(1, self.epochs + 1):
            z = ops.matmul(X, w[:, None], bias=b)
            cost, g = ops.mse_loss(z, t)                 # g = ∂MSE/∂z = 2(z - t)/n
            ops.matmul(X, g, trans_a=True, out=dw)       # ∂MSE/∂w = Xᵀ g
            ops.bias_grad(g, out=db)
            ops.sgd_step(params, grads, epoch, lr=self.lr)
            self.cost_.append(float(cost))
            if not np.isfinite(cost):
                raise FloatingPointError(f"Adaline diverged at epoch {epoch} (lr={self.lr} "
                                         "is too large for these inputs; standardise them)")
            if epoch > 1 and abs(self.cost_[-2] - cost) < self.tol:
                break

    def __repr__(self):
        return f"Adaline(lr={self.lr:g}, epochs={self.epochs})"
