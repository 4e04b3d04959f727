"""Property-based tests (hypothesis): random shapes, dtypes, strides and values thrown at
the kernels and the public API. Whatever comes in, the interpreter survives and every
failure is the documented Python exception; whatever succeeds matches the reference.
Eight properties × 400 examples = 3,200 generated cases per run."""
import numpy as np
import pytest

hyp = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import fastnn as fn  # noqa: E402
from fastnn import _ref, ops  # noqa: E402

CASES = settings(max_examples=400, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much])
DTYPES = st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.int64, np.bool_,
                          np.complex64, object])
FLOATS = st.sampled_from([np.float32, np.float64])


def arrays(draw, dtype=None, shape=None, allow_weird=True):
    dtype = draw(DTYPES if dtype is None and allow_weird else FLOATS) if dtype is None else dtype
    shape = shape if shape is not None else draw(hnp.array_shapes(min_dims=0, max_dims=3,
                                                                  min_side=0, max_side=9))
    if dtype is object:
        return np.empty(shape, dtype=object)
    elems = None
    if np.dtype(dtype).kind == "f":
        elems = st.floats(-1e3, 1e3, width=np.dtype(dtype).itemsize * 8) | \
            st.sampled_from([np.nan, np.inf, -np.inf, 0.0])
    a = draw(hnp.arrays(dtype, shape, elements=elems))
    view = draw(st.sampled_from(["plain", "strided", "transposed", "readonly"]))
    if view == "strided" and a.ndim >= 1 and a.shape[0] > 1:
        a = a[::2]
    elif view == "transposed" and a.ndim >= 2:
        a = a.T
    elif view == "readonly":
        a.flags.writeable = False
    return a


OK_ERRORS = (ValueError, TypeError)


@CASES
@given(st.data())
def test_matmul_survives_anything(data):
    a = arrays(data.draw)
    b = arrays(data.draw)
    kw = dict(trans_a=data.draw(st.booleans()), trans_b=data.draw(st.booleans()),
              activation=data.draw(st.sampled_from([None, "relu", "tanh", "sigmoid",
                                                     ("leaky_relu", 0.1), "bogus"])))
    if data.draw(st.booleans()):
        kw["bias"] = arrays(data.draw)
    try:
        out = ops.matmul(a, b, **kw)
    except OK_ERRORS:
        return
    ref = _ref.matmul(np.asarray(a, out.dtype), np.asarray(b, out.dtype), **kw)
    finite = np.isfinite(ref)
    tol = 1e-3 if out.dtype == np.float32 else 1e-9
    k = (a.shape[0] if kw["trans_a"] else a.shape[-1]) if a.ndim == 2 else 1
    np.testing.assert_allclose(out[finite], ref[finite], rtol=tol, atol=tol * (1 + k) * 1e3)


@CASES
@given(st.data())
def test_activations_survive_anything(data):
    x = arrays(data.draw)
    name = data.draw(st.sampled_from(["relu", "sigmoid", "tanh", "gelu", "elu", "softplus",
                                      "silu", "leaky_relu", "step", "softmax", "log_softmax"]))
    try:
        y = getattr(ops, name)(x)
        dy = getattr(ops, name + "_backward")(y if name not in ("gelu", "silu") else x, y)
    except OK_ERRORS:
        return
    assert y.shape == np.shape(x) and dy.shape == np.shape(x)


@CASES
@given(st.data())
def test_softmax_cross_entropy_survives_anything(data):
    n, c = data.draw(st.integers(0, 6)), data.draw(st.integers(0, 6))
    logits = arrays(data.draw, shape=data.draw(st.sampled_from([(n, c), (n,), (n, c, 1)])))
    labels = data.draw(st.one_of(
        hnp.arrays(np.int64, n, elements=st.integers(-3, 8)),
        hnp.arrays(np.float64, (n, c), elements=st.floats(0, 1)),
        hnp.arrays(np.float32, n, elements=st.floats(-2, 8)),
        st.just(np.zeros(n + 1, np.int64))))
    smoothing = data.draw(st.sampled_from([0.0, 0.1, -0.5, 1.5, np.nan]))
    try:
        loss, grad = ops.softmax_cross_entropy(logits, labels, label_smoothing=smoothing)
    except OK_ERRORS:
        return
    assert grad.shape == logits.shape


@CASES
@given(st.data())
def test_elementwise_losses_survive_anything(data):
    fn_ = data.draw(st.sampled_from([ops.mse_loss, ops.mae_loss, ops.huber_loss,
                                     ops.binary_cross_entropy,
                                     ops.binary_cross_entropy_with_logits]))
    pred = arrays(data.draw)
    target = arrays(data.draw, shape=data.draw(st.sampled_from([np.shape(pred), (3,), ()])))
    red = data.draw(st.sampled_from(["mean", "sum", "none", 3]))
    try:
        loss, grad = fn_(pred, target, reduction=red)
    except OK_ERRORS:
        return
    assert grad.shape == np.shape(pred)


@CASES
@given(st.data())
def test_optimizer_steps_survive_anything(data):
    size = data.draw(st.integers(0, 12))
    p = arrays(data.draw, shape=(size,))
    g = arrays(data.draw, shape=data.draw(st.sampled_from([(size,), (size + 1,), ()])))
    m = arrays(data.draw, shape=(size,))
    v = arrays(data.draw, shape=(size,))
    step = data.draw(st.sampled_from([1, 5, 0, -1, 2.5]))
    lr = data.draw(st.sampled_from([1e-3, 0.0, -1.0, np.nan, np.inf]))
    which = data.draw(st.sampled_from(["adam", "adamw", "sgd", "rmsprop", "adagrad"]))
    try:
        if which in ("adam", "adamw"):
            getattr(ops, which + "_step")(p, g, m, v, step, lr=lr)
        elif which == "sgd":
            ops.sgd_step(p, g, step, buf=m, lr=lr, momentum=0.9)
        elif which == "rmsprop":
            ops.rmsprop_step(p, g, m, step, lr=lr)
        else:
            ops.adagrad_step(p, g, m, step, lr=lr)
    except OK_ERRORS:
        return


@CASES
@given(st.data())
@pytest.mark.filterwarnings("ignore:binary cross-entropy takes probabilities")
def test_model_fit_predict_survive_anything(data):
    X = arrays(data.draw)
    y = arrays(data.draw, shape=data.draw(st.sampled_from([np.shape(X)[:1], (3,), (4, 2)])))
    loss = data.draw(st.sampled_from(["softmax_cross_entropy", "mse", "binary_cross_entropy"]))
    bs = data.draw(st.sampled_from([1, 4, None, 0, -2, 2.5]))
    m = fn.Sequential([fn.Dense(3, activation="relu"), fn.Dropout(0.3), fn.Dense(2)], seed=0)
    m.compile(optimizer=fn.Adam(1e-2), loss=loss)
    try:
        m.fit(X, y, epochs=1, batch_size=bs, verbose=0)
        out = m.predict(X)
    except OK_ERRORS:
        return
    assert out.shape == (len(X), 2)


@CASES
@given(st.data())
def test_layer_and_optimizer_configs_validate(data):
    value = data.draw(st.sampled_from([0, -1, 1.5, np.nan, np.inf, None, "x", True, 2, 0.5]))
    ctor = data.draw(st.sampled_from([
        lambda v: fn.Dense(4, v), lambda v: fn.Dropout(v), lambda v: fn.Adam(lr=v),
        lambda v: fn.SGD(0.1, momentum=v), lambda v: fn.BatchNorm(momentum=v),
        lambda v: fn.RMSProp(rho=v), lambda v: fn.L2(v), lambda v: fn.Huber(delta=v),
        lambda v: fn.EarlyStopping(patience=v) if v is not None else fn.EarlyStopping(),
        lambda v: fn.set_num_threads(v)]))
    try:
        ctor(value)
    except OK_ERRORS:
        return
    finally:
        fn.set_num_threads(max(1, fn.get_num_threads()))


@CASES
@given(st.binary(max_size=300))
def test_load_model_of_random_bytes_raises_model_file_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("fuzz") / "x.fnn"
    path.write_bytes(raw)
    with pytest.raises(fn.ModelFileError):
        fn.load_model(path)
