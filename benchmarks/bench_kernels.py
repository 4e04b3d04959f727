"""Each non-GEMM kernel beside its NumPy reference (fastnn._ref).

pytest-benchmark (one group per kernel, fastnn vs numpy):
    python -m pytest benchmarks/bench_kernels.py --benchmark-only --benchmark-group-by=group
Summary table with medians and the issue-4 targets (Adam bandwidth vs numpy.add,
fused softmax-CE speed-up), all measured in the same run:
    python benchmarks/bench_kernels.py [--repeat 25] [--threads N] [--isa NAME]
"""
import argparse
import os
import sys
import timeit

import numpy as np
import pytest

if __name__ == "__main__":  # run from a source checkout: use the in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fastnn  # noqa: E402
from fastnn import _core, _ref, ops  # noqa: E402

N_ARENA = 4 * 1024 * 1024  # elements of the flat float32 arena for optimizer steps
F32 = np.float32


def _cases():
    """name -> (setup() -> (fastnn_fn, numpy_fn), bytes moved by fastnn or None)."""
    rng = np.random.default_rng(0)

    def act(name):
        def setup():
            x = rng.standard_normal((4096, 1024)).astype(F32)
            out = np.empty_like(x)
            return (lambda: getattr(ops, name)(x, out=out), lambda: getattr(_ref, name)(x))
        return setup, 2 * 4096 * 1024 * 4

    def act_bwd(name):
        def setup():
            x = rng.standard_normal((4096, 1024)).astype(F32)
            y, dy, out = getattr(ops, name)(x), np.ones_like(x), np.empty_like(x)
            return (lambda: getattr(ops, name + "_backward")(y, dy, out=out),
                    lambda: getattr(_ref, name + "_backward")(y, dy))
        return setup, 3 * 4096 * 1024 * 4

    def xent(n, c):
        def setup():
            z = (rng.standard_normal((n, c)) * 3).astype(F32)
            y = rng.integers(0, c, n)
            out = np.empty_like(z)
            return (lambda: ops.softmax_cross_entropy(z, y, out=out),
                    lambda: _ref.softmax_cross_entropy(z, y))
        return setup, 2 * n * c * 4

    def loss(name):
        def setup():
            p = rng.uniform(0.01, 0.99, (4096, 256)).astype(F32)
            t = rng.uniform(0, 1, p.shape).astype(F32)
            out = np.empty_like(p)
            return (lambda: getattr(ops, name)(p, t, out=out), lambda: getattr(_ref, name)(p, t))
        return setup, 3 * 4096 * 256 * 4

    def arena(fn):
        def setup():
            p = rng.standard_normal(N_ARENA).astype(F32)
            g = rng.standard_normal(N_ARENA).astype(F32)
            st = [np.zeros_like(p) for _ in range(3)]
            return fn(p, g, st)
        return setup

    def optim(name, state, kw, streams):
        def fn(p, g, st):
            s = dict(zip(state, st))
            if name == "sgd_step":
                return (lambda: ops.sgd_step(p, g, 5, s["buf"], **kw),
                        lambda: _ref.sgd_step(p, g, 5, s["buf"], **kw))
            if name == "rmsprop_step":
                return (lambda: ops.rmsprop_step(p, g, s["sq"], 5, **kw),
                        lambda: _ref.rmsprop_step(p, g, s["sq"], 5, **kw))
            if name == "adagrad_step":
                return (lambda: ops.adagrad_step(p, g, s["sum"], 5, **kw),
                        lambda: _ref.adagrad_step(p, g, s["sum"], 5, **kw))
            f, r = getattr(ops, name), getattr(_ref, name)
            return (lambda: f(p, g, s["m"], s["v"], 5, **kw),
                    lambda: r(p, g, s["m"], s["v"], 5, **kw))
        return arena(fn), streams * N_ARENA * 4

    def numpy_add():
        a = rng.standard_normal(N_ARENA).astype(F32)
        b, c = a.copy(), np.empty_like(a)
        f = lambda: np.add(a, b, out=c)  # noqa: E731
        return f, f

    def reduce_case(kind):
        def setup():
            g = rng.standard_normal(N_ARENA).astype(F32)
            dy = rng.standard_normal((4096, 1024)).astype(F32)
            db = np.empty(1024, F32)
            return {
                "grad_norm": (lambda: ops.grad_norm(g), lambda: _ref.grad_norm(g)),
                "l2_penalty": (lambda: ops.l2_penalty(g, 1e-4, grad=g),
                               lambda: _ref.l2_penalty(g, 1e-4, grad=g)),
                "clip_by_norm": (lambda: ops.clip_by_norm(g, 1e9),
                                 lambda: _ref.clip_by_norm(g, 1e9)),
                "bias_grad": (lambda: ops.bias_grad(dy, out=db), lambda: _ref.bias_grad(dy)),
            }[kind]
        return setup, None

    def norm(kind):
        def setup():
            x = rng.standard_normal((4096, 1024)).astype(F32)
            dy = np.ones_like(x)
            gm, bt = np.ones(1024, F32), np.zeros(1024, F32)
            rm, rv = np.zeros(1024, F32), np.ones(1024, F32)
            if kind == "batch_norm":
                return (lambda: ops.batch_norm(x, gm, bt, rm, rv),
                        lambda: _ref.batch_norm(x, gm, bt, rm, rv))
            if kind == "batch_norm_backward":
                _, m, s = ops.batch_norm(x, gm, bt, rm, rv)
                return (lambda: ops.batch_norm_backward(x, dy, gm, m, s),
                        lambda: _ref.batch_norm_backward(x, dy, gm, m, s))
            if kind == "layer_norm":
                return (lambda: ops.layer_norm(x, gm, bt), lambda: _ref.layer_norm(x, gm, bt))
            _, m, s = ops.layer_norm(x, gm, bt)
            return (lambda: ops.layer_norm_backward(x, dy, gm, m, s),
                    lambda: _ref.layer_norm_backward(x, dy, gm, m, s))
        return setup, None

    def dropout():
        x = rng.standard_normal((4096, 1024)).astype(F32)
        out = np.empty_like(x)
        return (lambda: ops.dropout(x, 0.5, 1, 2, out=out), lambda: _ref.dropout(x, 0.5, 1, 2))

    return {
        "relu": act("relu"), "sigmoid": act("sigmoid"), "gelu": act("gelu"),
        "relu_backward": act_bwd("relu"), "sigmoid_backward": act_bwd("sigmoid"),
        "softmax": act("softmax"), "log_softmax": act("log_softmax"),
        "softmax_xent_128x10": xent(128, 10), "softmax_xent_4096x1000": xent(4096, 1000),
        "mse_loss": loss("mse_loss"), "bce": loss("binary_cross_entropy"),
        "bce_logits": loss("binary_cross_entropy_with_logits"),
        "bias_grad": reduce_case("bias_grad"), "grad_norm": reduce_case("grad_norm"),
        "l2_penalty": reduce_case("l2_penalty"), "clip_by_norm": reduce_case("clip_by_norm"),
        "batch_norm": norm("batch_norm"), "batch_norm_backward": norm("batch_norm_backward"),
        "layer_norm": norm("layer_norm"), "layer_norm_backward": norm("layer_norm_backward"),
        "dropout": (dropout, 3 * 4096 * 1024 * 4),
        "sgd_momentum": optim("sgd_step", ["buf"], dict(lr=1e-3, momentum=0.9), 5),
        "adagrad": optim("adagrad_step", ["sum"], dict(lr=1e-3), 5),
        "rmsprop": optim("rmsprop_step", ["sq"], dict(lr=1e-3), 5),
        "adam": optim("adam_step", ["m", "v"], dict(lr=1e-3), 7),
        "adamw": optim("adamw_step", ["m", "v"], dict(lr=1e-3), 7),
        "numpy_add": (numpy_add, 3 * N_ARENA * 4),
    }


CASES = _cases()


@pytest.mark.parametrize("impl", ["fastnn", "numpy"])
@pytest.mark.parametrize("name", list(CASES))
def test_kernel(benchmark, name, impl):
    setup, _ = CASES[name]
    ours, ref = setup()
    benchmark.group = name
    benchmark(ours if impl == "fastnn" else ref)


def _median(f, repeat):
    f()  # warm up (page faults, thread pool)
    number = max(1, int(2e-3 / max(min(timeit.repeat(f, number=1, repeat=3)), 1e-7)))
    return np.median(timeit.repeat(f, number=number, repeat=repeat)) / number


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=25)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--isa", default=None)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    if args.threads:
        fastnn.set_num_threads(args.threads)
    if args.isa:
        _core.set_isa(args.isa)
    print(f"fastnn isa={fastnn.get_isa()} threads={fastnn.get_num_threads()} "
          f"numpy={np.__version__} repeat={args.repeat} (median time per call)")
    print(f"{'kernel':26s} {'fastnn':>11s} {'numpy ref':>11s} {'speed-up':>9s} {'GB/s':>7s}")
    res = {}
    for name, (setup, nbytes) in CASES.items():
        if args.only is not None and name not in args.only:
            continue
        ours, ref = setup()
        t_ours = _median(ours, args.repeat)
        t_ref = _median(ref, max(3, args.repeat // 5)) if name != "numpy_add" else t_ours
        res[name] = t_ours
        bw = f"{nbytes / t_ours / 1e9:7.1f}" if nbytes else " " * 7
        print(f"{name:26s} {t_ours * 1e6:9.1f}us {t_ref * 1e6:9.1f}us {t_ref / t_ours:8.1f}x {bw}")
        res[name + ":ref"] = t_ref
    # Targets: time each pair alternately so both see the same machine load.
    pairs = {"adam": (CASES["adam"][0]()[0], CASES["numpy_add"][0]()[0])}
    for k in ("softmax_xent_128x10", "softmax_xent_4096x1000"):
        pairs[k] = CASES[k][0]()
    t = {k: ([], []) for k in pairs}
    for _ in range(args.repeat):
        for k, (a, b) in pairs.items():
            t[k][0].append(_median(a, 1))
            t[k][1].append(_median(b, 1))
    ta, tb = (np.median(v) for v in t["adam"])
    bw_adam, bw_add = 7 * N_ARENA * 4 / ta, 3 * N_ARENA * 4 / tb
    print(f"\nAdam step, 4M float32 (reads p,g,m,v; writes p,m,v): {bw_adam / 1e9:.1f} GB/s = "
          f"{bw_adam / bw_add:.2f} x numpy.add's {bw_add / 1e9:.1f} GB/s (target >= 0.80)")
    for k in ("softmax_xent_128x10", "softmax_xent_4096x1000"):
        ours, ref = (np.median(v) for v in t[k])
        print(f"{k} (forward + gradient): {ours * 1e6:.1f} us vs NumPy {ref * 1e6:.1f} us = "
              f"{ref / ours:.1f}x (target >= 3)")

if __name__ == "__main__":
    main()
