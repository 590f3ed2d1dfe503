"""The safetensors format, read and written as a stream, with tinygrad_ann's sealed metadata.

A file is an 8-byte little-endian header length, a JSON header (each tensor's
dtype, shape and data offsets, and a ``__metadata__`` object of strings) and
the tensors' bytes. Writing streams each array's bytes straight from the
array; reading checks the header strictly and within fixed limits, then reads
each array straight into a fresh NumPy array, feeding a SHA-256 of the file on
the way when the metadata seals it.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import struct
from collections.abc import Callable, Iterator, Mapping
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

import numpy as np

from .errors import CheckpointError

if TYPE_CHECKING:
    import hashlib

#: The metadata key under which the checkpoint's structure is stored as JSON.
STRUCTURE_KEY = "tinygrad_ann.structure"
#: The metadata key holding the SHA-256 (64 hex digits) of the file with these digits as zeros.
CHECKSUM_KEY = "tinygrad_ann.sha256"
#: The metadata key holding the version of this layout.
FORMAT_KEY = "tinygrad_ann.format"
FORMAT_VERSION = "1"
#: Every metadata key this module writes starts so; a file with one of them must have all.
OUR_PREFIX = "tinygrad_ann."
OUR_KEYS = frozenset({FORMAT_KEY, CHECKSUM_KEY, STRUCTURE_KEY})
# Before checksums, tg.save wrote the structure key alone, holding
# {"version": 1, "structure": ...}. One damaged key name cannot turn a file of today
# into one of those (it takes two keys gone), so they still load, checked but unsealed.
UNSEALED_KEYS = frozenset({STRUCTURE_KEY})
UNSEALED_VERSION = 1

# Limits, refused at save (ValueError) and at load (CheckpointError); docs/checkpoints.md
# has them as a table.
#: The JSON header (safetensors' own bound).
MAX_HEADER_BYTES = 100_000_000
#: Arrays in one file.
MAX_ARRAYS = 1_000_000
#: Integers in a checkpoint's structure lie strictly between -2**128 and 2**128 (any 64-bit
#: value, and 128-bit seeds such as NumPy's PCG64 state, fit).
INTEGER_BOUND = 2**128
#: Dimensions of one array.
MAX_NDIM = 64

METADATA_KEY = "__metadata__"
_ENTRY_FIELDS = frozenset({"dtype", "shape", "data_offsets"})
_LENGTH_FIELD = struct.Struct("<Q")
# The literal that holds the digest in the header we write (compact JSON, our key once).
_CHECKSUM_LITERAL = json.dumps(CHECKSUM_KEY).encode() + b':"'
_DIGEST_LENGTH = 64
_PLACEHOLDER = b"0" * _DIGEST_LENGTH
_DIGEST = re.compile(r"[0-9a-f]{64}")
_INTEGER_DIGITS = len(str(INTEGER_BOUND))
# A safetensors header nests 3 deep: the header, a tensor's entry, its shape. The structure
# A safetensors header nests 3 deep: the header, a tensor's entry, its shape.
_HEADER_JSON_DEPTH = 3

# The NumPy dtypes of safetensors' little-endian dtypes (by name), and the bits per element
# of every dtype safetensors defines, including those NumPy has no dtype for.
_NUMPY_DTYPES = {
    name: np.dtype(code)
    for name, code in {
        "BOOL": "?",
        "U8": "u1",
        "I8": "i1",
        "U16": "<u2",
        "I16": "<i2",
        "U32": "<u4",
        "I32": "<i4",
        "U64": "<u8",
        "I64": "<i8",
        "F16": "<f2",
        "F32": "<f4",
        "F64": "<f8",
    }.items()
}
SAFETENSORS_NAMES = {(dtype.kind, dtype.itemsize): name for name, dtype in _NUMPY_DTYPES.items()}
_UNSUPPORTED_DTYPES = {  # name: (bits per element, what it is)
    "BF16": (16, " (bfloat16)"),
    "C64": (64, " (complex64)"),
    "F8_E4M3": (8, " (float8 e4m3)"),
    "F8_E5M2": (8, " (float8 e5m2)"),
    "F8_E8M0": (8, " (float8 e8m0)"),
    "F6_E2M3": (6, " (float6 e2m3)"),
    "F6_E3M2": (6, " (float6 e3m2)"),
    "F4": (4, " (float4)"),
}
_DTYPE_BITS = {
    **{name: 8 * dtype.itemsize for name, dtype in _NUMPY_DTYPES.items()},
    **{name: bits for name, (bits, _) in _UNSUPPORTED_DTYPES.items()},
}

_NOT_SAFETENSORS = "is not a valid safetensors file (truncated or corrupted?)"
DAMAGED = "is a damaged checkpoint"


class UnloadableError(Exception):
    """Why a file cannot be loaded: the end of a CheckpointError's message, after its path."""


def short(value: Any) -> str:
    """``repr(value)``, cut short: names and values read from a damaged file may be huge."""
    text = repr(value) if not isinstance(value, int) or value.bit_length() < 128 else "<huge int>"
    return text if len(text) <= 60 else f"{text[:57]}..."


def sealed_writer(
    tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]
) -> Callable[[BinaryIO], None]:
    """What writes a file of ``tensors`` and ``metadata``, sealed by the SHA-256 of its bytes."""
    if len(tensors) > MAX_ARRAYS:
        raise ValueError(
            f"tg.save: the checkpoint holds {len(tensors)} arrays, more than the "
            f"{MAX_ARRAYS} a checkpoint may hold; split it into several files"
        )
    header = _header(tensors, metadata)
    digest = _sha256(_file_chunks(header, tensors)).encode()
    start = header.index(_CHECKSUM_LITERAL) + len(_CHECKSUM_LITERAL)
    sealed = header[:start] + digest + header[start + _DIGEST_LENGTH :]
    return _writer(sealed, tensors)


def _header(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """The JSON header, its checksum a placeholder of zeros, padded with spaces to 8 bytes."""
    entries: dict[str, Any] = {METADATA_KEY: {**metadata, CHECKSUM_KEY: _PLACEHOLDER.decode()}}
    begin = 0
    for key, array in tensors.items():
        entries[key] = {
            "dtype": SAFETENSORS_NAMES[array.dtype.kind, array.dtype.itemsize],
            "shape": list(array.shape),
            "data_offsets": [begin, begin + array.nbytes],
        }
        begin += array.nbytes
    try:
        header = json.dumps(entries, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        bad = next(key for key in tensors if not key.isascii() and not _encodes(key))
        raise ValueError(
            f"tg.save: the key {bad!r} is not valid Unicode (it holds a lone surrogate); rename it"
        ) from None
    header += b" " * (-len(header) % 8)
    if len(header) > MAX_HEADER_BYTES:
        raise ValueError(
            f"tg.save: the checkpoint's header (its keys, shapes and non-array values) would "
            f"take {len(header)} bytes, more than the {MAX_HEADER_BYTES} allowed; keep large "
            "data in arrays"
        )
    return header


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _file_chunks(header: bytes, tensors: Mapping[str, np.ndarray]) -> Iterator[bytes | memoryview]:
    """The bytes of the file in order: header length, header, each array's bytes."""
    yield _LENGTH_FIELD.pack(len(header))
    yield header
    for array in tensors.values():
        yield _bytes_of(array)


def _bytes_of(array: np.ndarray) -> memoryview:
    """The bytes of a C-contiguous array, without a copy (also for 0-d and empty arrays)."""
    return array.reshape(-1).view(np.uint8).data


def _sha256(chunks: Iterator[bytes | memoryview]) -> str:
    import hashlib  # on first use: importing it costs every import of the package 3 ms

    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()


def _writer(header: bytes, tensors: Mapping[str, np.ndarray]) -> Callable[[BinaryIO], None]:
    def write(file: BinaryIO) -> None:
        for chunk in _file_chunks(header, tensors):
            file.write(chunk)

    return write


def open_regular_file(path: Path) -> BinaryIO:
    """``path`` opened for reading, refused before any read unless it is a regular file."""
    # O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(f"tg.load: no such file: {path}") from None
    except PermissionError:
        raise PermissionError(f"tg.load: no permission to read {path}") from None
    except OSError as error:
        if error.errno == errno.ENXIO:  # a socket, or a device without its driver
            raise CheckpointError(
                f"tg.load: {path} is a socket or a device, not a regular file; a checkpoint "
                "is read from a regular file"
            ) from None
        raise
    try:
        mode = os.fstat(descriptor).st_mode
    except BaseException:
        os.close(descriptor)
        raise
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"tg.load: {path} is a folder, not a checkpoint file")
        raise CheckpointError(
            f"tg.load: {path} is {_kind_of_file(mode)}, not a regular file; a checkpoint is "
            "read from a regular file (nothing was read)"
        )
    return os.fdopen(descriptor, "rb", buffering=0)


def _kind_of_file(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


class _Entry(NamedTuple):
    """A tensor's entry in a safetensors header, checked."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def read_safetensors(
    file: BinaryIO, size: int
) -> tuple[dict[str, str], dict[str, np.ndarray], bool]:
    """The metadata and the arrays of ``file`` (of ``size`` bytes), checked in full, and whether
    a checksum sealed them (it matched, or this raised)."""
    if size < _LENGTH_FIELD.size:
        raise UnloadableError(
            f"{_NOT_SAFETENSORS}: it has {size} bytes, fewer than a header's length"
        )
    length_field = _read_exactly(file, _LENGTH_FIELD.size)
    (header_length,) = _LENGTH_FIELD.unpack(length_field)
    if header_length > MAX_HEADER_BYTES:
        raise UnloadableError(
            f"{_NOT_SAFETENSORS}: its header length {header_length} exceeds the limit of "
            f"{MAX_HEADER_BYTES} bytes"
        )
    if header_length > size - _LENGTH_FIELD.size:
        raise UnloadableError(
            f"{_NOT_SAFETENSORS}: it is truncated, or its header length is wrong (the header "
            f"claims {header_length} bytes, {size - _LENGTH_FIELD.size} follow the length field)"
        )
    header_bytes = _read_exactly(file, header_length)
    header = _parse_header(header_bytes)
    data_size = size - _LENGTH_FIELD.size - header_length
    metadata, entries = _layout(header, data_size)
    checksum = _checksum_of_header(metadata, length_field, header_bytes)
    arrays = _read_arrays(file, entries, checksum)
    if checksum is not None and checksum.hexdigest() != metadata[CHECKSUM_KEY]:
        raise UnloadableError(
            "is damaged: checksum mismatch (its bytes are not the ones tg.save wrote: a "
            "flipped bit, a partial copy or an edit)"
        )
    return metadata, arrays, checksum is not None


def _read_exactly(file: BinaryIO, count: int) -> bytearray:
    buffer = bytearray(count)
    _fill(file, memoryview(buffer))
    return buffer


def _fill(file: BinaryIO, view: memoryview) -> None:
    """Read into all of ``view`` (a read may return less than asked)."""
    filled = 0
    while filled < view.nbytes:
        count = file.readinto(view[filled:])  # type: ignore[attr-defined]
        if not count:
            raise UnloadableError(f"{_NOT_SAFETENSORS}: it became shorter while being read")
        filled += count


def _parse_header(header_bytes: bytearray) -> dict[str, Any]:
    try:
        text = header_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnloadableError(
            f"{_NOT_SAFETENSORS}: its header is not UTF-8 ({error.reason})"
        ) from None
    header = parse_json(text, "its header", _HEADER_JSON_DEPTH, _NOT_SAFETENSORS, strict=True)
    if not isinstance(header, dict):
        raise UnloadableError(f"{_NOT_SAFETENSORS}: its header is not a JSON object")
    return header


def parse_json(text: str, what: str, max_depth: int, problem: str, strict: bool) -> Any:
    """``text`` parsed as JSON, refused if it nests deeper than ``max_depth``, has a key twice
    or an integer beyond ``INTEGER_BOUND``; ``strict`` also refuses NaN and Infinity."""
    depth = _nesting_depth(text)
    if depth > max_depth:
        raise UnloadableError(f"{problem}: {what} nests {depth} levels deep, more than {max_depth}")

    def refuse_constant(name: str) -> Any:
        raise UnloadableError(f"{problem}: {what} holds {name}, which is not JSON")

    try:
        return json.loads(
            text,
            object_pairs_hook=_object_without_duplicates(what, problem),
            parse_int=_bounded_integer(what, problem),
            parse_constant=refuse_constant if strict else float,
        )
    except ValueError as error:  # json.JSONDecodeError
        raise UnloadableError(f"{problem}: {what} is not JSON ({error})") from None


# JSON strings (brackets inside them do not nest anything), and everything but brackets.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^][{}]+")
_BRACKET_STEPS = {"[": 1, "{": 1, "]": -1, "}": -1}


def _nesting_depth(text: str) -> int:
    """How deep the arrays and objects of JSON ``text`` nest, found without parsing it.

    json.loads recurses once per level and would raise RecursionError on deep input; this
    scan is linear and recursion-free. On malformed text it may count too deep, never too
    shallow where json.loads would still be parsing.
    """
    brackets = _NOT_BRACKETS.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_BRACKET_STEPS.__getitem__, brackets)), default=0)


def _object_without_duplicates(what: str, problem: str) -> Callable[[list[Any]], dict[str, Any]]:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            seen: set[str] = set()
            twice = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
            raise UnloadableError(
                f"{problem}: {what} has the key {short(twice)} twice in one object"
            )
        return result

    return build


def _bounded_integer(what: str, problem: str) -> Callable[[str], int]:
    def parse(literal: str) -> int:
        # Checked on the digits first: int() of a long literal is slow, or refused past 4300.
        if len(literal.lstrip("-")) > _INTEGER_DIGITS or abs(int(literal)) >= INTEGER_BOUND:
            raise UnloadableError(
                f"{problem}: {what} holds an integer of {len(literal)} characters, beyond "
                "the bound of 2**128"
            )
        return int(literal)

    return parse


def _layout(header: dict[str, Any], data_size: int) -> tuple[dict[str, str], list[_Entry]]:
    """The metadata and the tensors' entries of a header, checked as safetensors checks them:
    exact fields and types, known dtypes, sizes that match shapes, and data offsets that tile
    the data section (``data_size`` bytes) from its start to the end of the file."""
    metadata = header.get(METADATA_KEY, {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise UnloadableError(f"{_NOT_SAFETENSORS}: its {METADATA_KEY} is not an object of strings")
    count = len(header) - (METADATA_KEY in header)
    if count > MAX_ARRAYS:
        raise UnloadableError(
            f"{_NOT_SAFETENSORS}: it holds {count} arrays, more than {MAX_ARRAYS}"
        )
    entries = [_entry(name, info) for name, info in header.items() if name != METADATA_KEY]
    position = 0
    for entry in sorted(entries, key=lambda entry: (entry.begin, entry.end)):
        if entry.begin != position:
            problem = "overlaps the previous one" if entry.begin < position else "leaves a gap"
            raise UnloadableError(
                f"{_NOT_SAFETENSORS}: the data of tensor {short(entry.name)} ({entry.begin} to "
                f"{entry.end}) {problem}"
            )
        position = entry.end
    if position != data_size:
        raise UnloadableError(
            f"{_NOT_SAFETENSORS}: its tensors' data ends at byte {position} of the data section, "
            f"which has {data_size} bytes to the end of the file"
        )
    for entry in entries:
        if entry.dtype in _UNSUPPORTED_DTYPES:
            raise UnloadableError(
                f"is a valid safetensors file, but its tensor {short(entry.name)} has dtype "
                f"{entry.dtype}{_UNSUPPORTED_DTYPES[entry.dtype][1]}, which NumPy and "
                "tinygrad_ann do not support. Convert it before saving, e.g. in PyTorch "
                "{name: t.float() for name, t in state_dict.items()}"
            )
    return metadata, entries


def _entry(name: str, info: Any) -> _Entry:
    def refuse(problem: str) -> UnloadableError:
        return UnloadableError(f"{_NOT_SAFETENSORS}: the entry of tensor {short(name)} {problem}")

    if not isinstance(info, dict) or set(info) != _ENTRY_FIELDS:
        raise refuse("is not an object of exactly dtype, shape and data_offsets")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _DTYPE_BITS:
        raise refuse(f"has the unknown dtype {short(dtype)}")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise refuse(f"has the shape {short(shape)}, not a list of non-negative integers")
    if len(shape) > MAX_NDIM:
        raise refuse(f"has {len(shape)} dimensions, more than {MAX_NDIM}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(n) is int for n in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise refuse(
            f"has the data_offsets {short(offsets)}, not [begin, end] with 0 <= begin <= end"
        )
    bits = math.prod(shape) * _DTYPE_BITS[dtype]
    size = offsets[1] - offsets[0]
    if bits != 8 * size:
        raise refuse(
            f"says {size} bytes, but its shape {short(shape)} of {dtype} takes {short(bits)} bits"
        )
    item_bytes = max(_DTYPE_BITS[dtype] // 8, 1)
    if math.prod(n for n in shape if n) * item_bytes >= 2**63:
        raise refuse(f"has the shape {short(shape)}, too large for an array")
    return _Entry(name, dtype, tuple(shape), offsets[0], offsets[1])


def _checksum_of_header(
    metadata: Mapping[str, str], length_field: bytes | bytearray, header_bytes: bytearray
) -> hashlib._Hash | None:
    """A SHA-256 fed with the file's bytes up to the data, its digest as zeros; None for a file
    without our metadata (a plain safetensors file from elsewhere)."""
    ours = {key for key in metadata if key.startswith(OUR_PREFIX)}
    if not ours or ours == UNSEALED_KEYS:
        return None
    if ours != OUR_KEYS:
        problems = [f"lacks {short(key)}" for key in sorted(OUR_KEYS - ours)]
        problems += [f"has the unknown {short(key)}" for key in sorted(ours - OUR_KEYS)]
        raise UnloadableError(
            f"{DAMAGED}: its metadata {' and '.join(problems[:4])} (tg.save writes exactly "
            f"{', '.join(sorted(OUR_KEYS))}: a damaged key name, or a file written by an older "
            "tinygrad_ann, before checksums)"
        )
    if metadata[FORMAT_KEY] != FORMAT_VERSION:
        raise UnloadableError(
            f"{DAMAGED}, or one written by a newer tinygrad_ann: its format is "
            f"{metadata[FORMAT_KEY][:20]!r}, this version reads {FORMAT_VERSION!r}"
        )
    digest = metadata[CHECKSUM_KEY]
    if not _DIGEST.fullmatch(digest):
        raise UnloadableError(f"{DAMAGED}: its checksum is not 64 hexadecimal digits")
    start = header_bytes.find(_CHECKSUM_LITERAL) + len(_CHECKSUM_LITERAL)
    end = start + _DIGEST_LENGTH
    if (
        header_bytes.count(_CHECKSUM_LITERAL) != 1
        or header_bytes[start:end] != digest.encode()
        or header_bytes[end : end + 1] != b'"'
    ):
        raise UnloadableError(f"{DAMAGED}: its checksum is not written as tg.save writes it")
    import hashlib

    checksum = hashlib.sha256(length_field)
    checksum.update(memoryview(header_bytes)[:start])
    checksum.update(_PLACEHOLDER)
    checksum.update(memoryview(header_bytes)[end:])
    return checksum


def _read_arrays(
    file: BinaryIO, entries: list[_Entry], checksum: hashlib._Hash | None
) -> dict[str, np.ndarray]:
    """Each tensor read straight into a new array, in the order of the file's bytes (feeding
    ``checksum`` on the way); returned in the header's order, in native byte order."""
    arrays: dict[str, np.ndarray] = {}
    for entry in sorted(entries, key=lambda entry: (entry.begin, entry.end)):
        try:
            array = np.empty(entry.shape, dtype=_NUMPY_DTYPES[entry.dtype])
        except ValueError as error:  # e.g. more dimensions than this NumPy allows
            raise UnloadableError(
                f"{_NOT_SAFETENSORS}: tensor {short(entry.name)} of shape "
                f"{short(list(entry.shape))} cannot be an array here ({error})"
            ) from None
        data = _bytes_of(array)
        _fill(file, data)
        if checksum is not None:
            checksum.update(data)
        if entry.dtype == "BOOL" and array.size and array.view(np.uint8).max() > 1:
            raise UnloadableError(
                f"{_NOT_SAFETENSORS}: the bool tensor {short(entry.name)} holds bytes other "
                "than 0 and 1"
            )
        arrays[entry.name] = array
    return {
        entry.name: arrays[entry.name].astype(
            arrays[entry.name].dtype.newbyteorder("="), copy=False
        )
        for entry in entries
    }
