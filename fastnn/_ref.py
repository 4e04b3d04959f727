"""NumPy reference twins of every C kernel: the specification the kernels are tested against.

Each function has the same name and signature as its public ``fastnn.ops`` counterpart
and is written for clarity, not speed. Tests compare every kernel with its twin here.
"""
import math

import numpy as np

__all__ = []


def _out(result, out):
    """Write result into out when given (the ops ``out=`` convention), else return it."""
    if out is None:
        return result
    out[...] = result
    return out


# ---- GEMM (src_c/gemm*.c, fastnn/_gemm.pyx) ----
__all__ += ["matmul"]

_GEMM_ACT = {  # forward activation of the epilogue: z -> y
    "identity": lambda z, s: z,
    "relu": lambda z, s: np.where(z < 0, 0, z),  # NaN stays NaN, like ops.relu
    "leaky_relu": lambda z, s: np.where(z > 0, z, s * z),
    "sigmoid": lambda z, s: 1 / (1 + np.exp(-z)),
    "tanh": lambda z, s: np.tanh(z),
}
_GEMM_DACT = {  # act'(z) written with the forward output y = act(z)
    "identity": lambda y, s: np.ones_like(y),
    "relu": lambda y, s: (y > 0).astype(y.dtype),
    "leaky_relu": lambda y, s: np.where(y > 0, 1, s).astype(y.dtype),
    "sigmoid": lambda y, s: y * (1 - y),
    "tanh": lambda y, s: 1 - y * y,
}


def matmul(a, b, *, trans_a=False, trans_b=False, bias=None, activation=None, alpha=1.0,
           beta=0.0, out=None, preact=None, dact_y=None):
    """C := act(alpha * op(a) @ op(b) + beta * C + bias); dact_y: C := z * act'(dact_y)."""
    a, b = np.asarray(a), np.asarray(b)
    name, slope = "identity", 0.01
    if isinstance(activation, tuple):
        name, slope = activation
    elif activation is not None:
        name = activation
    name = name.lower()
    z = alpha * ((a.T if trans_a else a) @ (b.T if trans_b else b))
    if beta != 0:
        z = z + beta * out
    if bias is not None:
        z = z + bias
    if preact is not None:
        preact[...] = z
    with np.errstate(over="ignore"):
        c = z * _GEMM_DACT[name](dact_y, slope) if dact_y is not None else _GEMM_ACT[name](z, slope)
    if out is None:
        return c.astype(a.dtype)
    out[...] = c
    return out

# ---- activations (src_c/act.c) ----
# Derivatives take the forward output y, except gelu and silu which take x.
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def identity(x, out=None):
    return _out(x.copy(), out)


def identity_backward(y, dy, out=None):
    return _out(dy.copy(), out)


def step(x, out=None):
    return _out((x > 0).astype(x.dtype), out)


def step_backward(y, dy, out=None):
    return _out(np.zeros_like(dy), out)


def sigmoid(x, out=None):
    return _out(_sigmoid(x).astype(x.dtype), out)


def sigmoid_backward(y, dy, out=None):
    return _out(dy * y * (1 - y), out)


def tanh(x, out=None):
    return _out(np.tanh(x), out)


def tanh_backward(y, dy, out=None):
    return _out(dy * (1 - y * y), out)


def relu(x, out=None):
    return _out(np.where(x < 0, 0, x).astype(x.dtype), out)


def relu_backward(y, dy, out=None):
    return _out(np.where(y > 0, dy, 0).astype(dy.dtype), out)


def leaky_relu(x, alpha=0.01, out=None):
    return _out(np.where(x < 0, x.dtype.type(alpha) * x, x), out)


def leaky_relu_backward(y, dy, alpha=0.01, out=None):
    return _out(np.where(y > 0, dy, dy.dtype.type(alpha) * dy), out)


def elu(x, alpha=1.0, out=None):
    return _out(np.where(x < 0, x.dtype.type(alpha) * np.expm1(x), x), out)


def elu_backward(y, dy, alpha=1.0, out=None):
    return _out(np.where(y > 0, dy, dy * (y + y.dtype.type(alpha))), out)


def gelu(x, out=None):
    xd = x.astype(np.float64)
    return _out((0.5 * xd * _erfc(-xd / np.sqrt(2))).astype(x.dtype), out)


def gelu_backward(x, dy, out=None):
    xd = x.astype(np.float64)
    d = 0.5 * _erfc(-xd / np.sqrt(2)) + xd * np.exp(-0.5 * xd * xd) / np.sqrt(2 * np.pi)
    return _out(dy * d.astype(x.dtype), out)


def silu(x, out=None):
    return _out(x * _sigmoid(x).astype(x.dtype), out)


def silu_backward(x, dy, out=None):
    s = _sigmoid(x).astype(x.dtype)
    return _out(dy * s * (1 + x * (1 - s)), out)


def softplus(x, out=None):
    return _out(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))), out)


def softplus_backward(y, dy, out=None):
    return _out(dy * -np.expm1(-y), out)


def softmax(x, out=None):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return _out(e / e.sum(axis=-1, keepdims=True), out)


def softmax_backward(y, dy, out=None):
    return _out(y * (dy - (dy * y).sum(axis=-1, keepdims=True)), out)


def log_softmax(x, out=None):
    z = x - x.max(axis=-1, keepdims=True)
    return _out(z - np.log(np.exp(z).sum(axis=-1, keepdims=True)), out)


def log_softmax_backward(y, dy, out=None):
    return _out(dy - np.exp(y) * dy.sum(axis=-1, keepdims=True), out)


ACTIVATIONS = ["identity", "step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu",
               "silu", "softplus"]
__all__ += ACTIVATIONS + [a + "_backward" for a in ACTIVATIONS]
__all__ += ["softmax", "softmax_backward", "log_softmax", "log_softmax_backward"]

# ---- losses (src_c/loss.c) ----
# Each returns (loss, grad). Elementwise losses: pred/target [n, ...]; loss =
# sum_i w_i sum_j l_ij, divided by n*k for reduction="mean" (k = elements per sample).


def _reduce_elementwise(loss_el, g, pred, sample_weight, reduction, out=None):
    n = pred.shape[0] if pred.ndim else 1
    k = pred.size // n if n else 1
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    wshape = (n,) + (1,) * (pred.ndim - 1)
    scale = 1.0 if reduction == "sum" or n * k == 0 else 1.0 / (n * k)
    loss = float((loss_el.reshape(n, k).astype(np.float64).sum(axis=1) * w).sum() * scale)
    grad = (g * (w.reshape(wshape) * scale).astype(pred.dtype)).astype(pred.dtype)
    return loss, _out(grad, out)


def mse_loss(pred, target, sample_weight=None, reduction="mean", out=None):
    d = pred - target
    return _reduce_elementwise(d * d, 2 * d, pred, sample_weight, reduction, out)


def mae_loss(pred, target, sample_weight=None, reduction="mean", out=None):
    d = pred - target
    return _reduce_elementwise(np.abs(d), np.sign(d), pred, sample_weight, reduction, out)


def huber_loss(pred, target, delta=1.0, sample_weight=None, reduction="mean", out=None):
    d = pred - target
    dl = pred.dtype.type(delta)
    le = np.where(np.abs(d) <= dl, 0.5 * d * d, dl * (np.abs(d) - 0.5 * dl))
    return _reduce_elementwise(le, np.clip(d, -dl, dl), pred, sample_weight, reduction, out)


def binary_cross_entropy(pred, target, sample_weight=None, reduction="mean", out=None):
    eps = pred.dtype.type(1e-7)
    p = np.clip(pred, eps, 1 - eps)
    le = -(target * np.log(p) + (1 - target) * np.log1p(-p))
    g = (p - target) / (p * (1 - p))
    return _reduce_elementwise(le, g, pred, sample_weight, reduction, out)


def binary_cross_entropy_with_logits(logits, target, sample_weight=None, reduction="mean",
                                     out=None):
    z = logits
    le = np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))
    g = _sigmoid(z).astype(z.dtype) - target
    return _reduce_elementwise(le, g, z, sample_weight, reduction, out)


def softmax_cross_entropy(logits, labels, class_weight=None, sample_weight=None,
                          label_smoothing=0.0, reduction="mean", out=None):
    """labels: int [n] or soft targets [n, c]. Per row: a = cw ((1 - s) t + s / c);
    loss = sum_j a_j (lse - z_j); grad = softmax(z) sum(a) - a; weighted by
    sample_weight, mean divides by n."""
    n, c = logits.shape
    z = logits.astype(np.float64)
    if labels.ndim == 1:
        t = np.zeros((n, c))
        t[np.arange(n), labels] = 1.0
    else:
        t = labels.astype(np.float64)
    a = (1 - label_smoothing) * t + label_smoothing / c
    if class_weight is not None:
        a = a * np.asarray(class_weight, np.float64)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    scale = 1.0 if reduction == "sum" else 1.0 / max(n, 1)
    zs = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(zs).sum(axis=1, keepdims=True))
    loss = float(((a * (lse - zs)).sum(axis=1) * w).sum() * scale)
    p = np.exp(zs - lse)
    grad = (p * a.sum(axis=1, keepdims=True) - a) * (w * scale)[:, None]
    return loss, _out(grad.astype(logits.dtype), out)


__all__ += ["mse_loss", "mae_loss", "huber_loss", "binary_cross_entropy",
            "binary_cross_entropy_with_logits", "softmax_cross_entropy"]

# ---- reductions, regularisation, clipping (src_c/reduce.c) ----


def bias_grad(dy, out=None, accumulate=False):
    s = dy.astype(np.float64).sum(axis=0)
    if accumulate and out is not None:
        s = s + out
    return _out(s.astype(dy.dtype), out)


def grad_norm(g):
    return float(np.sqrt(np.sum(g.astype(np.float64) ** 2)))


def l2_penalty(param, lam, grad=None):
    if grad is not None:
        grad += (2 * lam) * param
    return float(lam * np.sum(param.astype(np.float64) ** 2))


def l1_penalty(param, lam, grad=None):
    if grad is not None:
        grad += lam * np.sign(param)
    return float(lam * np.sum(np.abs(param.astype(np.float64))))


def clip_by_value(grad, clip):
    np.clip(grad, -clip, clip, out=grad)
    return grad


def clip_by_norm(grad, max_norm):
    norm = grad_norm(grad)
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0 and np.isfinite(norm):
        grad *= grad.dtype.type(coef)
    return norm


__all__ += ["bias_grad", "grad_norm", "l2_penalty", "l1_penalty", "clip_by_value",
            "clip_by_norm"]

# ---- normalisation (src_c/norm.c) ----


def batch_norm(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
               eps=1e-5, out=None, unbiased=True):
    """Returns (y, mean, invstd); in eval mode (y, None, None). Updates running stats."""
    if not training:
        inv = (1 / np.sqrt(running_var.astype(np.float64) + eps)).astype(x.dtype)
        return _out((x - running_mean) * (inv * gamma) + beta, out), None, None
    n = x.shape[0]
    xd = x.astype(np.float64)
    mu = xd.mean(axis=0)
    var = ((xd - mu) ** 2).mean(axis=0)
    run = var * n / (n - 1) if unbiased and n > 1 else var
    running_mean[...] = (1 - momentum) * running_mean.astype(np.float64) + momentum * mu
    running_var[...] = (1 - momentum) * running_var.astype(np.float64) + momentum * run
    mean = mu.astype(x.dtype)
    invstd = (1 / np.sqrt(var + eps)).astype(x.dtype)
    return _out((x - mean) * (invstd * gamma) + beta, out), mean, invstd


def batch_norm_backward(x, dy, gamma, mean, invstd, out=None):
    """Returns (dx, dgamma, dbeta)."""
    n = x.shape[0]
    xh = (x - mean) * invstd
    dbeta = dy.astype(np.float64).sum(axis=0).astype(x.dtype)
    dgamma = (dy.astype(np.float64) * xh).sum(axis=0).astype(x.dtype)
    dx = (gamma * invstd / x.dtype.type(n)) * (x.dtype.type(n) * dy - dbeta - xh * dgamma)
    return _out(dx, out), dgamma, dbeta


def layer_norm(x, gamma, beta, eps=1e-5, out=None):
    """Returns (y, mean[n], invstd[n])."""
    xd = x.astype(np.float64)
    mu = xd.mean(axis=1)
    var = ((xd - mu[:, None]) ** 2).mean(axis=1)
    mean = mu.astype(x.dtype)
    invstd = (1 / np.sqrt(var + eps)).astype(x.dtype)
    return _out((x - mean[:, None]) * invstd[:, None] * gamma + beta, out), mean, invstd


def layer_norm_backward(x, dy, gamma, mean, invstd, out=None):
    """Returns (dx, dgamma, dbeta)."""
    d = x.shape[1]
    xh = (x - mean[:, None]) * invstd[:, None]
    g = dy.astype(np.float64) * gamma
    sg = g.sum(axis=1, keepdims=True)
    sgx = (g * xh).sum(axis=1, keepdims=True)
    dx = (invstd / x.dtype.type(d))[:, None] * (
        x.dtype.type(d) * dy * gamma - sg.astype(x.dtype) - xh * sgx.astype(x.dtype))
    dgamma = (dy.astype(np.float64) * xh).sum(axis=0).astype(x.dtype)
    dbeta = dy.astype(np.float64).sum(axis=0).astype(x.dtype)
    return _out(dx, out), dgamma, dbeta


__all__ += ["batch_norm", "batch_norm_backward", "layer_norm", "layer_norm_backward"]

# ---- dropout and RNG (src_c/rng.c) ----


def philox4x32_10(ctr, key):
    """Philox4x32-10 (Salmon et al. SC'11) on arrays of counters ctr[..., 4], key[2]."""
    c = [np.asarray(ctr[..., i], np.uint64) for i in range(4)]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    mask = np.uint64(0xFFFFFFFF)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & mask,
             (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & mask]
        k0 = (k0 + np.uint64(0x9E3779B9)) & mask
        k1 = (k1 + np.uint64(0xBB67AE85)) & mask
    return np.stack(c, axis=-1).astype(np.uint32)


def dropout_mask(n, p, seed, step, dtype=np.float32):
    """keep_i / (1 - p) with keep_i = (word_i >> 8) >= floor(p 2^24), word i of stream."""
    b = np.arange((n + 3) // 4, dtype=np.uint64)
    ctr = np.stack([b & np.uint64(0xFFFFFFFF), b >> np.uint64(32),
                    np.full_like(b, step & 0xFFFFFFFF), np.full_like(b, step >> 32)], axis=-1)
    words = philox4x32_10(ctr, (seed & 0xFFFFFFFF, seed >> 32)).reshape(-1)[:n]
    thr = min(int(p * 2**24), 2**24) if p > 0 else 0
    keep = (words >> 8) >= thr
    return np.where(keep, dtype(1.0 / (1.0 - p)) if p < 1 else dtype(0), dtype(0)).astype(dtype)


def dropout(x, p, seed, step=0, training=True, out=None):
    """Returns (y, mask) with y = x * mask; mask is None when not training or p == 0."""
    if not training or p == 0:
        return _out(x.copy(), out), None
    mask = dropout_mask(x.size, p, seed, step, x.dtype.type).reshape(x.shape)
    return _out(x * mask, out), mask


def dropout_backward(mask, dy, out=None):
    return _out(dy * mask, out)


__all__ += ["philox4x32_10", "dropout_mask", "dropout", "dropout_backward"]

# ---- optimizers (src_c/optim.c) ----
# In place on param and state, torch.optim semantics, step counts from 1. Scalars are
# Python floats (double); NumPy keeps the arrays' dtype (NEP 50), like the C kernels.


def sgd_step(param, grad, step, buf=None, lr=0.01, momentum=0.0, dampening=0.0,
             weight_decay=0.0, nesterov=False):
    d = grad + weight_decay * param
    if momentum != 0.0:
        if step <= 1:
            buf[...] = d
        else:
            buf[...] = momentum * buf + (1.0 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    param -= lr * d


def adagrad_step(param, grad, sum, step, lr=0.01, lr_decay=0.0, eps=1e-10,
                 weight_decay=0.0):
    clr = lr / (1.0 + (step - 1) * lr_decay)
    d = grad + weight_decay * param
    sum += d * d
    param -= clr * d / (np.sqrt(sum) + eps)


def rmsprop_step(param, grad, square_avg, step, lr=0.01, alpha=0.99, eps=1e-8,
                 weight_decay=0.0, momentum=0.0, centered=False, buf=None, grad_avg=None):
    d = grad + weight_decay * param
    square_avg[...] = alpha * square_avg + (1.0 - alpha) * d * d
    v = square_avg
    if centered:
        grad_avg[...] = alpha * grad_avg + (1.0 - alpha) * d
        v = square_avg - grad_avg * grad_avg
    r = np.sqrt(v) + eps
    if momentum != 0.0:
        buf[...] = momentum * buf + d / r
        param -= lr * buf
    else:
        param -= lr * d / r


def adam_step(param, grad, m, v, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
              weight_decay=0.0, amsgrad=False, v_max=None, decoupled=False):
    if decoupled:
        param *= 1.0 - lr * weight_decay
        d = grad + 0.0 * param
    else:
        d = grad + weight_decay * param
    m[...] = beta1 * m + (1.0 - beta1) * d
    v[...] = beta2 * v + (1.0 - beta2) * d * d
    bc1 = 1.0 - beta1**step
    bc2 = 1.0 - beta2**step
    if amsgrad:
        np.maximum(v_max, v, out=v_max)
    vv = v_max if amsgrad else v
    param -= (lr / bc1) * m / (np.sqrt(vv) * (1.0 / math.sqrt(bc2)) + eps)


def adamw_step(param, grad, m, v, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
               weight_decay=0.01, amsgrad=False, v_max=None):
    adam_step(param, grad, m, v, step, lr, beta1, beta2, eps, weight_decay, amsgrad, v_max,
              decoupled=True)


__all__ += ["sgd_step", "adagrad_step", "rmsprop_step", "adam_step", "adamw_step"]
