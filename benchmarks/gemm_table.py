"""Print GFLOP/s of fastnn.ops.matmul beside numpy.matmul on the MLP GEMM shapes.

    python benchmarks/gemm_table.py --threads 1,2 [--dtype float32] [--repeat 7]

NumPy's BLAS and fastnn's OpenMP are limited to the same thread count (threadpoolctl).
Each cell is the median over ``--repeat`` runs of the best-of-a-batch time; fastnn and
NumPy alternate on the same arrays so load from other processes hits both alike; the
ratio column is the median of the per-run ratios (> 1: fastnn faster).
"""
import argparse
import os
import sys
import time
from functools import partial

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fastnn  # noqa: E402
from fastnn import ops  # noqa: E402

# (label, M, K, N, trans_a, trans_b)
SHAPES = [
    ("1024^3 NN", 1024, 1024, 1024, False, False),
    ("128x784x512 NN", 128, 784, 512, False, False),
    ("128x512x256 NN", 128, 512, 256, False, False),
    ("128x256x10 NN", 128, 256, 10, False, False),
    ("784x128x512 TN", 784, 128, 512, True, False),
    ("128x512x784 NT", 128, 512, 784, False, True),
    ("32x784x512 NN", 32, 784, 512, False, False),
    ("1x784x512 NN", 1, 784, 512, False, False),
]


def operands(m, k, n, ta, tb, dtype, rng):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


def best_time(fn, min_time=0.05):
    """Best per-call time of a batch sized to run ~min_time."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    reps = max(1, int(min_time / once))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def measure(f_fast, f_numpy, repeat, pause=0.25):
    """Alternate fastnn and NumPy; the pause lets the other library's idle threads stop
    spinning (OpenBLAS and libgomp both busy-wait after a call), which on 2 cores would
    otherwise steal the second core from whichever runs next."""
    tf, tn = [], []
    for _ in range(repeat):
        time.sleep(pause)
        tf.append(best_time(f_fast))
        time.sleep(pause)
        tn.append(best_time(f_numpy))
    return float(np.median(tf)), float(np.median(tn)), float(np.median(np.array(tn) / tf))


def rows_for(threads, dtype, repeat, rng):
    out = []
    with threadpool_limits(limits=threads):
        fastnn.set_num_threads(threads)
        for label, m, k, n, ta, tb in SHAPES:
            a, b = operands(m, k, n, ta, tb, dtype, rng)
            c = np.empty((m, n), dtype)
            a_np, b_np = (a.T if ta else a), (b.T if tb else b)
            tf, tn, r = measure(
                partial(ops.matmul, a, b, trans_a=ta, trans_b=tb, out=c),
                partial(np.matmul, a_np, b_np, out=c), repeat)
            out.append((label, 2e-9 * m * n * k, tf, tn, r))
        # fused bias+relu vs numpy matmul, then bias add and ReLU (the MLP forward layer)
        label, m, k, n = "128x784x512 bias+relu", 128, 784, 512
        a, b = operands(m, k, n, False, False, dtype, rng)
        bias = rng.standard_normal(n).astype(dtype)
        c = np.empty((m, n), dtype)

        def numpy_layer():
            np.matmul(a, b, out=c)
            np.add(c, bias, out=c)
            np.maximum(c, 0, out=c)

        tf, tn, r = measure(lambda: ops.matmul(a, b, bias=bias, activation="relu", out=c),
                            numpy_layer, repeat)
        out.append((label, 2e-9 * m * n * k, tf, tn, r))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--repeat", type=int, default=7, help="median over this many runs")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    dtype = np.dtype(args.dtype)
    print(f"fastnn isa={fastnn.get_isa()} dtype={dtype} load={os.getloadavg()[0]:.2f}")
    print(f"{'shape':<24}{'thr':>4}{'fastnn GF/s':>13}{'numpy GF/s':>12}{'ratio':>8}")
    for t in [int(x) for x in args.threads.split(",")]:
        for label, gf, tf, tn, r in rows_for(t, dtype, args.repeat, rng):
            print(f"{label:<24}{t:>4}{gf / tf:>13.1f}{gf / tn:>12.1f}{r:>8.3f}")
    print(f"load after={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
