"""The same network trained with SGD, Momentum, Adagrad, RMSProp, Adam and AdamW on the
8×8 digits: final accuracies, and loss curves side by side (--plot FILE).

    python examples/optimizers.py --plot docs/optimizers.png
"""
import argparse

import fastnn as fn

OPTIMIZERS = {
    "SGD": lambda: fn.SGD(0.05),
    "Momentum": lambda: fn.SGD(0.05, momentum=0.9),
    "Nesterov": lambda: fn.SGD(0.05, momentum=0.9, nesterov=True),
    "Adagrad": lambda: fn.Adagrad(0.05),
    "RMSProp": lambda: fn.RMSProp(1e-3),
    "Adam": lambda: fn.Adam(1e-3),
    "AdamW": lambda: fn.AdamW(1e-3, weight_decay=0.01),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--plot", metavar="FILE")
    a = ap.parse_args()
    X, y = fn.datasets.load_digits()
    Xtr, Xte, ytr, yte = fn.datasets.train_test_split(X, y, test_size=0.25, seed=0, stratify=y)
    curves = {}
    for name, make in OPTIMIZERS.items():
        m = fn.Sequential([fn.Dense(64, 128, activation="relu"), fn.Dense(128, 10)], seed=0)
        m.compile(optimizer=make(), loss="softmax_cross_entropy", metrics=["accuracy"])
        h = m.fit(Xtr, ytr, epochs=a.epochs, batch_size=32, verbose=0,
                  validation_data=(Xte, yte))
        curves[name] = h.history
        print(f"{name:9s} final loss {h.history['loss'][-1]:.4f}  test accuracy "
              f"{100 * h.history['val_accuracy'][-1]:.2f}%")
    if a.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for name, hist in curves.items():
            axes[0].plot(hist["loss"], label=name)
            axes[1].plot(hist["val_accuracy"], label=name)
        axes[0].set(yscale="log", xlabel="epoch", title="training loss")
        axes[1].set(xlabel="epoch", title="test accuracy", ylim=(0.8, 1.0))
        for ax in axes:
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(a.plot, dpi=100)
        print(f"saved {a.plot}")


if __name__ == "__main__":
    main()
