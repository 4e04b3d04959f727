"""Optimizer steps flush denormals to zero (fastnn.set_flush_denormal, on by default):
the decaying state goes through the denormal range, where Intel cores slow down."""
import platform

import numpy as np
import pytest

import fastnn as fn
from fastnn import ops

X86 = platform.machine().lower() in ("x86_64", "amd64", "x64", "i386", "i686", "x86")
needs_x86 = pytest.mark.skipif(not X86, reason="flushing denormals is x86's MXCSR")


@pytest.fixture
def flush_mode():
    """Leave the process's mode as the test found it."""
    before = fn.get_flush_denormal()
    yield
    fn.set_flush_denormal(before)


def tiny(dtype):
    return np.finfo(dtype).tiny


def denormal(a):
    return (a != 0) & (np.abs(a) < tiny(a.dtype))


def decaying_state(dtype):
    """Moments just above and inside the denormal range, with zero gradients: each step
    multiplies them by beta and so makes (or reads) a denormal."""
    t = tiny(dtype)
    m = np.array([t * 4, t * 1.05, t, t / 3, t / 1000, -t / 7, 0.0, 1e-3] * 5, dtype)
    p = np.linspace(-0.5, 0.5, m.size).astype(dtype)
    return p, np.zeros_like(p), m


def test_on_by_default_and_checked(flush_mode):
    assert fn.get_flush_denormal() is X86
    for bad in (1, 0, "yes", None, 1.0):
        with pytest.raises(TypeError, match="True or False"):
            fn.set_flush_denormal(bad)
    assert fn.set_flush_denormal(False) is X86 and fn.get_flush_denormal() is False
    assert fn.set_flush_denormal(np.True_) is X86 and fn.get_flush_denormal() is X86
    assert "flush denormals" in "\n".join(fn.config._config_lines())


STEPS = {
    "sgd": lambda p, g, m: ops.sgd_step(p, g, 2, buf=m, lr=0.1, momentum=0.9),
    "rmsprop": lambda p, g, m: ops.rmsprop_step(p, g, m, 2, alpha=0.9),
    "adam": lambda p, g, m: ops.adam_step(p, g, m, np.full_like(m, 1e-6), 2),
    "adamw": lambda p, g, m: ops.adamw_step(p, g, m, np.full_like(m, 1e-6), 2),
}


@needs_x86
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opt", sorted(STEPS))
def test_steps_flush_the_decaying_state_and_keep_the_weights(flush_mode, opt, dtype):
    """Flushed: every denormal the step reads or would write is 0. Unflushed: the state is
    IEEE's beta·m (or beta·sq), denormals included. The weights agree either way."""
    out = {}
    for mode in (False, True):
        fn.set_flush_denormal(mode)
        p, g, m = decaying_state(dtype)
        if opt == "rmsprop":                                 # a mean square: >= 0
            m = np.abs(m)
        m0 = m.copy()
        STEPS[opt](p, g, m)
        out[mode] = p, m, m0
    p_off, m_off, m0 = out[False]
    p_on, m_on, _ = out[True]
    exact = np.asarray(0.9, dtype) * m0                     # zero gradient: only the decay
    np.testing.assert_array_equal(m_off, exact)
    assert denormal(m_off).any()                             # the case is exercised
    flushed = np.where(denormal(m0) | denormal(exact), 0, exact)
    np.testing.assert_array_equal(m_on, flushed)
    assert not denormal(m_on).any()
    np.testing.assert_array_equal(p_on, p_off)


@needs_x86
def test_a_step_leaves_the_callers_floating_point_mode_alone(flush_mode):
    fn.set_flush_denormal(True)
    p, g, m = decaying_state(np.float32)
    big = np.zeros(200_000, np.float32)                      # several chunks, threads
    ops.adam_step(p, g, m, np.full_like(m, 1e-6), 3)
    ops.adam_step(big, big.copy(), big.copy(), big.copy(), 3)
    half = np.float32(tiny(np.float32)) * np.float32(0.5)    # NumPy, on this thread
    assert half != 0 and denormal(np.array([half]))[0]


def make_fit_data(steps=1200, batch=8):
    """Column 0 is non-zero in the first batch only: its weights' moments then decay
    through the denormal range over the remaining ~1,200 steps."""
    r = np.random.default_rng(0)
    X = r.standard_normal((steps * batch, 6)).astype(np.float32)
    X[batch:, 0] = 0
    y = (X[:, 1] + X[:, 2] > 0).astype(np.int64)
    return X, y


@needs_x86
@pytest.mark.parametrize("opt", [lambda: fn.Adam(1e-3), lambda: fn.SGD(0.01, momentum=0.9),
                                 lambda: fn.RMSProp(1e-3)], ids=["adam", "sgd", "rmsprop"])
def test_training_flushes_the_state_and_learns_the_same_weights(flush_mode, opt):
    X, y = make_fit_data()
    models = {}
    for mode in (False, True):
        fn.set_flush_denormal(mode)
        m = fn.Sequential([fn.Dense(6, 8, activation="relu"), fn.Dense(8, 2)], seed=1)
        m.compile(optimizer=opt(), loss="softmax_cross_entropy")
        m.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        models[mode] = m
    state = {mode: [a for a in m.optimizer.state.values() if isinstance(a, np.ndarray)]
             for mode, m in models.items()}
    assert any(denormal(a).any() for a in state[False])      # unflushed: denormals
    assert not any(denormal(a).any() for a in state[True])   # flushed: none
    np.testing.assert_array_equal(models[True].params, models[False].params)


TINY_EPS = {
    "adam": lambda p, g, s, eps: ops.adam_step(p, g, np.zeros_like(p), s, 1, eps=eps),
    "rmsprop": lambda p, g, s, eps: ops.rmsprop_step(p, g, s, 1, eps=eps),
    "adagrad": lambda p, g, s, eps: ops.adagrad_step(p, g, s, 1, eps=eps),
}


@needs_x86
@pytest.mark.parametrize("eps", [1e-30, 0.0])
@pytest.mark.parametrize("opt", sorted(TINY_EPS))
def test_a_tiny_eps_keeps_ieee_steps(flush_mode, opt, eps):
    """A gradient of 1e-20 squares to a denormal: flushed, the step would be d / eps
    (1e+8 at eps 1e-30, inf at 0) where IEEE's is about lr. Such steps do not flush."""
    out = {}
    for mode in (False, True):
        fn.set_flush_denormal(mode)
        p = np.ones(40, np.float32)
        g = np.full(40, 1e-20, np.float32)
        s = np.zeros(40, np.float32)
        TINY_EPS[opt](p, g, s, eps)
        out[mode] = p, s
    np.testing.assert_array_equal(out[True][0], out[False][0])
    np.testing.assert_array_equal(out[True][1], out[False][1])
    assert np.isfinite(out[True][0]).all() and np.abs(out[True][0] - 1).max() < 0.1
