"""Training speed, each fastnn case grouped beside its comparisons on the same data:
the hand-written NumPy trainer, scikit-learn's MLPClassifier and PyTorch (skipped with a
reason when not installed).

    pytest benchmarks/bench_train.py --benchmark-only --benchmark-group-by=group

For the side-by-side table at fixed thread counts use benchmarks/report.py.
"""
import numpy as np
import pytest
import workloads as W


@pytest.fixture(scope="module")
def mnist():
    return W.mnist()


def _fastnn_mnist():
    import fastnn as fn
    m = W.fastnn_model([784, 512, 256, 10], "relu")
    m.compile(optimizer=fn.Adam(1e-3), loss="softmax_cross_entropy", metrics=["accuracy"])
    return m


@pytest.mark.benchmark(group="mnist-epoch")
def test_fastnn_mnist_epoch(benchmark, mnist):
    X, y = mnist
    m = _fastnn_mnist()
    benchmark.pedantic(lambda: m.fit(X, y, epochs=1, batch_size=128, verbose=0), rounds=3,
                       warmup_rounds=1)


@pytest.mark.benchmark(group="mnist-epoch")
def test_numpy_mnist_epoch(benchmark, mnist):
    from mlp_numpy import NumpyMLP
    X, y = mnist
    m = NumpyMLP([784, 512, 256, 10])
    benchmark.pedantic(lambda: m.epoch(X, y, 128), rounds=3, warmup_rounds=1)


@pytest.mark.benchmark(group="mnist-epoch")
def test_sklearn_mnist_epoch(benchmark, mnist):
    pytest.importorskip("sklearn", reason="scikit-learn not installed (pip install '.[bench]')")
    X, y = mnist
    benchmark.pedantic(lambda: W.run_sklearn("mnist_epoch", 1), rounds=2)


@pytest.mark.benchmark(group="mnist-epoch")
def test_torch_mnist_epoch(benchmark, mnist):
    torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch)")
    X, y = mnist
    m = W.torch_model([784, 512, 256, 10], "relu")
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    ce = torch.nn.CrossEntropyLoss()
    benchmark.pedantic(lambda: W.torch_epoch(m, opt, ce, Xt, yt, 128), rounds=3,
                       warmup_rounds=1)


@pytest.mark.benchmark(group="xor-1000-steps")
def test_fastnn_xor_steps(benchmark):
    import fastnn as fn
    X, y = W.xor_data()
    m = W.fastnn_model([2, 8, 1], "tanh", "sigmoid")
    m.compile(optimizer=fn.SGD(0.1), loss="binary_cross_entropy")
    benchmark(lambda: m.fit(X, y, epochs=1, batch_size=4, verbose=0))


@pytest.mark.benchmark(group="xor-1000-steps")
def test_torch_xor_steps(benchmark):
    torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch)")
    X, y = W.xor_data()
    m = W.torch_model([2, 8, 1], "tanh", "sigmoid")
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.reshape(-1, 1))
    benchmark(lambda: W.torch_epoch(m, opt, torch.nn.BCELoss(), Xt, yt, 4))


@pytest.mark.benchmark(group="digits-epoch-b32")
def test_fastnn_digits_epoch(benchmark):
    import fastnn as fn
    X, y = W.digits()
    m = W.fastnn_model([64, 64, 10], "relu")
    m.compile(optimizer=fn.Adam(1e-3), loss="softmax_cross_entropy")
    benchmark(lambda: m.fit(X, y, epochs=1, batch_size=32, verbose=0))


@pytest.mark.benchmark(group="digits-epoch-b32")
def test_torch_digits_epoch(benchmark):
    torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch)")
    X, y = W.digits()
    m = W.torch_model([64, 64, 10], "relu")
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    benchmark(lambda: W.torch_epoch(m, opt, torch.nn.CrossEntropyLoss(), Xt, yt, 32))


def test_numpy_trainer_learns():
    """The NumPy baseline is a real trainer, not a stub: it learns the digits."""
    from mlp_numpy import NumpyMLP
    X, y = W.digits()
    m = NumpyMLP([64, 64, 10], lr=1e-2)
    for _ in range(10):
        m.epoch(X, y, 32)
    h = np.maximum(X @ m.W[0] + m.b[0], 0)
    assert np.mean(np.argmax(h @ m.W[1] + m.b[1], 1) == y) > 0.9
