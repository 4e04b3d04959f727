"""The maths a layer, loss or optimizer asks for, behind one interface with two
implementations: the C kernels (``fastnn.ops``) and their NumPy twins (``fastnn._ref``).

Layers call ``self._be.<op>``; a model built with ``backend="numpy"`` runs every step
through the reference twins, which is how tests check the C path end to end.
"""
import numpy as np

from fastnn import activations as A

__all__ = ["Backend", "default_backend", "get_backend"]

_LOSS_ARGS = {"mse": (), "mae": (), "huber": ("delta",)}


class Backend:
    """Layer-level operations over a kernel module (``fastnn.ops`` or ``fastnn._ref``)."""

    def __init__(self, mod, name):
        self.m, self.name = mod, name

    def __repr__(self):
        return f"Backend({self.name!r})"

    # -- dense ------------------------------------------------------------------
    def matmul(self, a, b, trans_a=False, trans_b=False, bias=None, activation=None, out=None,
               beta=0.0):
        return self.m.matmul(a, b, trans_a=trans_a, trans_b=trans_b, bias=bias,
                             activation=activation, out=out, beta=beta)

    def dense_forward(self, x, W, b, act, param):
        """``(z, y)``: z is the pre-activation when the derivative needs it, else None."""
        if act in A.GEMM_FUSABLE:
            spec = (act, param) if act == "leaky_relu" else act
            return None, self.matmul(x, W, bias=b, activation=spec)
        z = self.matmul(x, W, bias=b)
        return z, self.act_forward(act, param, z)

    def dense_backward_params(self, x, dz, dW, db):
        """dW := xᵀ·dz, db := Σ_rows dz"""
        self.matmul(x, dz, trans_a=True, out=dW)
        if db is not None:
            self.m.bias_grad(dz, out=db)

    # -- activations ------------------------------------------------------------
    def act_forward(self, act, param, x):
        if act == "softmax":
            return self.m.softmax(x)
        if act == "log_softmax":
            return self.m.log_softmax(x)
        return self.m.activation(x, act, param)

    def act_backward(self, act, param, x, y, dy):
        if act == "identity":
            return dy
        if act == "softmax":
            return self.m.softmax_backward(y, dy)
        if act == "log_softmax":
            return self.m.log_softmax_backward(y, dy)
        return self.m.activation_backward(act, dy, y=y, x=x, alpha=param)

    # -- regularisation, dropout, normalisation ------------------------------------------
    def add_penalty_grad(self, p, g, l1, l2):
        """g += l1·sign(p) + 2·l2·p (in place)"""
        if l1:
            self.m.l1_penalty(p, g, l1)
        if l2:
            self.m.l2_penalty(p, g, l2)

    def dropout(self, x, rate, seed, step):
        """``(y, mask)`` with mask ∈ {0, 1/(1-rate)} from Philox keyed by (seed, step, i)."""
        return self.m.dropout(x, rate, seed=seed, step=step, return_mask=True)

    def batch_norm(self, x, gamma, beta, running_mean, running_var, momentum, eps, training):
        return self.m.batch_norm(x, gamma, beta, running_mean, running_var,
                                 momentum=momentum, eps=eps, training=training)

    def batch_norm_backward(self, dy, cache, dgamma, dbeta):
        return self.m.batch_norm_backward(dy, cache, dgamma=dgamma, dbeta=dbeta)

    def layer_norm(self, x, gamma, beta, eps):
        return self.m.layer_norm(x, gamma, beta, eps=eps)

    def layer_norm_backward(self, dy, cache, dgamma, dbeta):
        return self.m.layer_norm_backward(dy, cache, dgamma=dgamma, dbeta=dbeta)

    # -- losses -----------------------------------------------------------------
    def loss(self, loss, y_pred, y_true, sample_weight=None):
        """``(value, grad)`` of ``loss`` (a fastnn.losses.Loss) at ``y_pred``."""
        red, sw = loss.reduction, sample_weight
        if loss.name == "softmax_cross_entropy":
            return self.m.softmax_cross_entropy(y_pred, y_true, sample_weight=sw,
                                                label_smoothing=loss.label_smoothing,
                                                reduction=red)
        if loss.name == "binary_cross_entropy":
            fn = self.m.binary_cross_entropy_with_logits if loss.from_logits \
                else self.m.binary_cross_entropy
            return fn(y_pred, y_true, sample_weight=sw, reduction=red)
        extra = {k: getattr(loss, k) for k in _LOSS_ARGS[loss.name]}
        return getattr(self.m, f"{loss.name}_loss")(y_pred, y_true, sample_weight=sw,
                                                    reduction=red, **extra)

    def output(self, act, x):
        """What ``predict`` returns: the loss's output activation applied to the last layer."""
        if act == "softmax":
            return self.m.softmax(x)
        if act == "sigmoid":
            return self.m.activation(x, "sigmoid", 0.0)
        return x

    # -- optimizers and clipping -----------------------------------------------------
    def clip_value(self, g, c):
        self.m.clip_by_value(g, c)

    def clip_norm(self, g, c):
        return self.m.clip_by_norm(g, c)

    def sgd_step(self, p, g, buf, t, lr, momentum, dampening, wd, nesterov):
        self.m.sgd_step(p, g, buf, t, lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=wd, nesterov=nesterov)

    def adagrad_step(self, p, g, s, t, lr, lr_decay, eps, wd):
        self.m.adagrad_step(p, g, s, t, lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=wd)

    def rmsprop_step(self, p, g, sq, buf, gavg, t, lr, rho, eps, wd, momentum, centered):
        self.m.rmsprop_step(p, g, sq, buf, gavg, t, lr=lr, alpha=rho, eps=eps, weight_decay=wd,
                            momentum=momentum, centered=centered)

    def adam_step(self, p, g, m, v, vmax, t, lr, b1, b2, eps, wd, decoupled, amsgrad):
        fn = self.m.adamw_step if decoupled else self.m.adam_step
        fn(p, g, m, v, t, lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd,
           amsgrad=amsgrad, vmax=vmax)


_BACKENDS = {}


def get_backend(name):
    """``"c"`` (the kernels, default) or ``"numpy"`` (the reference twins)."""
    if name not in _BACKENDS:
        if name == "c":
            from fastnn import ops as mod
        elif name == "numpy":
            from fastnn import _ref as mod
        else:
            raise ValueError(f"unknown backend {name!r}; expected 'c' or 'numpy'")
        _BACKENDS[name] = Backend(mod, name)
    return _BACKENDS[name]


def default_backend():
    return get_backend("c")


def as_array(x, dtype):
    return np.ascontiguousarray(x, dtype=dtype)
