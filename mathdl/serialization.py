"""Checkpoints: ``mathdl.save(obj, path)`` and ``mathdl.load(path)``.

``obj`` is a nested structure (dicts, lists, tuples) of Tensors, NumPy arrays and plain values
(None, bool, int, float, str, NumPy scalars) -- typically ``{"model": model.state_dict(),
"optimizer": opt.state_dict(), "epoch": 3, ...}``.  The file is one safetensors file:

* every Tensor / array is a safetensors tensor (raw little-endian bytes: the round trip is
  bit-identical), named by its position in the structure ("model/fc1.weight");
* the structure itself, with each array replaced by a reference, is JSON in the safetensors
  header metadata under ``"mathdl"``, along with a format version and a CRC-32 of every array's
  bytes, so that a corrupt file is detected on load instead of giving silently wrong weights.

Writes are atomic: the bytes go to a temporary file in the same directory, are flushed to disk,
and then ``os.replace`` renames it over ``path``; a crash never leaves a half-written checkpoint.
Errors on load (missing, truncated, corrupt, not a mathdl checkpoint, newer format) raise
:class:`CheckpointError` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib

import numpy as np

from . import backend
from .autograd.tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "FORMAT_VERSION"]

FORMAT = "mathdl-checkpoint"
FORMAT_VERSION = 1
_MARK = "__mathdl__"  # key marking an encoded (non-JSON-native) value


class CheckpointError(ValueError):
    """A checkpoint file cannot be read: missing pieces, truncated, corrupt, or mismatched."""


# --------------------------------------------------------------------------- encoding
class _Encoder:
    def __init__(self):
        self.arrays = {}
        self.info = {}

    def _name(self, path):
        name = "/".join(path) or "root"
        base, k = name, 1
        while name in self.arrays:
            name = f"{base}#{k}"
            k += 1
        return name

    def array(self, arr, path, kind, requires_grad=False):
        arr = np.asarray(backend.to_device(arr, "cpu"))  # a NumPy scalar held as a 0-d tensor's array included
        if arr.dtype.kind not in "biuf" and arr.dtype != backend.bfloat16:
            raise TypeError(f"mathdl.save: cannot store array of dtype {arr.dtype} at {'/'.join(path) or 'root'!r}")
        dtype = "bfloat16" if arr.dtype == backend.bfloat16 else arr.dtype.str.lstrip("<>|=")
        stored = arr if arr.flags.c_contiguous else arr.copy(order="C")  # keeps 0-d shape
        if arr.dtype == backend.bfloat16:
            stored = stored.view(np.uint16)
        if stored.dtype.byteorder == ">":
            stored = stored.astype(stored.dtype.newbyteorder("<"))
        name = self._name(path)
        self.arrays[name] = stored
        self.info[name] = {"dtype": dtype, "crc32": zlib.crc32(stored.tobytes()) if stored.size else 0}
        ref = {_MARK: kind, "name": name}
        if requires_grad:
            ref["requires_grad"] = True
        return ref

    def encode(self, obj, path=()):
        if obj is None or isinstance(obj, bool | str):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            if obj != obj or obj in (float("inf"), float("-inf")):
                return {_MARK: "float", "repr": repr(obj)}
            return obj
        if isinstance(obj, Tensor):
            kind = "parameter" if type(obj).__name__ == "Parameter" else "tensor"
            from .backend import to_device  # device tensors are saved from a host copy

            return self.array(to_device(obj.array, "cpu"), path, kind, obj.requires_grad)
        if isinstance(obj, np.ndarray):
            return self.array(obj, path, "ndarray")
        if isinstance(obj, np.generic):
            return self.array(np.asarray(obj), path, "npscalar")
        if isinstance(obj, dict):
            if all(isinstance(k, str) for k in obj) and _MARK not in obj:
                return {k: self.encode(v, path + (k,)) for k, v in obj.items()}
            items = []
            for k, v in obj.items():
                if not isinstance(k, str | int | float | bool | tuple) and k is not None:
                    raise TypeError(f"mathdl.save: cannot store dict key {k!r} of type {type(k).__name__} "
                                    f"at {'/'.join(path) or 'root'!r}")
                items.append([self.encode(k, path + ("key",)), self.encode(v, path + (str(k),))])
            return {_MARK: "dict", "items": items}
        if isinstance(obj, tuple):
            return {_MARK: "tuple", "items": [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]
        raise TypeError(
            f"mathdl.save: cannot store object of type {type(obj).__name__} at {'/'.join(path) or 'root'!r}; "
            "expected Tensors, arrays, dicts, lists, tuples, numbers, strings or None"
        )


def save(obj, path) -> None:
    """Write ``obj`` (nested dicts/lists/tuples of Tensors, arrays and plain values) to ``path`` atomically."""
    from safetensors.numpy import save as st_save

    enc = _Encoder()
    tree = enc.encode(obj)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "tree": tree, "arrays": enc.info}
    data = st_save(enc.arrays, metadata={"mathdl": json.dumps(meta, separators=(",", ":"))})
    if hasattr(path, "write"):
        path.write(data)
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; give it a normal file's permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------- decoding
def _decode(node, arrays, where):
    if isinstance(node, list):
        return [_decode(v, arrays, where) for v in node]
    if not isinstance(node, dict):
        return node
    kind = node.get(_MARK)
    if kind is None:
        return {k: _decode(v, arrays, where) for k, v in node.items()}
    if kind == "float":
        return float(node["repr"])
    if kind == "tuple":
        return tuple(_decode(v, arrays, where) for v in node["items"])
    if kind == "dict":
        out = {}
        for k, v in node["items"]:
            k = _decode(k, arrays, where)
            out[tuple(k) if isinstance(k, list) else k] = _decode(v, arrays, where)
        return out
    name = node.get("name")
    if name not in arrays:
        raise CheckpointError(f"mathdl.load: {where!r} refers to array {name!r}, which the file does not contain")
    arr = arrays[name]
    if kind == "ndarray":
        return arr
    if kind == "npscalar":
        return arr[()]
    if kind in ("tensor", "parameter"):
        if kind == "parameter":
            try:
                from .nn import Parameter

                return Parameter(arr)
            except ImportError:  # pragma: no cover - nn is part of the package
                pass
        t = Tensor._make(arr)
        if node.get("requires_grad"):
            t.requires_grad_(True)
        return t
    raise CheckpointError(f"mathdl.load: {where!r} has an unknown entry kind {kind!r} (written by a newer mathdl?)")


def _relocate(obj, map_location):
    """``obj`` with every Tensor moved as ``map_location`` says (a device, a device name, a dict from the
    saved location -- always "cpu", mathdl saves host copies -- to a device, or PyTorch's callable
    ``fn(tensor, "cpu")`` returning the tensor to use)."""
    if isinstance(obj, Tensor):
        if callable(map_location) and not isinstance(map_location, str):
            out = map_location(obj, "cpu")
            if not isinstance(out, Tensor):
                raise TypeError(f"mathdl.load: map_location callable returned {type(out).__name__}, expected a Tensor")
            return out
        target = map_location.get("cpu", "cpu") if isinstance(map_location, dict) else map_location
        return obj if backend.device(target).type == "cpu" else obj.to(backend.device(target))
    if isinstance(obj, dict):
        return {k: _relocate(v, map_location) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_relocate(v, map_location) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_relocate(v, map_location) for v in obj)
    return obj


def load(path, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Read a checkpoint written by :func:`save`; Tensors come back as Tensors, arrays as arrays.

    PyTorch's signature: ``map_location`` moves the tensors (see :func:`_relocate`); ``weights_only``,
    ``mmap``, ``pickle_module`` and pickle's arguments are accepted and change nothing, since a mathdl
    checkpoint is a safetensors file and JSON, never a pickle (loading one cannot run code).
    """
    if map_location is not None and not isinstance(map_location, str | dict) and not callable(map_location):
        raise TypeError(f"mathdl.load: map_location must be a device, a device name, a dict or a callable, got "
                        f"{type(map_location).__name__}")
    if map_location is not None:
        return _relocate(load(path), map_location)
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    if hasattr(path, "read"):
        raw, where = path.read(), getattr(path, "name", "<file object>")
    else:
        where = os.fspath(path)
        if not os.path.exists(where):
            raise FileNotFoundError(f"mathdl.load: no checkpoint file at {where!r}")
        with open(where, "rb") as f:
            raw = f.read()
    if len(raw) < 8:
        raise CheckpointError(f"mathdl.load: {where!r} is empty or truncated ({len(raw)} bytes); not a checkpoint")
    header_len = int.from_bytes(raw[:8], "little")
    if header_len > len(raw) - 8:
        raise CheckpointError(
            f"mathdl.load: {where!r} is truncated or not a checkpoint: its header claims {header_len} bytes "
            f"but the file has {len(raw)} bytes"
        )
    try:
        header = json.loads(raw[8:8 + header_len])
        stored = st_load(raw)
    except (SafetensorError, ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"mathdl.load: {where!r} is corrupt or truncated ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"mathdl.load: {where!r} is corrupt: its header is not a JSON object")
    meta_text = (header.get("__metadata__") or {}).get("mathdl")
    if meta_text is None:
        raise CheckpointError(f"mathdl.load: {where!r} is a safetensors file but not a mathdl checkpoint "
                              "(no 'mathdl' metadata); read it with safetensors.numpy.load_file")
    try:
        meta = json.loads(meta_text)
    except ValueError as e:
        raise CheckpointError(f"mathdl.load: {where!r} has corrupt metadata ({e})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"mathdl.load: {where!r} has format {meta.get('format')!r}, expected {FORMAT!r}")
    if int(meta.get("version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"mathdl.load: {where!r} is format version {meta['version']}, this mathdl reads up "
                              f"to {FORMAT_VERSION}; upgrade mathdl")
    arrays = {}
    for name, info in meta["arrays"].items():
        if name not in stored:
            raise CheckpointError(f"mathdl.load: {where!r} lacks the array {name!r} that its metadata lists")
        arr = stored[name]
        crc = zlib.crc32(arr.tobytes()) if arr.size else 0
        if crc != info["crc32"]:
            raise CheckpointError(f"mathdl.load: {where!r} is corrupt: array {name!r} fails its CRC-32 check "
                                  f"(stored {info['crc32']:#010x}, computed {crc:#010x})")
        if info["dtype"] == "bfloat16":
            arr = arr.view(backend.bfloat16)
        if not arr.flags.writeable:
            arr = arr.copy()
        arrays[name] = arr
    return _decode(meta["tree"], arrays, where)
