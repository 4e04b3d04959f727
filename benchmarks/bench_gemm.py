"""pytest-benchmark: fastnn.ops.matmul beside numpy.matmul on the same arrays.

    python -m pytest benchmarks/bench_gemm.py --benchmark-group-by=group [-k "t1"]

Each group ("<shape> t<threads>") holds the fastnn case and its NumPy reference; both
libraries are limited to the same thread count (fastnn OpenMP + BLAS via threadpoolctl).
"""
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gemm_table import SHAPES  # noqa: E402

import fastnn  # noqa: E402
from fastnn import ops  # noqa: E402

THREADS = [1, 2]
CASES = [(label, m, k, n, ta, tb, t) for (label, m, k, n, ta, tb) in SHAPES for t in THREADS]
IDS = [f"{c[0].replace(' ', '_')}-t{c[-1]}" for c in CASES]


@pytest.fixture
def limited(request):
    t = request.param
    before = fastnn.get_num_threads()
    with threadpool_limits(limits=t):
        fastnn.set_num_threads(t)
        time.sleep(0.25)  # let the other library's spinning threads go idle
        yield t
    fastnn.set_num_threads(before)


def _case(m, k, n, ta, tb, dtype=np.float32):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b, np.empty((m, n), dtype)


@pytest.mark.parametrize("case,limited", [(c, c[-1]) for c in CASES], ids=IDS,
                         indirect=["limited"])
@pytest.mark.parametrize("lib", ["fastnn", "numpy"])
def test_matmul(benchmark, case, limited, lib):
    label, m, k, n, ta, tb, t = case
    a, b, c = _case(m, k, n, ta, tb)
    benchmark.group = f"{label} t{t}"
    benchmark.extra_info["gflop"] = 2e-9 * m * n * k
    if lib == "fastnn":
        benchmark(lambda: ops.matmul(a, b, trans_a=ta, trans_b=tb, out=c))
    else:
        a2, b2 = (a.T if ta else a), (b.T if tb else b)
        benchmark(lambda: np.matmul(a2, b2, out=c))


@pytest.mark.parametrize("limited", THREADS, ids=[f"t{t}" for t in THREADS], indirect=True)
@pytest.mark.parametrize("lib", ["fastnn_fused", "numpy_unfused"])
def test_dense_bias_relu(benchmark, limited, lib):
    """The MLP forward layer: fused epilogue vs matmul, bias add, ReLU as three passes."""
    a, b, c = _case(128, 784, 512, False, False)
    bias = np.random.default_rng(1).standard_normal(512).astype(np.float32)
    benchmark.group = f"128x784x512 bias+relu t{limited}"
    if lib == "fastnn_fused":
        benchmark(lambda: ops.matmul(a, b, bias=bias, activation="relu", out=c))
    else:
        def layer():
            np.matmul(a, b, out=c)
            np.add(c, bias, out=c)
            np.maximum(c, 0, out=c)
        benchmark(layer)
