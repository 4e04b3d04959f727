"""Inference speed of the MNIST net: one sample (latency) and 10,000 samples
(throughput), fastnn beside PyTorch (``torch.inference_mode``) and NumPy, on MNIST digits
(fastnn skips their zero pixels) and on uniform noise (nothing to skip).

    pytest benchmarks/bench_predict.py --benchmark-only --benchmark-group-by=group
"""
import numpy as np
import pytest
import workloads as W


@pytest.fixture(scope="module", params=["mnist", "noise"])
def data(request):
    if request.param == "mnist":          # noise of the same shape if MNIST is absent
        return np.ascontiguousarray(W.mnist()[0][:10000])
    r = np.random.default_rng(0)
    return r.random((10000, 784), dtype=np.float32)


@pytest.fixture(scope="module")
def fastnn_model():
    m = W.fastnn_model([784, 512, 256, 10], "relu")
    m.compile(loss="softmax_cross_entropy")
    m.build((784,))
    return m


def _numpy_predict(m, X):
    h = X
    for layer in m.layers[:-1]:
        h = np.maximum(h @ layer.kernel + layer.bias, 0)
    z = h @ m.layers[-1].kernel + m.layers[-1].bias
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize("n", [1, 10000], ids=["1-sample", "10k-samples"])
@pytest.mark.parametrize("framework", ["fastnn", "numpy", "torch"])
def test_predict(benchmark, framework, n, data, fastnn_model, request):
    benchmark.group = f"predict-{n}-{request.node.callspec.params['data']}"
    X = data[:n]
    if framework == "fastnn":
        out = benchmark(fastnn_model.predict, X, batch_size=max(n, 1))
    elif framework == "numpy":
        out = benchmark(_numpy_predict, fastnn_model, X)
    else:
        torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch)")
        m = W.torch_model([784, 512, 256, 10], "relu").eval()
        Xt = torch.from_numpy(X)

        def pred():
            with torch.inference_mode():
                return torch.softmax(m(Xt), dim=1).numpy()
        out = benchmark(pred)
    assert out.shape == (n, 10)
