"""The fastnn command line: ``fastnn train|evaluate|predict|info|config``.

``fastnn train`` with no options trains an MLP on the 8×8 digits shipped with fastnn in
a few seconds; ``--dataset mnist`` reproduces the classic 784-512-256-10 recipe.
"""
import argparse
import math
import os
import sys
import time
import warnings

import numpy as np

DATASETS = ("digits", "mnist", "fashion-mnist")


def load_dataset(name, seed=0, data_dir=None):
    """``(X_train, y_train), (X_test, y_test)`` as float32 rows and int64 labels."""
    from fastnn import datasets as D
    if name == "digits":
        X, y = D.load_digits()
        Xtr, Xte, ytr, yte = D.train_test_split(X, y, test_size=0.2, seed=seed, stratify=y)
        return (Xtr, ytr), (Xte, yte)
    loader = D.load_mnist if name == "mnist" else D.load_fashion_mnist
    return loader(path=data_dir, flatten=True)


def _hidden(text):
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()] if text.strip() else []
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def _positive(kind):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not v > 0 or v != v or v == float("inf"):
            raise argparse.ArgumentTypeError(f"must be positive and finite, got {text!r}")
        return v
    return parse


def _seed(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"seeds are integers >= 0, got {text!r}")
    return v


def _save_path(text):
    """A path the trained model can be written to, checked before training starts."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a directory")
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"directory {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"directory {folder!r} is not writable")
    return text


def _rate(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text!r}")
    return v


def build_parser():
    p = argparse.ArgumentParser(prog="fastnn", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train an MLP on real data and report test accuracy")
    t.add_argument("--dataset", choices=DATASETS, default="digits")
    t.add_argument("--data-dir", default=None, help="folder holding the IDX files")
    t.add_argument("--hidden", type=_hidden, default=[512, 256], help="e.g. 512,256")
    t.add_argument("--activation", default="relu",
                   choices=("relu", "leaky_relu", "tanh", "sigmoid", "elu", "gelu", "silu"))
    t.add_argument("--optimizer", default="adam",
                   choices=("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"))
    t.add_argument("--lr", type=_positive(float), default=1e-3)
    t.add_argument("--batch-size", type=_positive(int), default=128)
    t.add_argument("--epochs", type=_positive(int), default=10)
    t.add_argument("--dropout", type=_rate, default=0.0)
    t.add_argument("--validation-split", type=_rate, default=0.1)
    t.add_argument("--threads", type=_positive(int), default=None)
    t.add_argument("--seed", type=_seed, default=0)
    t.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    t.add_argument("--save", type=_save_path, default=None,
                   help="write the trained model to this file")
    t.add_argument("--quiet", action="store_true", help="one line per epoch, no bar")
    for name, hlp in (("evaluate", "evaluate a saved model on a dataset's test split"),
                      ("predict", "print predicted classes for test samples")):
        e = sub.add_parser(name, help=hlp)
        e.add_argument("model")
        e.add_argument("--dataset", choices=DATASETS, default="digits")
        e.add_argument("--data-dir", default=None)
        e.add_argument("--seed", type=_seed, default=0,
                       help="digits split seed used in training")
        if name == "predict":
            e.add_argument("--limit", type=_positive(int), default=10)
    i = sub.add_parser("info", help="describe a saved model")
    i.add_argument("model")
    sub.add_parser("config", help="show version, SIMD path, OpenMP runtime and threads")
    return p


def make_optimizer(name, lr):
    import fastnn as fn
    return {"sgd": lambda: fn.SGD(lr), "momentum": lambda: fn.SGD(lr, momentum=0.9),
            "adagrad": lambda: fn.Adagrad(lr), "rmsprop": lambda: fn.RMSProp(lr),
            "adam": lambda: fn.Adam(lr), "adamw": lambda: fn.AdamW(lr)}[name]()


def cmd_train(a):
    import fastnn as fn
    if a.threads:
        fn.set_num_threads(a.threads)
    (Xtr, ytr), (Xte, yte) = load_dataset(a.dataset, a.seed, a.data_dir)
    print(f"fastnn {fn.__version__} | isa {fn.get_isa()} | threads {fn.get_num_threads()} | "
          f"{a.dataset}: {len(Xtr):,} train / {len(Xte):,} test samples")
    layers, width = [], Xtr.shape[1]
    for h in a.hidden:
        layers.append(fn.Dense(width, h, activation=a.activation))
        if a.dropout:
            layers.append(fn.Dropout(a.dropout))
        width = h
    layers.append(fn.Dense(width, int(max(ytr.max(), yte.max())) + 1))
    model = fn.Sequential(layers, seed=a.seed, dtype=a.dtype)
    model.compile(optimizer=make_optimizer(a.optimizer, a.lr), loss="softmax_cross_entropy",
                  metrics=["accuracy"])
    model.build(Xtr.shape[1:])
    model.summary()
    t0 = time.perf_counter()
    model.fit(Xtr, ytr, epochs=a.epochs, batch_size=a.batch_size,
              validation_split=a.validation_split, verbose=2 if a.quiet else 1)
    dt = time.perf_counter() - t0
    diverged = model.stop_training and not model._interrupted
    res = model.evaluate(Xte, yte)
    print(f"trained in {dt:.1f} s; test loss {res['loss']:.4f}, "
          f"test accuracy {100 * res['accuracy']:.2f}%")
    if diverged or not math.isfinite(res["loss"]):
        kept = f"; {a.save} was not written" if a.save else ""
        print(f"fastnn train: error: training diverged (the loss became NaN or infinite) with "
              f"--lr {a.lr:g}; try a lower --lr{kept}", file=sys.stderr)
        return 1
    if a.save:
        model.save(a.save, epoch=a.epochs)
        print(f"saved to {a.save}")
    return 0


def cmd_evaluate(a):
    import fastnn as fn
    model = fn.load_model(a.model)
    _, (Xte, yte) = load_dataset(a.dataset, a.seed, a.data_dir)
    if Xte.shape[1:] != model.input_shape:
        raise ValueError(f"{a.model} expects inputs of shape {model.input_shape}; the "
                         f"{a.dataset} test set has {Xte.shape[1:]}")
    if not model.compiled:
        model.compile(loss="softmax_cross_entropy", metrics=["accuracy"])
    res = model.evaluate(Xte, yte)
    print(" - ".join(f"{k}: {v:.4f}" for k, v in res.items()))
    return 0


def cmd_predict(a):
    import fastnn as fn
    model = fn.load_model(a.model)
    _, (Xte, yte) = load_dataset(a.dataset, a.seed, a.data_dir)
    if Xte.shape[1:] != model.input_shape:
        raise ValueError(f"{a.model} expects inputs of shape {model.input_shape}")
    n_out, n_classes = model.output_shape[0], int(yte.max()) + 1
    if n_out != n_classes:
        raise ValueError(f"{a.model} has {n_out} output(s); predicting classes of {a.dataset} "
                         f"needs one score per class ({n_classes})")
    P = model.predict(Xte[:a.limit])
    what = "p" if getattr(model, "_output_act", None) == "softmax" else "score"
    for i, row in enumerate(P):
        print(f"sample {i}: predicted {int(np.argmax(row))} ({what}={row.max():.3f}), "
              f"label {int(yte[i])}")
    return 0


def cmd_info(a):
    import fastnn as fn
    model = fn.load_model(a.model)
    model.summary()
    if model.compiled:
        print(f"optimizer: {model.optimizer!r} after {model.optimizer.iterations} steps")
        print(f"loss: {model.loss!r}")
    return 0


def _cli_warning(message, category, filename, lineno, line=None):
    return f"fastnn: {category.__name__}: {message}\n"    # no source line from fastnn's code


def main(argv=None):
    args = build_parser().parse_args(argv)
    import fastnn as fn
    shown, warnings.formatwarning = warnings.formatwarning, _cli_warning
    try:
        if args.command == "config":
            fn.show_config()
            return 0
        return {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
                "info": cmd_info}[args.command](args)
    except KeyboardInterrupt:
        print("fastnn: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, RuntimeError, MemoryError, OverflowError) as e:
        print(f"fastnn {args.command}: error: {e or type(e).__name__}", file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = shown     # main() called from Python leaves no trace


if __name__ == "__main__":
    sys.exit(main())
