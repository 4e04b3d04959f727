"""Functional access to fastnn's kernels on NumPy arrays, for users who write their own loops.

Every function validates its arguments (shape, dtype, contiguity, values) and raises
``ValueError``/``TypeError`` naming the bad argument before any C code runs.
Each has a NumPy twin of the same name in ``fastnn._ref`` that defines its maths.
"""

__all__ = []

# ---- GEMM ----

# ---- activations ----

# ---- losses ----

# ---- reductions, regularisation, clipping ----

# ---- normalisation ----

# ---- dropout ----

# ---- optimizers ----
