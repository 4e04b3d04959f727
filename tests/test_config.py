"""Build configuration: ISA dispatch, threads, threadpoolctl, show_config."""
import io
import os
import subprocess
import sys

import pytest
from conftest import child_kwargs

import fastnn
from fastnn import _core

EXPECTED_WIDTH = {"generic": 0, "avx2": 256, "avx512": 512}


def run_py(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, **child_kwargs(**env))


def test_default_isa_is_best_supported():
    assert fastnn.get_isa() in _core.supported_isas()
    if "FASTNN_ISA" not in os.environ:
        assert fastnn.get_isa() == _core.supported_isas()[-1]


def test_generic_always_compiled_and_supported():
    assert _core.compiled_isas()[0] == "generic"
    assert _core.supported_isas()[0] == "generic"


def test_each_isa_runs_code_compiled_for_it(isa):
    # The probe executes instructions of that width: wrong flags would not build or
    # would fault; a wrong table would report another width.
    assert fastnn.get_isa() == isa
    assert _core.isa_probe() == EXPECTED_WIDTH[isa]


@pytest.mark.parametrize("name", ["generic", "avx2", "avx512"])
def test_env_var_forces_isa(name):
    r = run_py("import fastnn; print(fastnn.get_isa())", FASTNN_ISA=name)
    if name in _core.supported_isas():
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == name
    else:
        assert r.returncode != 0
        assert "FASTNN_ISA" in r.stderr and name in r.stderr


def test_env_var_rejects_unknown_isa_clearly():
    r = run_py("import fastnn", FASTNN_ISA="sse9")
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "'sse9'" in r.stderr
    assert "generic, avx2, avx512" in r.stderr
    assert "Segmentation" not in r.stderr


def test_set_isa_rejects_unknown():
    with pytest.raises(ValueError, match="unknown ISA 'neon'"):
        _core.set_isa("neon")


def test_set_num_threads_roundtrip(threads):
    threads(1)
    assert fastnn.get_num_threads() == 1
    threads(3)
    assert fastnn.get_num_threads() == 3


@pytest.mark.parametrize("bad", [0, -2, 1025, 2**31 - 1])
def test_set_num_threads_rejects_nonpositive_and_absurd(bad):
    """2**31 - 1 threads would each get packing buffers (MemoryError), or make OpenMP
    abort the process when it cannot start them."""
    before = fastnn.get_num_threads()
    with pytest.raises(ValueError, match=f"1 <= n <= 1024, got n={bad}"):
        fastnn.set_num_threads(bad)
    assert fastnn.get_num_threads() == before


@pytest.mark.parametrize("bad", [1.5, "2", None, True])
def test_set_num_threads_rejects_non_integers(bad):
    with pytest.raises(TypeError, match="integer"):
        fastnn.set_num_threads(bad)


def test_omp_num_threads_is_the_default():
    r = run_py("import fastnn; print(fastnn.get_num_threads())", OMP_NUM_THREADS="3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3"


def test_default_threads_are_usable_cores():
    kw = child_kwargs()
    kw["env"].pop("OMP_NUM_THREADS", None)
    r = subprocess.run([sys.executable, "-c", "import fastnn; print(fastnn.get_num_threads())"],
                       capture_output=True, text=True, timeout=120, **kw)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == len(os.sched_getaffinity(0))


def test_threadpoolctl_sees_and_limits_fastnn(threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not _core.openmp_version():
        pytest.skip("built without OpenMP")
    threads(2)
    info = threadpoolctl.threadpool_info()
    omp = [d for d in info if d["user_api"] == "openmp"]
    assert omp, info
    assert any("gomp" in d["filepath"] or "omp" in d["prefix"] for d in omp)
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fastnn.get_num_threads() == 1
    assert fastnn.get_num_threads() == 2


def test_show_config_reports_everything():
    buf = io.StringIO()
    fastnn.show_config(file=buf)
    text = buf.getvalue()
    assert f"fastnn {fastnn.__version__}" in text
    assert f"isa: {fastnn.get_isa()}" in text
    assert "openmp:" in text and "threads:" in text
