"""The classic MNIST recipe: 784-512-256-10 ReLU, Adam 1e-3, batch 128, 10 epochs.

    python examples/mnist_mlp.py                          # seed 0, no dropout
    python examples/mnist_mlp.py --seeds 0,1,2 --dropout 0.2
    python examples/mnist_mlp.py --dataset fashion-mnist --seeds 0,1,2

Prints the test accuracy of each seed and their mean.
"""
import argparse
import time

import numpy as np

import fastnn as fn


def run(X, y, Xte, yte, seed, dropout, epochs, batch_size, verbose):
    layers = [fn.Flatten(), fn.Dense(784, 512, activation="relu")]
    layers += [fn.Dropout(dropout)] if dropout else []
    layers += [fn.Dense(512, 256, activation="relu")]
    layers += [fn.Dropout(dropout)] if dropout else []
    layers += [fn.Dense(256, 10)]
    model = fn.Sequential(layers, seed=seed)
    model.compile(optimizer=fn.Adam(lr=1e-3), loss="softmax_cross_entropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=verbose)
    dt = time.perf_counter() - t0
    return model.evaluate(Xte, yte)["accuracy"], dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--verbose", type=int, default=2)
    a = ap.parse_args()
    load = fn.datasets.load_mnist if a.dataset == "mnist" else fn.datasets.load_fashion_mnist
    (X, y), (Xte, yte) = load()
    accs = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        acc, dt = run(X, y, Xte, yte, seed, a.dropout, a.epochs, a.batch_size, a.verbose)
        accs.append(acc)
        print(f"{a.dataset} seed {seed} dropout {a.dropout}: test accuracy {100 * acc:.2f}% "
              f"({dt:.1f} s, {fn.get_num_threads()} threads)", flush=True)
    print(f"{a.dataset} dropout {a.dropout}: mean {100 * np.mean(accs):.2f}%, "
          f"min {100 * np.min(accs):.2f}% over seeds {a.seeds}")


if __name__ == "__main__":
    main()
