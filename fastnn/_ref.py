"""NumPy reference twins of every C kernel: the specification the kernels are tested against.

Each function has the same name and signature as its public ``fastnn.ops`` counterpart
and is written for clarity, not speed. Tests compare every kernel with its twin here.
"""
import numpy as np

__all__ = []

# ---- GEMM (src_c/gemm*.c, fastnn/_gemm.pyx) ----

# ---- activations (src_c/act.c) ----

# ---- losses (src_c/loss.c) ----

# ---- reductions, regularisation, clipping (src_c/reduce.c) ----

# ---- normalisation (src_c/norm.c) ----

# ---- dropout and RNG (src_c/rng.c) ----

# ---- optimizers (src_c/optim.c) ----
