import numpy as np
import pytest

import fastnn
from fastnn import _core


def pytest_report_header(config):
    return f"fastnn isa={fastnn.get_isa()} threads={fastnn.get_num_threads()}"


@pytest.fixture(params=_core.supported_isas())
def isa(request):
    """Run a test once per SIMD path this CPU supports, then restore the default."""
    before = _core.get_isa()
    _core.set_isa(request.param)
    yield request.param
    _core.set_isa(before)


@pytest.fixture
def threads():
    """Set a thread count for one test and restore the previous one after it."""
    before = fastnn.get_num_threads()
    yield fastnn.set_num_threads
    fastnn.set_num_threads(before)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


KERNEL_TEST_FILES = {"test_config.py", "test_gemm.py", "test_act.py", "test_loss.py",
                     "test_reduce.py", "test_norm.py", "test_dropout.py", "test_optim.py",
                     "test_sparse_input.py"}


def pytest_collection_modifyitems(config, items):
    # .ci/run reruns these once per SIMD path (FASTNN_ISA=...)
    for item in items:
        if item.path.name in KERNEL_TEST_FILES:
            item.add_marker(pytest.mark.kernels)


def child_env(**overrides):
    """Environment for a child Python that imports the same fastnn as this process
    (an in-place build or the installed package), never the source tree by accident."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
    env = dict(os.environ, PYTHONPATH=root, **overrides)
    return env


def child_kwargs(**env_overrides):
    """``subprocess`` keyword arguments: neutral working directory plus ``child_env``."""
    import tempfile
    return {"cwd": tempfile.gettempdir(), "env": child_env(**env_overrides)}


def unaligned(x):
    """A C-contiguous copy of x one byte off its element alignment (a view of a byte
    buffer): the kernels must never load from it directly."""
    buf = np.empty(x.nbytes + 1, np.uint8)
    out = np.frombuffer(buf[1:].data, x.dtype).reshape(x.shape)
    out[...] = x
    assert not out.flags.aligned
    return out
