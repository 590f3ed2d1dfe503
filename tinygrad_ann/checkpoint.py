"""Checkpoints: :func:`save` and :func:`load`, in the safetensors format.

safetensors is the file format the ecosystem uses for weights (PyTorch,
Hugging Face, ...): a JSON header and the raw bytes of each array, nothing that
runs code when read. A model's ``state_dict()`` saved here is a plain
safetensors file whose keys are exactly the state-dict names, so other tools
read it as they read their own. A whole training checkpoint (model, optimizer,
epoch, notes) fits too: its arrays become safetensors tensors under dotted
keys, and the rest of its structure travels as JSON in the file's metadata.

>>> import tempfile, pathlib
>>> import numpy as np
>>> import tinygrad_ann as tg
>>> from tinygrad_ann import nn, optim
>>> tg.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
>>> opt = optim.Adam(model.parameters(), lr=0.01)
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> path = tg.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
...                 "epoch": 7, "note": "lr 0.01"}, folder / "run.safetensors")
>>> restored = tg.load(path)
>>> restored["epoch"], restored["note"]
(7, 'lr 0.01')
>>> model.load_state_dict(restored["model"])
>>> opt.load_state_dict(restored["optimizer"])
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CheckpointError
from .files import write_atomically
from .tensor import Tensor

#: The metadata key under which the checkpoint's structure is stored as JSON.
STRUCTURE_KEY = "tinygrad_ann.structure"
_FORMAT_VERSION = 1
# NumPy dtypes safetensors stores (bfloat16 has no NumPy dtype).
_STORABLE_KINDS = {"b", "i", "u", "f"}
_MARKERS = ("$tensor", "$tuple", "$dict")
# The dtypes of a safetensors header that load into NumPy arrays; others (bfloat16, the
# 8-bit floats) are refused by name before the file is read.
_READABLE_DTYPES = frozenset(
    {"BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "F32", "F64"}
)
_DTYPE_NAMES = {
    "BF16": " (bfloat16)",
    "C64": " (complex64)",
    "F8_E4M3": " (float8 e4m3)",
    "F8_E5M2": " (float8 e5m2)",
}


def _safetensors_numpy() -> Any:
    import safetensors.numpy  # a runtime dependency, imported on first use

    return safetensors.numpy


def save(obj: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` (a state dict or a nested checkpoint dict) to ``path``.

    Leaves may be Tensors, NumPy arrays, Python numbers, strings, bools, None,
    and lists, tuples and dicts of these (dict keys: strings or ints). Arrays
    are stored exactly (dtype, shape, bytes); only their data is kept, not
    ``requires_grad`` or graphs. The file is replaced atomically. Returns the path.
    """
    if not isinstance(obj, Mapping):
        raise TypeError(
            f"tg.save: expected a dict (e.g. model.state_dict(), or a checkpoint dict of "
            f"them), got {type(obj).__name__}"
        )
    tensors: dict[str, np.ndarray] = {}
    structure = _encode(obj, (), tensors)
    metadata = {STRUCTURE_KEY: json.dumps({"version": _FORMAT_VERSION, "structure": structure})}
    content = _safetensors_numpy().save(tensors, metadata=metadata)
    return write_atomically(path, content)


def load(path: str | os.PathLike[str]) -> Any:
    """Read a file written by :func:`save` (or any safetensors file) in full.

    Returns the saved structure with every array as a Tensor (dtype and shape
    as saved) and every other value as the Python type saved. A safetensors
    file from elsewhere gives a dict of its keys to Tensors. Any problem with
    the file raises before anything is returned: :class:`CheckpointError`
    names the path and what is wrong.
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"tg.load: no such file: {path}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"tg.load: {path} is a folder, not a checkpoint file") from None
    metadata = _read_metadata(content, path)
    try:
        arrays = _safetensors_numpy().load(content)
    except Exception as error:  # safetensors raises its own error type (and others) on bad bytes
        raise CheckpointError(
            f"tg.load: {path} is not a readable safetensors file (truncated or corrupted?): {error}"
        ) from None
    if STRUCTURE_KEY not in metadata:
        return {key: _tensor(array) for key, array in arrays.items()}
    try:
        header = json.loads(metadata[STRUCTURE_KEY])
        if not isinstance(header, dict) or header.get("version") != _FORMAT_VERSION:
            raise ValueError(f"unknown format version {header.get('version')!r}")
        used: set[str] = set()
        result = _decode(header["structure"], arrays, used)
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(
            f"tg.load: {path} has a damaged checkpoint structure: {error}"
        ) from None
    unused = sorted(set(arrays) - used)
    if unused:
        raise CheckpointError(
            f"tg.load: {path} holds arrays its structure does not mention: {unused[:5]}"
        )
    return result


# ------------------------------------------------------------------ encoding
def _key(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _encode(value: Any, path: tuple[str, ...], tensors: dict[str, np.ndarray]) -> Any:
    where = _key(path) or "the checkpoint"
    if isinstance(value, Tensor | np.ndarray):
        return {
            "$tensor": _store(
                np.asarray(value.data if isinstance(value, Tensor) else value), path, tensors
            )
        }
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_ | np.integer | np.floating):
        return value.item()  # NumPy scalars travel as the Python number they hold
    if isinstance(value, int | float):
        return value
    if isinstance(value, list):
        return [_encode(item, (*path, str(i)), tensors) for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return {"$tuple": [_encode(item, (*path, str(i)), tensors) for i, item in enumerate(value)]}
    if isinstance(value, Mapping):
        keys = list(value)
        for key in keys:
            if type(key) is not str and type(key) is not int:
                raise TypeError(
                    f"tg.save: {where} has a key {key!r} of type {type(key).__name__}; "
                    "dict keys must be strings or ints"
                )
        items = {key: _encode(value[key], (*path, str(key)), tensors) for key in keys}
        if all(type(key) is str and key not in _MARKERS for key in keys):
            return items
        return {"$dict": [[key, item] for key, item in items.items()]}
    raise TypeError(
        f"tg.save: {where} is a {type(value).__name__}; a checkpoint holds Tensors, NumPy "
        "arrays, numbers, strings, bools, None, and lists, tuples and dicts of these"
    )


def _store(array: np.ndarray, path: tuple[str, ...], tensors: dict[str, np.ndarray]) -> str:
    key = _key(path)
    if not key:
        raise TypeError("tg.save: expected a dict of arrays, got a single array; wrap it in a dict")
    if array.dtype.kind not in _STORABLE_KINDS or array.dtype.itemsize > 8:
        raise TypeError(
            f"tg.save: {key} has dtype {array.dtype}, which safetensors cannot store "
            "(booleans, integers and floats can)"
        )
    if key in tensors:
        raise ValueError(
            f"tg.save: two entries would both be stored under the key {key!r} (e.g. 'a.b' "
            "and 'a' -> 'b'); rename one"
        )
    # (not np.ascontiguousarray: it turns a 0-d array into a 1-d one)
    tensors[key] = array if array.flags.c_contiguous else array.copy(order="C")
    return key


def _decode(value: Any, arrays: Mapping[str, np.ndarray], used: set[str]) -> Any:
    if isinstance(value, list):
        return [_decode(item, arrays, used) for item in value]
    if not isinstance(value, dict):
        return value
    if "$tensor" in value:
        key = value["$tensor"]
        if key not in arrays:
            raise KeyError(f"array {key!r} is missing")
        used.add(key)
        return _tensor(arrays[key])
    if "$tuple" in value:
        return tuple(_decode(item, arrays, used) for item in value["$tuple"])
    if "$dict" in value:
        return {key: _decode(item, arrays, used) for key, item in value["$dict"]}
    return {key: _decode(item, arrays, used) for key, item in value.items()}


def _tensor(array: np.ndarray) -> Tensor:
    # A writable array of our own: safetensors may hand out views of the file's bytes.
    return Tensor._wrap(np.array(array, copy=True))


def _read_metadata(content: bytes, path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors header (8-byte length, then JSON)."""
    if len(content) < 8:
        raise CheckpointError(
            f"tg.load: {path} is not a safetensors file ({len(content)} bytes, shorter than "
            "a header)"
        )
    (length,) = struct.unpack("<Q", content[:8])
    if length > len(content) - 8:
        raise CheckpointError(
            f"tg.load: {path} is not a safetensors file, or is truncated (its header claims "
            f"{length} bytes, the file has {len(content) - 8} after the length)"
        )
    try:
        header = json.loads(content[8 : 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(
            f"tg.load: {path} is not a safetensors file (its header is not JSON)"
        ) from None
    if not isinstance(header, dict):
        raise CheckpointError(f"tg.load: {path} is not a safetensors file (bad header)")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise CheckpointError(f"tg.load: {path} has a malformed metadata block")
    for key, entry in header.items():
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        if isinstance(dtype, str) and dtype not in _READABLE_DTYPES:
            raise CheckpointError(
                f"tg.load: {path} is a valid safetensors file, but its tensor {key!r} has dtype "
                f"{dtype}{_DTYPE_NAMES.get(dtype, '')}, which NumPy and tinygrad_ann do not "
                "support. Convert it before saving, e.g. in PyTorch "
                "{name: t.float() for name, t in state_dict.items()}"
            )
    return metadata
