"""Optimizer steps (src_c/optim.c) against fastnn._ref over 100 steps, on flat arenas."""
import numpy as np
import pytest

from fastnn import _ref, ops

pytestmark = pytest.mark.kernels

# name -> (function, state names, kwargs)
CONFIGS = {
    "sgd": ("sgd_step", [], dict(lr=0.05)),
    "sgd_wd": ("sgd_step", [], dict(lr=0.05, weight_decay=0.01)),
    "momentum": ("sgd_step", ["buf"], dict(lr=0.05, momentum=0.9, dampening=0.1)),
    "nesterov": ("sgd_step", ["buf"], dict(lr=0.05, momentum=0.9, nesterov=True,
                                           weight_decay=1e-3)),
    "adagrad": ("adagrad_step", ["sum"], dict(lr=0.05, lr_decay=0.01, weight_decay=1e-3)),
    "rmsprop": ("rmsprop_step", ["square_avg"], dict(lr=0.01)),
    "rmsprop_mom_centered": ("rmsprop_step", ["square_avg", "buf", "grad_avg"],
                             dict(lr=0.01, momentum=0.9, centered=True, weight_decay=1e-3)),
    "adam": ("adam_step", ["m", "v"], dict(lr=0.01, weight_decay=1e-3)),
    "amsgrad": ("adam_step", ["m", "v", "v_max"], dict(lr=0.01, amsgrad=True)),
    "adamw": ("adamw_step", ["m", "v"], dict(lr=0.01, weight_decay=0.1)),
    "adamw_amsgrad": ("adamw_step", ["m", "v", "v_max"], dict(lr=0.01, amsgrad=True)),
}


def _run(mod, cfg, p0, grads, slices=None):
    fname, state_names, kw = CONFIGS[cfg]
    p = p0.copy()
    state = {s: np.zeros_like(p) for s in state_names}
    if "sum" in state:
        state["sum"] += 0.1  # initial_accumulator_value
    f = getattr(mod, fname)
    for t, g in enumerate(grads, start=1):
        parts = slices or [slice(None)]
        for sl in parts:
            st = {k: v[sl] for k, v in state.items()}
            if fname == "sgd_step":
                f(p[sl], g[sl], t, st.get("buf"), **kw)
            elif fname == "adagrad_step":
                f(p[sl], g[sl], st["sum"], t, **kw)
            elif fname == "rmsprop_step":
                f(p[sl], g[sl], st["square_avg"], t, buf=st.get("buf"),
                  grad_avg=st.get("grad_avg"), **kw)
            else:
                f(p[sl], g[sl], st["m"], st["v"], t, v_max=st.get("v_max"), **kw)
    return p, state


def _grads(n, dtype, rng, steps=100):
    return [rng.standard_normal(n).astype(dtype) for _ in range(steps)]


@pytest.mark.parametrize("cfg", list(CONFIGS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 97, 40009])
def test_100_steps_match_ref(isa, cfg, dtype, n, rng):
    p0 = rng.standard_normal(n).astype(dtype)
    grads = _grads(n, dtype, rng)
    p, st = _run(ops, cfg, p0, grads)
    rp, rst = _run(_ref, cfg, p0, grads)
    rtol, atol = (1e-12, 1e-13) if dtype == np.float64 else (1e-5, 1e-6)
    np.testing.assert_allclose(p, rp, rtol=rtol, atol=atol)
    for k in st:
        np.testing.assert_allclose(st[k], rst[k], rtol=rtol, atol=atol)


@pytest.mark.parametrize("cfg", list(CONFIGS))
def test_flat_arena_equals_slices(cfg, rng):
    """One step over the whole arena == stepping each layer's slice separately."""
    n = 50000
    p0 = rng.standard_normal(n).astype(np.float32)
    grads = _grads(n, np.float32, rng, steps=3)
    whole, s1 = _run(ops, cfg, p0, grads)
    cuts = [slice(0, 784), slice(784, 800), slice(800, 41000), slice(41000, n)]
    parts, s2 = _run(ops, cfg, p0, grads, slices=cuts)
    assert np.array_equal(whole, parts)
    for k in s1:
        assert np.array_equal(s1[k], s2[k])


@pytest.mark.parametrize("cfg", list(CONFIGS))
def test_bit_identical_across_threads(threads, cfg, rng):
    p0 = rng.standard_normal(200003).astype(np.float32)
    grads = _grads(p0.size, np.float32, rng, steps=3)
    res = []
    for t in (1, 2, 3):
        threads(t)
        res.append(_run(ops, cfg, p0, grads)[0])
    assert all(np.array_equal(r, res[0]) for r in res[1:])


def test_adam_bias_correction_first_step():
    # step 1: m_hat = g, v_hat = g^2 -> update = lr * g / (|g| + eps) ~ lr sign(g)
    p = np.zeros(3)
    ops.adam_step(p, np.array([2.0, -3.0, 1e-3]), np.zeros(3), np.zeros(3), 1, lr=0.1, eps=0)
    np.testing.assert_allclose(p, [-0.1, 0.1, -0.1], rtol=1e-12)


def test_validation():
    p, g = np.zeros(4), np.zeros(4)
    m, v = np.zeros(4), np.zeros(4)
    with pytest.raises(ValueError, match="step"):
        ops.adam_step(p, g, m, v, 0)
    with pytest.raises(ValueError, match="beta1"):
        ops.adam_step(p, g, m, v, 1, beta1=1.0)
    with pytest.raises(ValueError, match="lr"):
        ops.adam_step(p, g, m, v, 1, lr=float("nan"))
    with pytest.raises(ValueError, match="v_max"):
        ops.adam_step(p, g, m, v, 1, amsgrad=True)
    with pytest.raises(ValueError, match="m has shape"):
        ops.adam_step(p, g, np.zeros(3), v, 1)
    with pytest.raises(TypeError, match="m has dtype"):
        ops.adam_step(p, g, m.astype(np.float32), v, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.sgd_step(np.zeros((4, 4))[:, 0], g, 1)
    with pytest.raises(ValueError, match="buffer"):
        ops.sgd_step(p, g, 1, momentum=0.9)
    with pytest.raises(ValueError, match="nesterov"):
        ops.sgd_step(p, g, 1, buf=np.zeros(4), momentum=0.0, nesterov=True)
    with pytest.raises(ValueError, match="grad_avg"):
        ops.rmsprop_step(p, g, np.zeros(4), 1, centered=True)
    with pytest.raises(TypeError, match="step"):
        ops.adagrad_step(p, g, np.zeros(4), 1.0)
    ro = np.zeros(4)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ops.adam_step(ro, g, m, v, 1)
