"""Functional access to fastnn's kernels on NumPy arrays, for users who write their own loops.

Every function validates its arguments (shape, dtype, contiguity, values) and raises
``ValueError``/``TypeError`` naming the bad argument before any C code runs. NaN or inf
in an input array is an error too, unless the call runs inside ``allow_nonfinite()``,
where they propagate as in NumPy.
Each has a NumPy twin of the same name in ``fastnn._ref`` that defines its maths.

Conventions of every function (fastnn/_checks.py): float32/float64 only, all arrays of
one call share a dtype (TypeError otherwise); non-C-contiguous inputs are copied;
``out=`` arrays and optimizer state are written in place, so they must be C-contiguous
and writeable (ValueError otherwise). NaN/inf in data never crash.

One module per kernel family: _linalg (GEMM), _activations, _losses, _reductions
(reductions, regularisation, clipping), _normalization, _dropout, _optimizers.
"""
from fastnn._checks import allow_nonfinite
from fastnn.ops import (
    _activations,
    _dropout,
    _linalg,
    _losses,
    _normalization,
    _optimizers,
    _reductions,
)
from fastnn.ops._activations import *  # noqa: F401,F403
from fastnn.ops._activations import ACTIVATION_IDS  # noqa: F401
from fastnn.ops._dropout import *  # noqa: F401,F403
from fastnn.ops._linalg import *  # noqa: F401,F403
from fastnn.ops._losses import *  # noqa: F401,F403
from fastnn.ops._normalization import *  # noqa: F401,F403
from fastnn.ops._optimizers import *  # noqa: F401,F403
from fastnn.ops._reductions import *  # noqa: F401,F403

__all__ = ["allow_nonfinite"]
for _m in (_linalg, _activations, _losses, _reductions, _normalization, _dropout, _optimizers):
    __all__ += _m.__all__
del _m
