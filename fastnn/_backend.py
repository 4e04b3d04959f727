"""The maths a layer, loss or optimizer asks for, behind one interface with two
implementations: the C kernels (``fastnn.ops``) and their NumPy twins (``fastnn._ref``).

Layers call ``self._be.<op>``; a model built with ``backend="numpy"`` runs every step
through the reference twins, which is how tests check the C path end to end.
"""

from fastnn import activations as A
from fastnn._checks import allow_nonfinite

__all__ = ["Backend", "default_backend", "get_backend"]

_LOSS_ARGS = {"mse": (), "mae": (), "huber": ("delta",)}


class _OptIn:
    """Calls into ``fastnn.ops`` with NaN/inf allowed: the model validated its data at the
    entry point, and a diverging loss must come back as NaN, not as an exception."""

    def __init__(self, mod):
        self._mod = mod

    def __getattr__(self, name):
        fn = getattr(self._mod, name)

        def call(*args, **kwargs):
            with allow_nonfinite():
                return fn(*args, **kwargs)
        return call


class Backend:
    """Layer-level operations over a kernel module (``fastnn.ops`` or ``fastnn._ref``)."""

    def __init__(self, mod, name):
        self.m, self.name = _OptIn(mod), name

    def __repr__(self):
        return f"Backend({self.name!r})"

    def __reduce__(self):
        return get_backend, (self.name,)   # stateless: copies and pickles share the one

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
        if act in A.DEFAULT_PARAM:
            return getattr(self.m, act)(x, alpha=param)
        return getattr(self.m, act)(x)

    def act_backward(self, act, param, x, y, dy):
        """dx = dy · act'(·), from the output y, or from the input x for gelu/silu."""
        if act == "identity":
            return dy
        src = x if act in A.NEEDS_INPUT else y
        if act in A.DEFAULT_PARAM:
            return getattr(self.m, act + "_backward")(src, dy, alpha=param)
        return getattr(self.m, act + "_backward")(src, dy)

    # -- regularisation, dropout, normalisation ------------------------------------------
    def add_penalty_grad(self, p, g, l1, l2):
        """g += l1·sign(p) + 2·l2·p (in place)"""
        if l1:
            self.m.l1_penalty(p, l1, grad=g)
        if l2:
            self.m.l2_penalty(p, l2, grad=g)

    def dropout(self, x, rate, seed, step):
        """``(y, mask)`` with mask ∈ {0, 1/(1-rate)} from Philox keyed by (seed, step, i)."""
        return self.m.dropout(x, rate, seed, step=step)

    def batch_norm(self, x, gamma, beta, running_mean, running_var, momentum, eps, training,
                   unbiased=True):
        """``(y, cache)``; ``momentum`` in the Keras sense (weight of the old running value)."""
        y, mean, invstd = self.m.batch_norm(x, gamma, beta, running_mean, running_var,
                                            training=training, momentum=1.0 - momentum, eps=eps,
                                            unbiased=unbiased)
        return y, (x, mean, invstd, gamma)

    def batch_norm_backward(self, dy, cache, dgamma, dbeta):
        x, mean, invstd, gamma = cache
        dx, dg, db = self.m.batch_norm_backward(x, dy, gamma, mean, invstd)
        dgamma[...], dbeta[...] = dg, db
        return dx

    def layer_norm(self, x, gamma, beta, eps):
        y, mean, invstd = self.m.layer_norm(x, gamma, beta, eps=eps)
        return y, (x, mean, invstd, gamma)

    def layer_norm_backward(self, dy, cache, dgamma, dbeta):
        x, mean, invstd, gamma = cache
        dx, dg, db = self.m.layer_norm_backward(x, dy, gamma, mean, invstd)
        dgamma[...], dbeta[...] = dg, db
        return dx

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
            return self.m.sigmoid(x)
        return x

    # -- optimizers and clipping -----------------------------------------------------
    def clip_value(self, g, c):
        self.m.clip_by_value(g, c)

    def clip_norm(self, g, c):
        return self.m.clip_by_norm(g, c)

    def sgd_step(self, p, g, buf, t, lr, momentum, dampening, wd, nesterov):
        self.m.sgd_step(p, g, t, buf=buf, lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=wd, nesterov=nesterov)

    def adagrad_step(self, p, g, s, t, lr, lr_decay, eps, wd):
        self.m.adagrad_step(p, g, s, t, lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=wd)

    def rmsprop_step(self, p, g, sq, buf, gavg, t, lr, rho, eps, wd, momentum, centered):
        self.m.rmsprop_step(p, g, sq, t, lr=lr, alpha=rho, eps=eps, weight_decay=wd,
                            momentum=momentum, centered=centered, buf=buf, grad_avg=gavg)

    def adam_step(self, p, g, m, v, vmax, t, lr, b1, b2, eps, wd, decoupled, amsgrad):
        fn = self.m.adamw_step if decoupled else self.m.adam_step
        fn(p, g, m, v, t, lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd,
           amsgrad=amsgrad, v_max=vmax)


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
