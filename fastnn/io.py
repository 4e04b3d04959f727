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

__all__ = ["ModelFileError", "save_model", "load_model", "save_weights_npz", "load_weights_npz",
           "FORMAT_VERSION"]

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
def _save_target(path):
    """The file a save replaces: a symlink's target (the link stays a link), and the
    permissions the new file gets (the old file's, else those a new file would get)."""
    path = os.path.realpath(os.fspath(path))
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    return path, mode


def _atomic_write(path, chunks, write=None):
    """Write to a temp file beside ``path``, fsync, then rename over it: a crash at any
    moment leaves either the old file or the new one, never a mixture. ``write(f)``
    instead of ``chunks`` writes the content itself. Errors name ``path``, not the
    temp file."""
    shown = os.fspath(path)
    path, mode = _save_target(shown)
    d = os.path.dirname(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".fastnn-", suffix=".tmp", dir=d)
        with os.fdopen(fd, "wb") as f:
            if write is not None:
                write(f)
            else:
                for c in chunks:
                    f.write(c)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError):
            raise type(e)(e.errno, f"cannot save to {shown!r}: {e.strerror}") from None
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
    model._build_from_input()
    if not model.built:
        raise RuntimeError("cannot save a model that is not built")
    epoch = _saveable_counter("epoch", epoch)
    arrays = [("params", model.params), ("buffers", model.buffers)]
    if model.compiled:
        arrays += [("opt/" + k, v) for k, v in sorted(model.optimizer.state.items())]
    _check_saveable(model, arrays)
    _atomic_write(path, _pack(model_header(model, epoch), arrays))


def _saveable_counter(name, value):
    """A counter as the loader accepts it (``_count``), checked before anything is
    written: a file the loader refuses would replace a good one."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or not 0 <= value <= 2**62:
        raise ValueError(f"cannot save: {name} must be None or an integer in [0, 2**62]; "
                         f"got {name}={value!r:.50}")
    return int(value)


def _check_saveable(model, arrays):
    """The loader's checks, made before writing, so ``save`` never replaces a good file
    with one ``load_model`` refuses."""
    _saveable_counter("the model's step count", model._step)
    if model.compiled:
        _saveable_counter("the optimizer's iterations", model.optimizer.iterations)
    for name, a in arrays:
        if not np.isfinite(a).all():
            raise ValueError(f"cannot save: {name!r} holds non-finite values (a diverged "
                             "model); nothing was written")
    for k, v in _weight_views(model).items():
        if k.endswith("running_var") and (v < 0).any():
            raise ValueError(f"cannot save: {k} holds a negative variance; nothing was written")


def _weight_views(model):
    """``{"layer{i}.{name}": view}`` of every parameter and buffer, as the .npz names them."""
    views = {}
    for i, layer in enumerate(model.layers):
        for (name, _), p in zip(layer.param_specs(), layer.params):
            views[f"layer{i}.{name}"] = p
        for (name, _, _), b in zip(layer.buffer_specs(), layer.buffers):
            views[f"layer{i}.{name}"] = b
    return views


def as_weight(name, a, dtype, label=None):
    """``a`` converted to ``dtype`` for the weight or buffer ``name`` (``layer{i}.kernel``,
    ...). ValueError naming it (as ``label`` if given) unless it is real, finite once
    converted (float64 beyond float32's range becomes inf) and, for a running variance,
    not negative (its square root is taken)."""
    a, label = np.asarray(a), label or name
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{label} must be real numbers; got dtype {a.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        c = a.astype(dtype)
    if not np.isfinite(c).all():
        bad = a.reshape(-1)[np.flatnonzero(~np.isfinite(c.reshape(-1)))[0]]
        raise ValueError(f"{label} must be finite {np.dtype(dtype)} values; "
                         f"it holds {float(bad)!r}")
    if name.endswith("running_var") and (c < 0).any():
        raise ValueError(f"{label} holds a negative variance ({float(c.min())!r})")
    return c


def save_weights_npz(model, path):
    """Weights only, as a NumPy ``.npz`` of ``layer{i}.{name}`` arrays (interoperability)."""
    out = _weight_views(model)
    _atomic_write(path, None, write=lambda f: np.savez(f, **out))


def load_weights_npz(model, path):
    """Set ``model``'s weights from a ``.npz`` written by ``save_weights_npz``: every array
    it needs, of the right shape and finite, checked before any weight changes."""
    views = _weight_views(model)
    shown = os.fspath(path)
    try:
        with np.load(shown, allow_pickle=False) as z:
            got = {k: z[k] for k in z.files}
    except OSError as e:
        raise ModelFileError(f"{shown}: cannot read weights ({e.strerror or e})") from None
    except Exception as e:  # zipfile, zlib and format errors of a damaged file
        raise ModelFileError(f"{shown}: not a readable .npz of weights "
                             f"({type(e).__name__}: {e})") from None
    missing, extra = sorted(set(views) - set(got)), sorted(set(got) - set(views))
    if missing or extra:
        raise ModelFileError(f"{shown}: the weights do not match this model's layers "
                             f"(missing {missing[:5]}, unexpected {extra[:5]})")
    for k, v in views.items():
        if got[k].shape != v.shape:
            raise ModelFileError(f"{shown}: {k} must have shape {v.shape}; got shape "
                                 f"{got[k].shape}")
        try:
            got[k] = as_weight(k, got[k], v.dtype)
        except ValueError as e:
            raise ModelFileError(f"{shown}: {e}") from None
    for k, v in views.items():
        v[...] = got[k]


# ---- reading ------------------------------------------------------------------------
def _read_verified(path):
    try:  # the magic first: a device or a huge unrelated file is not read whole
        with open(path, "rb") as f:
            data = f.read(_PREFIX.size)
            if len(data) == _PREFIX.size and data[:len(MAGIC)] == MAGIC:
                data += f.read()
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read model file ({e.strerror})") from None
    except MemoryError:
        raise ModelFileError(f"{path}: too large to be read as a model file") from None
    if len(data) >= len(MAGIC) and data[:len(MAGIC)] != MAGIC:
        raise ModelFileError(f"{path}: not a fastnn model file (bad magic "
                             f"{bytes(data[:len(MAGIC)])!r})")
    if len(data) < _PREFIX.size + 32:
        raise ModelFileError(f"{path}: file too short ({len(data)} bytes) to be a fastnn model")
    magic, version, hlen = _PREFIX.unpack_from(data)
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
            ok = key in _DTYPES and all(type(s) is int and 0 <= s < 2**40 for s in shape) \
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
        _check_declared_size(path, header, layers, tuple(spec["input_shape"]))
        model.build(tuple(spec["input_shape"]))
    except ModelFileError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise ModelFileError(f"{path}: invalid architecture ({type(e).__name__}: {e})") from None
    return model


def _check_declared_size(path, header, layers, shape):
    """Compare the architecture's parameter count with the file's array table before
    allocating: a forged layer size must not ask for terabytes."""
    n = 0
    for layer in layers:
        shape = tuple(layer.build(shape))
        n += sum(int(np.prod(s, dtype=object)) for _, s in layer.param_specs())
    stored = next((e.get("shape") for e in header.get("arrays") or []
                   if isinstance(e, dict) and e.get("name") == "params"), None)
    if stored != [n]:
        raise ModelFileError(f"{path}: the architecture has {n} parameters; the file stores "
                             f"{stored!r:.60}")


def load_model(path, compile=True):
    """Rebuild a model saved by ``model.save``: architecture, weights, and (``compile``)
    the optimizer with its state, so training resumes exactly. Raises ``ModelFileError``."""
    path = os.fspath(path)
    header, payload = _read_verified(path)
    try:
        return _load(path, header, payload, compile)
    except ModelFileError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError) as e:
        # a header that passed the checksum but holds values of the wrong kind
        raise ModelFileError(f"{path}: invalid model file ({type(e).__name__}: {e})") from None


def _count(path, name, value):
    """A step or epoch counter from the header: None, or an int in [0, 2**62]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**62:
        raise ModelFileError(f"{path}: {name} must be a non-negative integer; got {value!r:.50}")
    return value


def _load(path, header, payload, compile):
    arrays = _arrays(path, header, payload)
    model = _build(path, header)
    for key, target in (("params", model.params), ("buffers", model.buffers)):
        a = arrays.get(key)
        if a is None or a.shape != target.shape:
            raise ModelFileError(f"{path}: '{key}' has shape {None if a is None else a.shape}; "
                                 f"the architecture needs {target.shape}")
        if not np.isfinite(a).all():
            raise ModelFileError(f"{path}: '{key}' holds non-finite values")
        target[...] = a
    for k, v in _weight_views(model).items():
        if k.endswith("running_var") and (v < 0).any():
            raise ModelFileError(f"{path}: {k} holds a negative variance ({float(v.min())!r})")
    training = header.get("training") or {}
    if not isinstance(training, dict):
        raise ModelFileError(f"{path}: 'training' must be an object")
    model._step = _count(path, "training.step", training.get("step")) or 0
    model.saved_epoch = _count(path, "training.epoch", training.get("epoch"))
    if compile and header.get("compile"):
        _compile(path, model, header["compile"], arrays)
    return model


def _compile(path, model, c, arrays):
    from fastnn import optimizers
    try:
        model.compile(optimizer=optimizers.get(c["optimizer"]), loss=c["loss"],
                      metrics=c.get("metrics") or [])
        opt = model.optimizer
    except (TypeError, ValueError, KeyError) as e:
        raise ModelFileError(f"{path}: invalid compile settings ({e})") from None
    opt.iterations = _count(path, "optimizer_iterations", c.get("optimizer_iterations", 0)) or 0
    names = c.get("optimizer_state", [])
    if not isinstance(names, list) or (
            names and sorted(map(str, names)) != sorted(opt.active_state())):
        raise ModelFileError(f"{path}: optimizer state {names!r:.100} does not match "
                             f"{opt!r}, which keeps {sorted(opt.active_state())}")
    for k in names:
        a = arrays.get("opt/" + str(k))
        if a is None or a.shape != model.params.shape:
            raise ModelFileError(f"{path}: optimizer state {k!r} missing or of the wrong shape")
        if not np.isfinite(a).all():
            raise ModelFileError(f"{path}: optimizer state {k!r} holds non-finite values")
        opt.state[str(k)] = np.ascontiguousarray(a, model.dtype)
