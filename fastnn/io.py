"""Model files: data only, no pickle, written atomically, verified on load.

Layout (all integers little-endian)::

    b"FASTNN\\r\\n"  magic (8 bytes; the CR LF catches text-mode mangling)
    uint32          format version
    uint64          header length H
    H bytes         UTF-8 JSON: architecture, compile settings, array table, metadata
    ...             arrays, each at a 64-byte aligned offset from the payload start
    32 bytes        SHA-256 of everything before it

Loading checks the size, magic, version and checksum before parsing anything, bounds
every declared size by the real file size, accepts only plain numeric dtypes, and
builds layers only from a fixed table of fastnn classes: a file can never run code.
"""
import hashlib
import json
import os
import struct
import tempfile

import numpy as np

__all__ = ["ModelFileError", "save_model", "load_model", "save_weights_npz", "FORMAT_VERSION"]

MAGIC = b"FASTNN\r\n"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIQ")
_MAX_HEADER = 16 << 20
_DTYPES = {"<f4": np.float32, "<f8": np.float64, "<i8": np.int64}
_ALIGN = 64


class ModelFileError(ValueError):
    """A model file is damaged, of another version, or describes something invalid."""


def _layer_table():
    from fastnn import layers, normalization
    return {c.__name__: c for c in (layers.Dense, layers.Activation, layers.Dropout,
                                    layers.Flatten, normalization.BatchNorm,
                                    normalization.LayerNorm)}


# ---- writing ------------------------------------------------------------------------
def _atomic_write(path, chunks):
    """Write to a temp file beside ``path``, fsync, then rename over it: a crash at any
    moment leaves either the old file or the new one, never a mixture."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastnn-", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass  # some platforms cannot fsync a directory; the rename is still atomic


def _pack(header, arrays):
    table, payload, off = [], [], 0
    for name, a in arrays:
        a = np.ascontiguousarray(a)
        key = a.dtype.newbyteorder("<").str
        if key not in _DTYPES:
            raise TypeError(f"cannot save array {name!r} of dtype {a.dtype}")
        pad = (-off) % _ALIGN
        payload.append(b"\0" * pad)
        off += pad
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        table.append({"name": name, "dtype": key, "shape": list(a.shape), "offset": off,
                      "nbytes": len(raw)})
        payload.append(raw)
        off += len(raw)
    header = dict(header, arrays=table)
    hbytes = json.dumps(header, sort_keys=True, allow_nan=False).encode()
    chunks = [_PREFIX.pack(MAGIC, FORMAT_VERSION, len(hbytes)), hbytes] + payload
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return chunks + [h.digest()]


def model_header(model, epoch=None):
    layers = [{"type": type(layer).__name__, "config": layer.get_config()}
              for layer in model.layers]
    table = _layer_table()
    for spec, layer in zip(layers, model.layers):
        if spec["type"] not in table or table[spec["type"]] is not type(layer):
            raise TypeError(f"cannot save custom layer {layer!r}: only fastnn's built-in layers "
                            "are stored in model files (save its weights with save_weights)")
    head = {"format": "fastnn-model", "fastnn_version": _version(),
            "model": {"seed": model.seed, "dtype": model.dtype.name, "name": model.name,
                      "input_shape": list(model.input_shape), "layers": layers},
            "training": {"step": model._step, "epoch": epoch}}
    if model.compiled:
        opt = model.optimizer
        head["compile"] = {"optimizer": opt.get_config(), "loss": model.loss.get_config(),
                           "metrics": [n for n, _ in model.metrics],
                           "optimizer_iterations": opt.iterations,
                           "optimizer_state": sorted(opt.state)}
    return head


def _version():
    from fastnn import __version__
    return __version__


def save_model(model, path, epoch=None):
    """Write ``model`` (architecture, weights, optimizer state, step counters) to ``path``."""
    if not model.built:
        raise RuntimeError("cannot save a model that is not built")
    arrays = [("params", model.params), ("buffers", model.buffers)]
    if model.compiled:
        arrays += [("opt/" + k, v) for k, v in sorted(model.optimizer.state.items())]
    _atomic_write(path, _pack(model_header(model, epoch), arrays))


def save_weights_npz(model, path):
    """Weights only, as a NumPy ``.npz`` of ``layer{i}.{name}`` arrays (interoperability)."""
    out = {}
    for i, layer in enumerate(model.layers):
        for (name, _), p in zip(layer.param_specs(), layer.params):
            out[f"layer{i}.{name}"] = p
        for (name, _, _), b in zip(layer.buffer_specs(), layer.buffers):
            out[f"layer{i}.{name}"] = b
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        np.savez(tmp, **out)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ---- reading ------------------------------------------------------------------------
def _read_verified(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read model file ({e.strerror})") from None
    if len(data) < _PREFIX.size + 32:
        raise ModelFileError(f"{path}: file too short ({len(data)} bytes) to be a fastnn model")
    magic, version, hlen = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise ModelFileError(f"{path}: not a fastnn model file (bad magic {magic!r})")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {version}; this fastnn reads "
                             f"version {FORMAT_VERSION}")
    if hashlib.sha256(data[:-32]).digest() != data[-32:]:
        raise ModelFileError(f"{path}: checksum mismatch: the file is damaged or truncated")
    if hlen > min(_MAX_HEADER, len(data) - _PREFIX.size - 32):
        raise ModelFileError(f"{path}: header length {hlen} exceeds the file")
    try:
        header = json.loads(data[_PREFIX.size:_PREFIX.size + hlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ModelFileError(f"{path}: header is not valid JSON ({e})") from None
    if not isinstance(header, dict) or header.get("format") != "fastnn-model":
        raise ModelFileError(f"{path}: header does not describe a fastnn model")
    return header, memoryview(data)[_PREFIX.size + hlen:len(data) - 32]


def _arrays(path, header, payload):
    out = {}
    table = header.get("arrays")
    if not isinstance(table, list):
        raise ModelFileError(f"{path}: missing array table")
    for e in table:
        try:
            name, key, shape = str(e["name"]), e["dtype"], tuple(e["shape"])
            off, nbytes = e["offset"], e["nbytes"]
            ok = key in _DTYPES and all(isinstance(s, int) and 0 <= s < 2**40 for s in shape) \
                and isinstance(off, int) and isinstance(nbytes, int) and off >= 0
        except (KeyError, TypeError):
            ok = False
        if not ok:
            raise ModelFileError(f"{path}: invalid array entry {e!r:.200}")
        want = int(np.prod(shape, dtype=object)) * np.dtype(key).itemsize
        if want != nbytes or off + nbytes > len(payload):
            raise ModelFileError(f"{path}: array {name!r} declares {nbytes} bytes at offset "
                                 f"{off}, beyond or inconsistent with the file")
        out[name] = np.frombuffer(payload[off:off + nbytes], key).reshape(shape).astype(
            _DTYPES[key])
    return out


def _build(path, header):
    from fastnn.model import Sequential
    spec = header.get("model")
    table = _layer_table()
    try:
        layers = []
        for entry in spec["layers"]:
            cls = table.get(entry.get("type")) if isinstance(entry, dict) else None
            if cls is None:
                raise ModelFileError(f"{path}: unknown layer type {entry!r:.100}")
            cfg = entry.get("config") or {}
            if not isinstance(cfg, dict):
                raise ModelFileError(f"{path}: layer config must be an object")
            layers.append(cls(**cfg))
        model = Sequential(layers, seed=spec["seed"], dtype=spec["dtype"], name=spec.get("name"))
        model.build(tuple(spec["input_shape"]))
    except ModelFileError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise ModelFileError(f"{path}: invalid architecture ({type(e).__name__}: {e})") from None
    return model


def load_model(path, compile=True):
    """Rebuild a model saved by ``model.save``: architecture, weights, and (``compile``)
    the optimizer with its state, so training resumes exactly. Raises ``ModelFileError``."""
    path = os.fspath(path)
    header, payload = _read_verified(path)
    arrays = _arrays(path, header, payload)
    model = _build(path, header)
    for key, target in (("params", model.params), ("buffers", model.buffers)):
        a = arrays.get(key)
        if a is None or a.shape != target.shape:
            raise ModelFileError(f"{path}: '{key}' has shape {None if a is None else a.shape}; "
                                 f"the architecture needs {target.shape}")
        target[...] = a
    training = header.get("training") or {}
    model._step = int(training.get("step") or 0)
    model.saved_epoch = training.get("epoch")
    if compile and header.get("compile"):
        _compile(path, model, header["compile"], arrays)
    return model


def _compile(path, model, c, arrays):
    from fastnn import optimizers
    try:
        model.compile(optimizer=optimizers.get(c["optimizer"]), loss=c["loss"],
                      metrics=c.get("metrics") or [])
        opt = model.optimizer
        opt.iterations = int(c.get("optimizer_iterations", 0))
    except (TypeError, ValueError, KeyError) as e:
        raise ModelFileError(f"{path}: invalid compile settings ({e})") from None
    for k in c.get("optimizer_state", []):
        a = arrays.get("opt/" + str(k))
        if a is None or a.shape != model.params.shape:
            raise ModelFileError(f"{path}: optimizer state {k!r} missing or of the wrong shape")
        opt.state[str(k)] = a.astype(model.dtype)
