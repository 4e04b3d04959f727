"""fastnn: fast CPU multi-layer perceptrons with C/Cython kernels.

>>> import fastnn as fn
>>> fn.show_config()  # doctest: +SKIP
"""
from fastnn._version import __version__
from fastnn.config import get_isa, get_num_threads, set_num_threads, show_config

__all__ = ["__version__", "get_isa", "get_num_threads", "set_num_threads", "show_config"]
