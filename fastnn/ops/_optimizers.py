"""fastnn.ops: optimizers (see fastnn/ops/__init__.py for the conventions)."""
import numpy as np

from fastnn import _checks as _c
from fastnn import _optim

_OPT_PARAMS = """param : ndarray, any shape, float32 or float64, C-contiguous, writeable
    Updated in place (typically the whole flat parameter arena).
grad : ndarray, shape and dtype of ``param``
"""


def _opt_arrays(param, grad, **state):
    if not isinstance(param, np.ndarray):
        raise TypeError(f"param must be a numpy.ndarray, got {type(param).__name__}")
    _c.array("param", param)
    p = _c.inout("param", param, param.dtype, param.shape).reshape(-1)
    g = _c.same_shape("grad", _c.array("grad", grad, param.dtype), param.shape).reshape(-1)
    st = {k: (None if v is None else _c.inout(k, v, param.dtype, param.shape).reshape(-1))
          for k, v in state.items()}
    return p, g, st


def _hyper(lr, eps=None, weight_decay=0.0):
    _c.number("lr", lr, lo=0.0)
    if eps is not None:
        _c.number("eps", eps, lo=0.0)
    _c.number("weight_decay", weight_decay, lo=0.0)


def sgd_step(param, grad, step, buf=None, lr=0.01, momentum=0.0, dampening=0.0,
             weight_decay=0.0, nesterov=False):
    """SGD step in place, torch.optim.SGD semantics (plain, momentum, Nesterov).

    ``d = grad + weight_decay param``; with momentum ``buf = d`` at step 1, then
    ``buf = momentum buf + (1 - dampening) d``; ``d = d + momentum buf`` (Nesterov) or
    ``buf``; ``param -= lr d``.

    Parameters
    ----------
    {params}step : int >= 1
    buf : ndarray, shape of ``param``, required when momentum != 0
    lr, momentum, dampening, weight_decay : float >= 0
    nesterov : bool
    """
    step = _c.integer("step", step, 1)
    _hyper(lr, None, weight_decay)
    _c.number("momentum", momentum, lo=0.0)
    _c.number("dampening", dampening, 0.0, 1.0)
    if nesterov and (momentum == 0 or dampening != 0):
        raise ValueError("nesterov=True needs momentum > 0 and dampening == 0, got "
                         f"momentum={momentum}, dampening={dampening}")
    p, g, st = _opt_arrays(param, grad, buf=buf)
    _optim.sgd_step(p, g, st["buf"], step, lr, momentum, dampening, weight_decay,
                    bool(nesterov))


def adagrad_step(param, grad, sum, step, lr=0.01, lr_decay=0.0, eps=1e-10, weight_decay=0.0):
    """Adagrad step in place (Duchi et al. 2011; torch.optim.Adagrad semantics).

    ``sum += d^2; param -= lr / (1 + (step - 1) lr_decay) * d / (sqrt(sum) + eps)``.

    Parameters
    ----------
    {params}sum : ndarray, shape of ``param``, accumulated squares (state)
    step : int >= 1
    lr, lr_decay, eps, weight_decay : float >= 0
    """
    step = _c.integer("step", step, 1)
    _hyper(lr, eps, weight_decay)
    _c.number("lr_decay", lr_decay, lo=0.0)
    p, g, st = _opt_arrays(param, grad, sum=sum)
    _optim.adagrad_step(p, g, st["sum"], step, lr, lr_decay, eps, weight_decay)


def rmsprop_step(param, grad, square_avg, step, lr=0.01, alpha=0.99, eps=1e-8,
                 weight_decay=0.0, momentum=0.0, centered=False, buf=None, grad_avg=None):
    """RMSProp step in place (torch.optim.RMSprop semantics; centred per Graves 2013).

    Parameters
    ----------
    {params}square_avg : ndarray, shape of ``param`` (state)
    step : int >= 1
    lr, eps, weight_decay, momentum : float >= 0
    alpha : float in [0, 1]
    centered : bool; needs ``grad_avg`` (state, shape of ``param``)
    buf : ndarray, shape of ``param``, required when momentum != 0
    """
    step = _c.integer("step", step, 1)
    _hyper(lr, eps, weight_decay)
    _c.number("alpha", alpha, 0.0, 1.0)
    _c.number("momentum", momentum, lo=0.0)
    p, g, st = _opt_arrays(param, grad, square_avg=square_avg, buf=buf, grad_avg=grad_avg)
    _optim.rmsprop_step(p, g, st["square_avg"], st["buf"], st["grad_avg"], step, lr, alpha,
                        eps, weight_decay, momentum, bool(centered))


def _adam(param, grad, m, v, step, lr, beta1, beta2, eps, weight_decay, amsgrad, v_max,
          decoupled):
    step = _c.integer("step", step, 1)
    _hyper(lr, eps, weight_decay)
    _c.number("beta1", beta1, 0.0, 1.0, hi_open=True)
    _c.number("beta2", beta2, 0.0, 1.0, hi_open=True)
    p, g, st = _opt_arrays(param, grad, m=m, v=v, v_max=v_max)
    _optim.adam_step(p, g, st["m"], st["v"], st["v_max"], step, lr, beta1, beta2, eps,
                     weight_decay, decoupled, bool(amsgrad))


def adam_step(param, grad, m, v, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
              weight_decay=0.0, amsgrad=False, v_max=None):
    """Adam step in place (Kingma & Ba 2015), L2 weight decay added to the gradient.

    ``m = b1 m + (1-b1) d; v = b2 v + (1-b2) d^2;
    param -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``, bias corrections
    in double; AMSGrad uses ``v_max = max(v_max, v)`` in place of v.

    Parameters
    ----------
    {params}m, v : ndarray, shape of ``param`` (state, start at 0)
    step : int >= 1 (t)
    lr, eps, weight_decay : float >= 0
    beta1, beta2 : float in [0, 1)
    amsgrad : bool; needs ``v_max`` (state, shape of ``param``)
    """
    _adam(param, grad, m, v, step, lr, beta1, beta2, eps, weight_decay, amsgrad, v_max, False)


def adamw_step(param, grad, m, v, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
               weight_decay=0.01, amsgrad=False, v_max=None):
    """AdamW step in place (Loshchilov & Hutter 2019): decoupled ``param *= 1 - lr wd``
    before the Adam update. Parameters as :func:`adam_step`.

    Parameters
    ----------
    {params}m, v : ndarray, shape of ``param`` (state)
    step : int >= 1
    """
    _adam(param, grad, m, v, step, lr, beta1, beta2, eps, weight_decay, amsgrad, v_max, True)


for _f in (sgd_step, adagrad_step, rmsprop_step, adam_step, adamw_step):
    _f.__doc__ = _f.__doc__.replace("{params}", _OPT_PARAMS)
__all__ = ["sgd_step", "adagrad_step", "rmsprop_step", "adam_step", "adamw_step"]
