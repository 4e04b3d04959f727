"""One benchmark workload for one framework, in this process; prints JSON.

    python benchmarks/workloads.py --framework fastnn --workload mnist_epoch --threads 2

Frameworks: fastnn, torch (torch.nn + torch.optim), numpy (the hand-written trainer in
mlp_numpy.py, the way a user would write it), sklearn (MLPClassifier). Workloads:

- ``mnist_epoch``: 784-512-256-10 ReLU, softmax CE, Adam(1e-3), batch 128, one epoch
  over the 60,000 MNIST training images (seconds per epoch).
- ``xor_step``: XOR 2-8-1 tanh/sigmoid, BCE, SGD(0.1), batch 4 (seconds per step, over
  an epoch of 1,000 copies of the truth table).
- ``digits_step``: 64-64-10 ReLU on the 8×8 digits, Adam, batch 32 (seconds per step).
- ``predict_1``: one-sample predict latency of the MNIST net (seconds per call), each
  call on the next of 200 MNIST training digits (about 80% of a digit's pixels are zero,
  and fastnn's first layer skips them: ``Plan.live_predict_min``).
- ``predict_1_dense``: the same on 200 rows of uniform noise with no zero pixel, which
  pays the zero count and skips nothing.
- ``predict_10k``: 10,000-sample predict of the MNIST net (seconds per call).
- ``import``: wall time of importing the framework in a fresh interpreter.
- ``gemm_1024``: fastnn's own 1024³ float32 GEMM (seconds), for the roofline.

Thread limits are set before the first call (``torch.set_num_threads``, threadpoolctl
for BLAS/OpenMP). Each timing is the median of ``--repeat`` runs after a warm-up.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def mnist():
    import fastnn as fn
    try:
        (X, y), _ = fn.datasets.load_mnist(flatten=True)
    except fn.datasets.DatasetError:                  # same shapes if MNIST is absent
        r = np.random.default_rng(0)
        X, y = r.random((60000, 784), dtype=np.float32), r.integers(0, 10, 60000)
    return X.astype(np.float32, copy=False), y.astype(np.int64, copy=False)


def xor_data():
    import fastnn as fn
    X, y = fn.datasets.make_xor()
    return np.tile(X, (1000, 1)), np.tile(y, 1000)


def digits():
    import fastnn as fn
    return fn.datasets.load_digits()


def single_rows(X, workload, n=200):
    """The 200 one-row inputs of predict_1 (MNIST digits) or predict_1_dense (noise)."""
    if workload == "predict_1_dense":
        X = np.random.default_rng(1).uniform(0.01, 1.0, (n, X.shape[1])).astype(X.dtype)
    return [X[i:i + 1] for i in range(n)]


def median_time(fn, repeat, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


# ---- fastnn ---------------------------------------------------------------------------
def fastnn_model(sizes, act, out_act=None, seed=0):
    import fastnn as fn
    layers = [fn.Dense(a, b, activation=act) for a, b in zip(sizes[:-2], sizes[1:-1])]
    return fn.Sequential(layers + [fn.Dense(sizes[-2], sizes[-1], activation=out_act)],
                         seed=seed)


def run_fastnn(workload, repeat):
    import fastnn as fn
    if workload == "gemm_1024":
        a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
        out = np.empty_like(a)
        return median_time(lambda: fn.ops.matmul(a, a, out=out), repeat * 5)
    if workload in ("mnist_epoch", "predict_1", "predict_1_dense", "predict_10k"):
        X, y = mnist()
        m = fastnn_model([784, 512, 256, 10], "relu")
        m.compile(optimizer=fn.Adam(1e-3), loss="softmax_cross_entropy", metrics=["accuracy"])
        if workload == "mnist_epoch":
            return median_time(lambda: m.fit(X, y, epochs=1, batch_size=128, verbose=0),
                               repeat)
        m.build((784,))
        if workload != "predict_10k":
            return _per_call(m.predict, single_rows(X, workload), repeat)
        return median_time(lambda: m.predict(X[:10000], batch_size=10000), repeat)
    if workload == "xor_step":
        X, y = xor_data()
        m = fastnn_model([2, 8, 1], "tanh", "sigmoid")
        m.compile(optimizer=fn.SGD(0.1), loss="binary_cross_entropy")
        t, ts = median_time(lambda: m.fit(X, y, epochs=1, batch_size=4, verbose=0), repeat)
        return t / 1000, [x / 1000 for x in ts]
    if workload == "digits_step":
        X, y = digits()
        m = fastnn_model([64, 64, 10], "relu")
        m.compile(optimizer=fn.Adam(1e-3), loss="softmax_cross_entropy")
        steps = -(-len(X) // 32)
        t, ts = median_time(lambda: m.fit(X, y, epochs=5, batch_size=32, verbose=0), repeat)
        return t / (5 * steps), [x / (5 * steps) for x in ts]
    raise SystemExit(f"unknown workload {workload}")


def _per_call(fn, inputs, repeat):
    """Seconds per call of fn, called once on each of inputs, median of repeat passes."""
    def batch():
        for x in inputs:
            fn(x)
    t, ts = median_time(batch, repeat)
    return t / len(inputs), [x / len(inputs) for x in ts]


# ---- torch ----------------------------------------------------------------------------
def torch_model(sizes, act, out_act=None):
    import torch
    from torch import nn
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU() if act == "relu" else nn.Tanh()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    if out_act == "sigmoid":
        layers.append(nn.Sigmoid())
    torch.manual_seed(0)
    return nn.Sequential(*layers)


def torch_epoch(model, opt, loss_fn, X, y, bs, shuffle=True):
    import torch
    n = X.shape[0]
    perm = torch.randperm(n) if shuffle else torch.arange(n)
    for i in range(0, n, bs):
        idx = perm[i:i + bs]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(X[idx]), y[idx])
        loss.backward()
        opt.step()


def run_torch(workload, repeat):
    import torch
    if workload in ("mnist_epoch", "predict_1", "predict_1_dense", "predict_10k"):
        X, y = mnist()
        rows = [torch.from_numpy(x) for x in single_rows(X, workload)]
        X, y = torch.from_numpy(X), torch.from_numpy(y)
        m = torch_model([784, 512, 256, 10], "relu")
        if workload == "mnist_epoch":
            opt = torch.optim.Adam(m.parameters(), lr=1e-3)
            ce = torch.nn.CrossEntropyLoss()
            return median_time(lambda: torch_epoch(m, opt, ce, X, y, 128), repeat)
        m.eval()

        def pred(x):
            with torch.inference_mode():
                return torch.softmax(m(x), dim=1).numpy()
        if workload != "predict_10k":
            return _per_call(pred, rows, repeat)
        return median_time(lambda: pred(X[:10000]), repeat)
    if workload == "xor_step":
        X, y = xor_data()
        X, y = torch.from_numpy(X), torch.from_numpy(y.reshape(-1, 1))
        m = torch_model([2, 8, 1], "tanh", "sigmoid")
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        t, ts = median_time(lambda: torch_epoch(m, opt, torch.nn.BCELoss(), X, y, 4), repeat)
        return t / 1000, [x / 1000 for x in ts]
    if workload == "digits_step":
        X, y = digits()
        X, y = torch.from_numpy(X), torch.from_numpy(y)
        m = torch_model([64, 64, 10], "relu")
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        steps = -(-len(X) // 32)
        ce = torch.nn.CrossEntropyLoss()
        t, ts = median_time(lambda: torch_epoch(m, opt, ce, X, y, 32), repeat)
        return t / steps, [x / steps for x in ts]
    raise SystemExit(f"unknown workload {workload}")


# ---- numpy and scikit-learn ---------------------------------------------------------------
def run_numpy(workload, repeat):
    from mlp_numpy import NumpyMLP
    if workload != "mnist_epoch":
        raise SystemExit("numpy: only mnist_epoch")
    X, y = mnist()
    m = NumpyMLP([784, 512, 256, 10], lr=1e-3, seed=0)
    return median_time(lambda: m.epoch(X, y, 128), repeat)


def run_sklearn(workload, repeat):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    if workload != "mnist_epoch":
        raise SystemExit("sklearn: only mnist_epoch")
    X, y = mnist()
    warnings.simplefilter("ignore", ConvergenceWarning)

    def epoch():
        MLPClassifier(hidden_layer_sizes=(512, 256), batch_size=128, max_iter=1,
                      learning_rate_init=1e-3, random_state=0, tol=0).fit(X, y)
    return median_time(epoch, repeat, warmup=0)


def limit_threads(framework, n):
    from threadpoolctl import threadpool_limits
    threadpool_limits(n)
    if framework == "torch":
        import torch
        torch.set_num_threads(n)
    if framework == "fastnn":
        import fastnn
        fastnn.set_num_threads(n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--framework", choices=("fastnn", "torch", "numpy", "sklearn"))
    ap.add_argument("--workload", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    if a.workload == "import":
        import importlib
        t0 = time.perf_counter()
        importlib.import_module(a.framework)
        print(json.dumps({"seconds": time.perf_counter() - t0}))
        return
    limit_threads(a.framework, a.threads)
    runner = {"fastnn": run_fastnn, "torch": run_torch, "numpy": run_numpy,
              "sklearn": run_sklearn}[a.framework]
    med, times = runner(a.workload, a.repeat)
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": med, "runs": times, "peak_rss": peak}))


if __name__ == "__main__":
    main()
