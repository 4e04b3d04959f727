"""Build fastnn: plain C99 kernels in src_c/ plus Cython wrappers in fastnn/_*.pyx.

Every C file is compiled once into an object that each extension links. Files named
``*_avx2.c`` / ``*_avx512.c`` get their instruction-set flags; everything else stays
baseline for the target (never ``-march=native``: the wheel must run on any x86-64).
The kernel table in ``src_c/cpu.c`` picks the path at import time.

Environment knobs (all optional):
  FASTNN_NO_OPENMP=1      build without OpenMP (sequential kernels)
  FASTNN_OPENMP_PREFIX    prefix of an external libomp (macOS/Homebrew)
  FASTNN_SANITIZE=...     e.g. "address,undefined": sanitizer build for testing
  FASTNN_DEBUG=1          -O0 -g build
"""

import os
import platform
import shutil
import sys
import tempfile
import warnings
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_C = "src_c"
X86 = platform.machine().lower() in ("x86_64", "amd64", "x64", "i386", "i686", "x86")

ISA_FLAGS = {
    "unix": {
        "avx2": ["-mavx2", "-mfma"],
        "avx512": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma",
                   "-mprefer-vector-width=512"],
    },
    "msvc": {"avx2": ["/arch:AVX2"], "avx512": ["/arch:AVX512"]},
}


def _isa_of(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    for isa in ("avx512", "avx2"):
        if stem.endswith("_" + isa):
            return isa
    return None


def c_sources():
    files = sorted(glob(os.path.join(SRC_C, "*.c")))
    if not X86:
        files = [f for f in files if _isa_of(f) is None]
    return files


class BuildExt(build_ext):
    """Compile src_c/*.c with per-file ISA flags, then the Cython extensions."""

    def _ctype(self):
        return "msvc" if self.compiler.compiler_type == "msvc" else "unix"

    def _try_compile(self, code, cflags, ldflags):
        tmp = tempfile.mkdtemp()
        try:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write(code)
            objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
            self.compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=ldflags)
            return True
        except Exception:
            return False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _openmp_flags(self):
        if os.environ.get("FASTNN_NO_OPENMP"):
            return [], []
        code = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
        if self._ctype() == "msvc":
            candidates = [(["/openmp"], [])]
        elif sys.platform == "darwin":
            prefix = os.environ.get("FASTNN_OPENMP_PREFIX", "/opt/homebrew/opt/libomp")
            candidates = [
                (["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"],
                 [f"-L{prefix}/lib", "-lomp"]),
                (["-fopenmp"], ["-fopenmp"]),
            ]
        else:
            candidates = [(["-fopenmp"], ["-fopenmp"])]
        for cflags, ldflags in candidates:
            if self._try_compile(code, cflags, ldflags):
                return cflags, ldflags
        warnings.warn("fastnn: OpenMP not found; building sequential kernels (1 thread).",
                      stacklevel=1)
        return [], []

    def _base_flags(self):
        if self._ctype() == "msvc":
            return ["/O2", "/fp:precise"], []
        if os.environ.get("FASTNN_DEBUG"):
            cflags = ["-O0", "-g"]
        else:
            cflags = ["-O3"]
        cflags += ["-fno-math-errno", "-fvisibility=hidden", "-Wall", "-Wno-unused-function"]
        ldflags = []
        san = os.environ.get("FASTNN_SANITIZE")
        if san:
            cflags += [f"-fsanitize={san}", "-fno-omit-frame-pointer", "-g",
                       "-fno-sanitize-recover=undefined"]
            ldflags += [f"-fsanitize={san}"]
        return cflags, ldflags

    def build_extensions(self):
        omp_c, omp_l = self._openmp_flags()
        base_c, base_l = self._base_flags()
        ctype = self._ctype()
        c_std = [] if ctype == "msvc" else ["-std=c99"]
        defines = [("FNN_X86", "1")] if X86 else []
        if omp_c:
            defines.append(("FNN_OPENMP", "1"))
        objects = []
        groups = {}
        for src in c_sources():
            groups.setdefault(_isa_of(src), []).append(src)
        obj_dir = os.path.join(self.build_temp, "src_c")
        for isa, srcs in sorted(groups.items(), key=lambda kv: str(kv[0])):
            flags = base_c + omp_c + c_std + (ISA_FLAGS[ctype][isa] if isa else [])
            objects += self.compiler.compile(
                srcs, output_dir=obj_dir, macros=defines, include_dirs=[SRC_C],
                extra_postargs=flags, depends=glob(os.path.join(SRC_C, "*.h")),
            )
        for ext in self.extensions:
            for src in ext.sources:  # object folders, in case distutils' mkpath cache is stale
                os.makedirs(os.path.join(self.build_temp, os.path.dirname(src)), exist_ok=True)
            ext.extra_objects = list(objects)
            ext.extra_compile_args = base_c + omp_c + ext.extra_compile_args
            ext.extra_link_args = base_l + omp_l + ext.extra_link_args
            ext.define_macros = list(ext.define_macros) + defines
            ext.depends = list(ext.depends) + objects
        super().build_extensions()


def extensions():
    exts = []
    for pyx in sorted(glob(os.path.join("fastnn", "_*.pyx"))):
        name = "fastnn." + os.path.splitext(os.path.basename(pyx))[0]
        exts.append(Extension(
            name, [pyx],
            include_dirs=[numpy.get_include(), SRC_C],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            depends=glob(os.path.join(SRC_C, "*.h")) + glob(os.path.join("fastnn", "*.pxd")),
        ))
    return cythonize(
        exts,
        build_dir=os.path.join("build", "cython"),
        compiler_directives={
            "language_level": 3, "boundscheck": False, "wraparound": False,
            "cdivision": True, "initializedcheck": False, "embedsignature": True,
        },
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
