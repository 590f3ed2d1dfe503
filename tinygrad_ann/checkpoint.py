"""Checkpoints: :func:`save` and :func:`load`, in the safetensors format.

safetensors is the file format the ecosystem uses for weights (PyTorch,
Hugging Face, ...): a JSON header and the raw bytes of each array, nothing that
runs code when read. A model's ``state_dict()`` saved here is a plain
safetensors file whose keys are exactly the state-dict names, so other tools
read it as they read their own. A whole training checkpoint (model, optimizer,
epoch, notes) fits too: its arrays become safetensors tensors under dotted
keys, and the rest of its structure travels as JSON in the file's metadata,
beside a SHA-256 checksum of the whole file that :func:`load` verifies.

This module turns a checkpoint into arrays and a structure and back;
:mod:`~tinygrad_ann.safetensors_format` reads and writes the file, streaming:
:func:`save` writes the header and then each array's bytes straight from the
array, :func:`load` reads each array straight into a fresh NumPy array (about
one copy of the data in memory), after checking the header strictly and within
fixed limits.

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
>>> with open(path, "r+b") as file:  # one flipped bit in the stored weights ...
...     _ = file.seek(-1, 2)
...     last = file.read(1)
...     _ = file.seek(-1, 2)
...     _ = file.write(bytes([last[0] ^ 1]))
>>> tg.load(path)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tinygrad_ann.errors.CheckpointError: tg.load: ... is damaged: checksum mismatch ...
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import CheckpointError
from .files import write_atomically
from .safetensors_format import (
    CHECKSUM_KEY,
    DAMAGED,
    FORMAT_KEY,
    FORMAT_VERSION,
    INTEGER_BOUND,
    MAX_ARRAYS,
    MAX_HEADER_BYTES,
    MAX_NDIM,
    METADATA_KEY,
    OUR_KEYS,
    OUR_PREFIX,
    SAFETENSORS_NAMES,
    STRUCTURE_KEY,
    UNSEALED_KEYS,
    UNSEALED_VERSION,
    UnloadableError,
    open_regular_file,
    parse_json,
    read_safetensors,
    sealed_writer,
    short,
)
from .tensor import Tensor

# Limits of a checkpoint's structure, refused at save (ValueError) and at load
# (CheckpointError); docs/checkpoints.md has them as a table.
#: Nesting of dicts, lists and tuples in a checkpoint (the root dict is level 1).
MAX_DEPTH = 100
#: Characters of one string (values and dict keys) in a checkpoint's structure.
MAX_STRING_LENGTH = 16_777_216

_MARKERS = ("$tensor", "$tuple", "$dict")
# The structure JSON nests at most 3 levels per checkpoint level ({"$dict": [[key, value]]})
# plus a tensor.
_STRUCTURE_JSON_DEPTH = 3 * MAX_DEPTH + 1


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


# ------------------------------------------------------------------ save
def save(obj: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` (a state dict or a nested checkpoint dict) to ``path``.

    Leaves may be Tensors, NumPy arrays, Python numbers, strings, bools, None,
    and lists, tuples and dicts of these (dict keys: strings or ints). Arrays
    are stored exactly (dtype, shape, bytes); only their data is kept, not
    ``requires_grad`` or graphs. What exceeds the limits (``MAX_DEPTH``,
    ``MAX_ARRAYS``, ``MAX_STRING_LENGTH``, ``INTEGER_BOUND``,
    ``MAX_HEADER_BYTES``) or would be stored under the key ``__metadata__``
    raises ``ValueError`` naming the entry. The file is replaced atomically.
    Returns the path.
    """
    if not isinstance(obj, Mapping):
        raise TypeError(
            f"tg.save: expected a dict (e.g. model.state_dict(), or a checkpoint dict of "
            f"them), got {type(obj).__name__}"
        )
    tensors: dict[str, np.ndarray] = {}
    structure = _encode(obj, (), tensors, depth=1)
    # ensure_ascii: a string with a lone surrogate is escaped instead of failing to encode.
    structure_json = json.dumps(structure, separators=(",", ":"))
    metadata = {FORMAT_KEY: FORMAT_VERSION, STRUCTURE_KEY: structure_json}
    return write_atomically(path, sealed_writer(tensors, metadata), "tg.save")


def _key(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _encode(value: Any, path: tuple[str, ...], tensors: dict[str, np.ndarray], depth: int) -> Any:
    """The JSON form of ``value`` (arrays moved into ``tensors``); ``depth`` counts containers."""
    where = _key(path) or "the checkpoint"
    if isinstance(value, Tensor | np.ndarray):
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        return {"$tensor": _store(array, path, tensors)}
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _checked_string(value, where)
    if isinstance(value, np.bool_ | np.integer | np.floating):
        value = value.item()  # NumPy scalars travel as the Python number they hold
    if isinstance(value, int):
        return _checked_integer(value, where)
    if isinstance(value, float):
        return value
    if not isinstance(value, list | tuple | Mapping):
        raise TypeError(
            f"tg.save: {where} is {_a(type(value).__name__)}; a checkpoint holds Tensors, NumPy "
            "arrays, numbers, strings, bools, None, and lists, tuples and dicts of these"
        )
    if depth > MAX_DEPTH:
        raise ValueError(
            f"tg.save: {where} nests dicts, lists and tuples more than {MAX_DEPTH} levels deep "
            "(does a container hold itself?)"
        )
    if isinstance(value, list | tuple):
        items = [_encode(item, (*path, str(i)), tensors, depth + 1) for i, item in enumerate(value)]
        return items if isinstance(value, list) else {"$tuple": items}
    keys = list(value)
    for key in keys:
        if type(key) is not str and type(key) is not int:
            raise TypeError(
                f"tg.save: {where} has a key {key!r} of type {type(key).__name__}; "
                "dict keys must be strings or ints"
            )
        if isinstance(key, str):
            _checked_string(key, f"a key of {where}")
        else:
            _checked_integer(key, f"a key of {where}")
    encoded = {key: _encode(value[key], (*path, str(key)), tensors, depth + 1) for key in keys}
    if all(type(key) is str and key not in _MARKERS for key in keys):
        return encoded
    return {"$dict": [[key, item] for key, item in encoded.items()]}


def _checked_string(text: str, where: str) -> str:
    if len(text) > MAX_STRING_LENGTH:
        raise ValueError(
            f"tg.save: {where} is a string of {len(text)} characters, more than the "
            f"{MAX_STRING_LENGTH} a checkpoint stores; store long text in a file of its own"
        )
    return text


def _checked_integer(number: int, where: str) -> int:
    if not -INTEGER_BOUND < number < INTEGER_BOUND:
        raise ValueError(
            f"tg.save: {where} is an integer of {number.bit_length()} bits, outside the range "
            "a checkpoint stores (-2**128, 2**128); store it as a string"
        )
    return number


def _store(array: np.ndarray, path: tuple[str, ...], tensors: dict[str, np.ndarray]) -> str:
    key = _key(path)  # the root is a dict (save checks), so path is never empty
    if (array.dtype.kind, array.dtype.itemsize) not in SAFETENSORS_NAMES:
        raise TypeError(
            f"tg.save: {key} has dtype {array.dtype}, which safetensors cannot store "
            "(booleans, integers and floats can)"
        )
    if key == METADATA_KEY:
        raise ValueError(
            f"tg.save: an array would be stored under the key {key!r}, which safetensors "
            "reserves for the file's metadata; rename it"
        )
    if key in tensors:
        raise ValueError(
            f"tg.save: two entries would both be stored under the key {key!r} (e.g. 'a.b' "
            "and 'a' -> 'b'); rename one"
        )
    # Little-endian and C-contiguous, copied only if not already (not np.ascontiguousarray:
    # it turns a 0-d array into a 1-d one).
    array = array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)
    tensors[key] = array if array.flags.c_contiguous else array.copy(order="C")
    return key


# ------------------------------------------------------------------ load
def load(path: str | os.PathLike[str]) -> Any:
    """Read a file written by :func:`save` (or any safetensors file) in full.

    Returns the saved structure with every array as a Tensor (dtype and shape
    as saved) and every other value as the Python type saved. A safetensors
    file from elsewhere gives a dict of its keys to Tensors, in the file's
    order. Any problem with the file raises before anything is returned:
    :class:`CheckpointError` names the path and what is wrong (a damaged
    header, a checksum mismatch, a limit exceeded, a FIFO or device instead of
    a file); a missing file, a folder or a file without read permission raise
    ``FileNotFoundError``, ``IsADirectoryError`` and ``PermissionError``.
    """
    path = Path(path)
    try:
        with open_regular_file(path) as file:
            return _read(file, os.fstat(file.fileno()).st_size)
    except UnloadableError as refusal:
        raise CheckpointError(f"tg.load: {path} {refusal}") from None


def _read(file: BinaryIO, size: int) -> Any:
    """The checkpoint in ``file`` (of ``size`` bytes), checked in full before it is returned."""
    metadata, arrays, sealed = read_safetensors(file, size)
    if STRUCTURE_KEY not in metadata:  # a plain safetensors file, from anywhere
        return {name: Tensor._wrap(array) for name, array in arrays.items()}
    if not sealed:
        return _decode_unsealed(metadata[STRUCTURE_KEY], arrays)
    structure = parse_json(
        metadata[STRUCTURE_KEY], "its structure", _STRUCTURE_JSON_DEPTH, DAMAGED, strict=False
    )
    return _decode_structure(structure, arrays)


def _decode_unsealed(structure_json: str, arrays: Mapping[str, np.ndarray]) -> Any:
    """A checkpoint written before checksums: its structure wrapped with a version number."""
    wrapped = parse_json(
        structure_json, "its structure", _STRUCTURE_JSON_DEPTH + 1, DAMAGED, strict=False
    )
    if (
        not isinstance(wrapped, dict)
        or set(wrapped) != {"version", "structure"}
        or type(wrapped["version"]) is not int
        or wrapped["version"] != UNSEALED_VERSION
    ):
        raise UnloadableError(
            f"{DAMAGED}: its metadata lacks {', '.join(sorted(OUR_KEYS - UNSEALED_KEYS))} "
            "and its structure is not one an older tg.save wrote (a damaged key name?)"
        )
    return _decode_structure(wrapped["structure"], arrays)


def _decode_structure(structure: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """The checkpoint that the parsed ``structure`` describes, with ``arrays`` in their places."""
    if not isinstance(structure, dict):
        raise UnloadableError(f"{DAMAGED}: its structure is not a dict")
    unused = set(arrays)
    checkpoint = _decode(structure, arrays, unused, depth=1)
    if not isinstance(checkpoint, dict):
        raise UnloadableError(f"{DAMAGED}: its structure is not a dict")
    if unused:
        raise UnloadableError(
            f"{DAMAGED}: it holds arrays its structure does not mention: {sorted(unused)[:5]}"
        )
    return checkpoint


def _decode(node: Any, arrays: Mapping[str, np.ndarray], unused: set[str], depth: int) -> Any:
    """The value of one node of the structure JSON, checked against what :func:`_encode` writes.

    Recursive, but only as deep as the structure, which :func:`_nesting_depth` has bounded.
    """
    if node is None or isinstance(node, bool | int | float):  # ints bounded when parsed
        return node
    if isinstance(node, str):
        return _loaded_string(node)
    if isinstance(node, dict) and len(node) == 1 and "$tensor" in node:
        name = node["$tensor"]
        if not isinstance(name, str) or name not in arrays:
            raise UnloadableError(
                f"{DAMAGED}: its structure names the array {short(name)}, which is missing"
            )
        if name not in unused:
            raise UnloadableError(f"{DAMAGED}: its structure uses the array {short(name)} twice")
        unused.discard(name)
        return Tensor._wrap(arrays[name])
    if depth > MAX_DEPTH:
        raise UnloadableError(f"{DAMAGED}: its structure nests more than {MAX_DEPTH} levels deep")
    if isinstance(node, list):
        return [_decode(item, arrays, unused, depth + 1) for item in node]
    markers = [marker for marker in _MARKERS if marker in node]
    if not markers:
        return {
            _loaded_string(key): _decode(item, arrays, unused, depth + 1)
            for key, item in node.items()
        }
    if len(node) != 1:
        raise UnloadableError(
            f"{DAMAGED}: its structure has an object with {markers[0]} and more keys"
        )
    if "$tuple" in node and isinstance(node["$tuple"], list):
        return tuple(_decode(item, arrays, unused, depth + 1) for item in node["$tuple"])
    if "$dict" in node and isinstance(node["$dict"], list):
        return _decode_dict(node["$dict"], arrays, unused, depth)
    raise UnloadableError(f"{DAMAGED}: its structure has a malformed {markers[0]} object")


def _decode_dict(
    pairs: list[Any], arrays: Mapping[str, np.ndarray], unused: set[str], depth: int
) -> dict[str | int, Any]:
    result: dict[str | int, Any] = {}
    for pair in pairs:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not isinstance(pair[0], str | int)
            or isinstance(pair[0], bool)
        ):
            raise UnloadableError(
                f"{DAMAGED}: its structure has a $dict entry that is not [key, value]"
            )
        key = _loaded_string(pair[0]) if isinstance(pair[0], str) else pair[0]
        if key in result:
            raise UnloadableError(
                f"{DAMAGED}: its structure has the key {short(key)} twice in one dict"
            )
        result[key] = _decode(pair[1], arrays, unused, depth + 1)
    return result


def _loaded_string(text: str) -> str:
    if len(text) > MAX_STRING_LENGTH:
        raise UnloadableError(
            f"{DAMAGED}: its structure has a string of {len(text)} characters, more than "
            f"{MAX_STRING_LENGTH}"
        )
    return text


__all__ = [
    "CHECKSUM_KEY",
    "FORMAT_KEY",
    "FORMAT_VERSION",
    "INTEGER_BOUND",
    "MAX_ARRAYS",
    "MAX_DEPTH",
    "MAX_HEADER_BYTES",
    "MAX_NDIM",
    "MAX_STRING_LENGTH",
    "OUR_KEYS",
    "OUR_PREFIX",
    "STRUCTURE_KEY",
    "load",
    "save",
]
