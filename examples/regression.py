"""Regression on a real dataset (the diabetes progression data, 442 patients × 10
features, from scikit-learn's wheel): an MLP with MSE, then MAE and R² on a test split,
beside a linear least-squares baseline.

    pip install scikit-learn && python examples/regression.py
"""
import numpy as np

import fastnn as fn


def main():
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:
        raise SystemExit("this example reads the diabetes data shipped in scikit-learn's wheel:"
                         " pip install scikit-learn") from None
    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = fn.datasets.train_test_split(X, y.astype(np.float32), test_size=0.2,
                                                      seed=0)
    Xtr, Xte = fn.datasets.standardize(Xtr, Xte)
    mu, sd = ytr.mean(), ytr.std()
    m = fn.Sequential([fn.Dense(10, 32, activation="tanh"), fn.Dropout(0.1),
                       fn.Dense(32, 1)], seed=0)
    m.compile(optimizer=fn.Adam(3e-3, weight_decay=1e-3), loss="mse", metrics=["mae", "r2"])
    m.fit(Xtr, (ytr - mu) / sd, epochs=200, batch_size=32, verbose=0, validation_split=0.15,
          callbacks=[fn.EarlyStopping(patience=20, restore_best_weights=True)])
    pred = m.predict(Xte).ravel() * sd + mu
    A = np.c_[Xtr, np.ones(len(Xtr))]
    coef = np.linalg.lstsq(A, ytr, rcond=None)[0]
    lin = np.c_[Xte, np.ones(len(Xte))] @ coef
    for name, p in (("MLP 10-32-1", pred), ("least squares", lin)):
        print(f"{name:14s} test MSE {fn.metrics.mean_squared_error(yte, p):8.1f}  "
              f"MAE {fn.metrics.mean_absolute_error(yte, p):5.1f}  "
              f"R² {fn.metrics.r2_score(yte, p):.3f}")


if __name__ == "__main__":
    main()
