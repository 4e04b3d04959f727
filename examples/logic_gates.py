"""The perceptron learns AND, OR and NAND; on XOR it cannot (no line separates the
classes) and says so; a 2-4-1 MLP learns XOR. With --plot DIR, saves decision boundaries.

    python examples/logic_gates.py --plot docs
"""
import argparse
import os
import warnings

import numpy as np

import fastnn as fn


def toy_boundary(folder, name, X, y, width, epochs):
    """Train a 2-width-width-k ReLU MLP on a 2-D toy set and save its decision boundary."""
    k = int(y.max()) + 1
    m = fn.Sequential([fn.Dense(2, width, activation="relu"),
                       fn.Dense(width, width, activation="relu"), fn.Dense(width, k)], seed=0)
    m.compile(optimizer=fn.Adam(0.01), loss="softmax_cross_entropy", metrics=["accuracy"])
    m.fit(X, y, epochs=epochs, batch_size=32, verbose=0)
    acc = m.evaluate(X, y)["accuracy"]
    fn.plot.decision_boundary(m, X, y, path=os.path.join(folder, f"mlp_{name}.png"),
                              title=f"MLP 2-{width}-{width}-{k} on {name} (accuracy {acc:.2f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plot", metavar="DIR", help="save decision-boundary PNGs here")
    args = ap.parse_args()
    for gate in ("and", "or", "nand", "xor"):
        X, y = fn.datasets.logic_gate(gate)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            p = fn.Perceptron(lr=1.0, epochs=50, seed=0).fit(X, y)
        verdict = "learned" if p.converged_ else "FAILED (not linearly separable)"
        print(f"perceptron {gate.upper():4s}: {verdict:32s} after {p.n_iter_:2d} epochs, "
              f"w={p.coef_}, b={p.intercept_[0]:+.1f}, accuracy {p.score(X, y):.2f}")
        for w in caught:
            print(f"    warning: {w.message}")
        if args.plot and gate in ("and", "xor"):
            png = os.path.join(args.plot, f"perceptron_{gate}.png")
            fn.plot.decision_boundary(p, X, y, path=png,
                                      title=f"Perceptron on {gate.upper()}")
    X, y = fn.datasets.make_xor()
    mlp = fn.Sequential([fn.Dense(2, 4, activation="tanh"), fn.Dense(4, 1, activation="sigmoid")],
                        seed=0)
    mlp.compile(optimizer=fn.Adam(0.05), loss="binary_cross_entropy", metrics=["accuracy"])
    mlp.fit(X, y, epochs=500, batch_size=4, verbose=0)
    pred = (mlp.predict(X).ravel() > 0.5).astype(int)
    print(f"MLP 2-4-1 on XOR: predictions {pred.tolist()} for targets {y.astype(int).tolist()}"
          f" -> {'learned' if np.array_equal(pred, y) else 'failed'} (a hidden layer bends the"
          " boundary)")
    if args.plot:
        fn.plot.decision_boundary(mlp, X, y, path=os.path.join(args.plot, "mlp_xor.png"),
                                  title="MLP 2-4-1 on XOR")
        toy_boundary(args.plot, "moons", *fn.datasets.make_moons(300, noise=0.15, seed=0),
                     width=32, epochs=200)
        toy_boundary(args.plot, "spirals", *fn.datasets.make_spirals(300, 3, seed=0),
                     width=64, epochs=300)
        fn.plot.activations(path=os.path.join(args.plot, "activations.png"))
        print(f"saved PNGs to {args.plot}/")


if __name__ == "__main__":
    main()
