"""fastnn.ops: GEMM (see fastnn/ops/__init__.py for the conventions).

``matmul`` is the Cython function itself: every check, the NaN/inf one included, runs
in compiled code, because on batch-1 products a Python wrapper costs a tenth of the
GEMM (1x784x512: ~2 us of ~20 us).
"""
from fastnn._gemm import matmul

__all__ = ["matmul"]
