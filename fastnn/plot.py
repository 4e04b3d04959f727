"""Pictures (needs the ``plot`` extra: ``pip install "fastnn[plot]"``): learning curves,
decision boundaries of 2-D classifiers, and the activation functions with their
derivatives. Each function returns the matplotlib Figure and, given ``path``, saves a PNG.
"""
import numpy as np

__all__ = ["history", "decision_boundary", "activations"]


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise ImportError('fastnn.plot needs matplotlib: pip install "fastnn[plot]"') from None
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            import matplotlib.pyplot as plt
        except Exception:  # no display: fall back to files only
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig


def history(hist, path=None, title=None):
    """Loss and every metric per epoch, training beside validation.

    Parameters
    ----------
    hist : fastnn.callbacks.History or dict
        What ``fit`` returns (or its ``.history`` dict).
    path : str, optional
        Save a PNG there.
    """
    plt = _plt()
    h = getattr(hist, "history", hist)
    keys = [k for k in h if not k.startswith("val_")]
    if not keys:
        raise ValueError("history is empty: nothing to plot")
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.5), squeeze=False)
    for ax, k in zip(axes[0], keys):
        epochs = np.arange(1, len(h[k]) + 1)
        ax.plot(epochs, h[k], "o-", label=f"train {k}")
        if "val_" + k in h:
            ax.plot(epochs, h["val_" + k], "s--", label=f"validation {k}")
        ax.set_xlabel("epoch")
        ax.set_title(k)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def decision_boundary(model, X, y, path=None, title=None, resolution=300, ax=None):
    """Colour the plane by the class ``model`` predicts, with the samples on top.

    Works for anything with ``predict`` on ``[n, 2]`` inputs: a ``Sequential`` (class =
    arg-max of its outputs, or output > 0.5 for one output) or a ``Perceptron``/``Adaline``.
    """
    plt = _plt()
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary needs 2-D inputs [n, 2]; got shape {X.shape}")
    pad = 0.25 * (X.max(0) - X.min(0)) + 0.1
    lo, hi = X.min(0) - pad, X.max(0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.c_[gx.ravel(), gy.ravel()]
    dtype = getattr(model, "dtype", np.float64)
    out = np.asarray(model.predict(grid.astype(dtype)))
    if out.ndim == 2 and out.shape[1] > 1:
        cls = out.argmax(1)
    elif out.ndim == 2 or np.issubdtype(out.dtype, np.floating) and hasattr(model, "layers"):
        cls = (out.reshape(-1) > 0.5).astype(int)
    else:
        classes = getattr(model, "classes_", np.unique(y))
        cls = np.searchsorted(classes, out)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4.5))
    else:
        fig = ax.figure
    ax.contourf(gx, gy, cls.reshape(gx.shape), alpha=0.3, cmap="coolwarm",
                levels=np.arange(cls.max() + 2) - 0.5)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", edgecolors="k", s=40)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_title(title or repr(model)[:60])
    return _save(fig, path)


def activations(path=None, names=("step", "sigmoid", "tanh", "relu", "leaky_relu", "elu",
                                  "gelu", "silu", "softplus")):
    """Each activation (computed by fastnn's kernels) and its derivative on [-4, 4]."""
    from fastnn import activations as A
    from fastnn._backend import default_backend
    plt = _plt()
    be = default_backend()
    x = np.linspace(-4, 4, 801)
    cols = 3
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        act, param = A.parse(name)
        y = be.act_forward(act, param, x)
        dy = be.act_backward(act, param, x, y, np.ones_like(x))
        ax.plot(x, y, label=f"{name}(x)")
        ax.plot(x, dy, "--", label=f"{name}'(x)")
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_title(name)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)
