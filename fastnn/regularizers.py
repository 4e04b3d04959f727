"""Weight penalties: L1, L2 and both. ``penalty(w)`` is added to the loss and
``grad(w)`` to the weight gradient (in the arena, by a C kernel in training)."""
import math

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get"]


class Regularizer:
    """``l1 * sum(|w|) + l2 * sum(w²)``; gradient ``l1 * sign(w) + 2 * l2 * w``."""

    def __init__(self, l1=0.0, l2=0.0):
        for name, v in (("l1", l1), ("l2", l2)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v < 0:
                raise ValueError(f"{name} must be a finite number >= 0. Received: {name}={v!r}")
        self.l1, self.l2 = float(l1), float(l2)

    def penalty(self, w):
        import numpy as np
        return self.l1 * float(np.sum(np.abs(w))) + self.l2 * float(np.sum(np.square(w)))

    def grad(self, w):
        import numpy as np
        return self.l1 * np.sign(w) + 2.0 * self.l2 * w

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return f"{type(self).__name__}(l1={self.l1:g}, l2={self.l2:g})"


class L1(Regularizer):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)


class L2(Regularizer):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        super().__init__(l1=l1, l2=l2)


def get(spec):
    """A regularizer from None, a name ('l1', 'l2', 'l1_l2'), a dict or a Regularizer."""
    if spec is None or isinstance(spec, Regularizer):
        return spec
    if isinstance(spec, dict):
        return Regularizer(**spec)
    if isinstance(spec, str) and spec.lower() in ("l1", "l2", "l1_l2", "l1l2"):
        return {"l1": L1, "l2": L2}.get(spec.lower(), lambda: L1L2(0.01, 0.01))()
    raise ValueError(f"unknown regularizer {spec!r}; expected None, 'l1', 'l2', 'l1_l2', "
                     "a dict or fastnn.regularizers.Regularizer")
