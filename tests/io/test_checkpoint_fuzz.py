"""tg.load on thousands of damaged copies of one checkpoint.

Each copy must raise ``CheckpointError`` or give back exactly what was saved
(structure, Python types, dtypes, shapes and bytes). The only other outcome
allowed is for copies whose every ``tinygrad_ann.`` metadata key was removed:
they are plain safetensors files from then on and load as the flat dict of
their arrays. The damage is deterministic (one seed): truncations, flipped
bits, inserted and deleted bytes, wrong header lengths, and headers rewritten
as valid JSON that is wrong in one place, each written once with its checksum
left stale and, where the rewrite is invalid whatever the checksum, once more
with the checksum recomputed ("resealed") so that the structural checks
themselves are what must refuse it.

The corpus builder and the classifier take the loader and the original file as
arguments, so the same corpus can measure another implementation of
``tg.load``.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

import tinygrad_ann as tg
from tinygrad_ann import nn, optim

SEED = 20_240_611
MINIMUM_CASES = 3_000
OUR_PREFIX = "tinygrad_ann."
STRUCTURE_KEY = "tinygrad_ann.structure"
CHECKSUM_LITERAL = b'"tinygrad_ann.sha256":"'
METADATA = "__metadata__"
# Replacements that make any node of the structure invalid, wherever they stand.
INVALID_NODES: list[Any] = [
    {"$tensor": 5},
    {"$tensor": "no such array"},
    {"$tensor": None},
    {"$tuple": 5},
    {"$tuple": {}},
    {"$dict": 5},
    {"$dict": [[1.5, 0]]},
    {"$dict": [[True, 0]]},
    {"$dict": [[None, 0]]},
    {"$dict": [["key"]]},
    {"$dict": [["key", 0, 1]]},
    {"$dict": [[1, 0], [1, 0]]},
    {"$dict": [5]},
    {"$tuple": [], "extra": 1},
    {"$tensor": "x", "$tuple": []},
    {"$tuple": [], "$dict": []},
    ["x", {"$tensor": 1.5}],
    {"x": {"$tensor": []}},
]
# Replacements that give a valid structure with other content: only the checksum refuses.
OTHER_VALID_NODES: list[Any] = [5, "x", None, [], {}, 1.5, True, {"$tuple": []}]


def make_checkpoint() -> dict[str, Any]:
    """A training checkpoint with every kind of value tg.save stores."""
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    adam = optim.Adam(model.parameters(), lr=0.01)
    loss = (model(tg.tensor(np.ones((2, 3)))) ** 2).sum()
    adam.zero_grad()
    loss.backward()
    adam.step()
    return {
        "model": model.state_dict(),
        "optimizer": adam.state_dict(),
        "epoch": 3,
        "best": 0.25,
        "note": "läuft ✓ — 学习 🚀",
        "shape": (3, "four", [5.5]),
        "by_index": {0: "zero", 7: np.arange(3)},
        "resumed_from": None,
        "finished": False,
        "scalar": np.array(2.5),
        "steps": np.arange(5, dtype=np.int64),
        "mask": np.array([True, False, True]),
        "weights": np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3),
    }


# ------------------------------------------------------------------ comparing
def same(loaded: Any, expected: Any) -> bool:
    """Equal in structure, Python types, dtypes, shapes and bytes (floats bit for bit)."""
    if isinstance(expected, tg.Tensor | np.ndarray):
        array = expected.data if isinstance(expected, tg.Tensor) else expected
        return (
            isinstance(loaded, tg.Tensor)
            and loaded.dtype == array.dtype
            and loaded.shape == array.shape
            and loaded.data.tobytes() == array.tobytes()
        )
    if type(loaded) is not type(expected):
        return False
    if isinstance(expected, dict):
        return [(type(key), key) for key in loaded] == [(type(key), key) for key in expected] and (
            all(same(loaded[key], expected[key]) for key in expected)
        )
    if isinstance(expected, list | tuple):
        return len(loaded) == len(expected) and all(map(same, loaded, expected))
    if isinstance(expected, float):
        return struct.pack("<d", loaded) == struct.pack("<d", expected)
    return bool(loaded == expected)


# ------------------------------------------------------------------ the file's parts
def split(content: bytes) -> tuple[dict[str, Any], bytes]:
    (length,) = struct.unpack_from("<Q", content)
    return json.loads(content[8 : 8 + length]), content[8 + length :]


def assemble(header: dict[str, Any] | str | bytes, data: bytes) -> bytes:
    """A safetensors file: length, header (JSON, padded to 8 bytes with spaces), data."""
    if isinstance(header, dict):
        header = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    raw = header if isinstance(header, bytes) else header.encode("utf-8", "surrogatepass")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def reseal(content: bytes) -> bytes | None:
    """``content`` with its checksum recomputed by the definition (SHA-256 of every byte, the
    64 digits as zeros), or None if it has no single checksum to recompute."""
    (length,) = struct.unpack_from("<Q", content)
    if len(content) < 8 + length or content[: 8 + length].count(CHECKSUM_LITERAL) != 1:
        return None
    start = content.index(CHECKSUM_LITERAL) + len(CHECKSUM_LITERAL)
    zeroed = content[:start] + b"0" * 64 + content[start + 64 :]
    return zeroed[:start] + hashlib.sha256(zeroed).hexdigest().encode() + zeroed[start + 64 :]


@dataclass(frozen=True)
class Variant:
    label: str
    content: bytes
    foreign: bool = False  # every tinygrad_ann. key removed: loads as a flat dict, or raises


# ------------------------------------------------------------------ the corpus
def damaged_variants(original: bytes) -> Iterator[Variant]:
    rng = random.Random(SEED)
    yield from truncations(original, rng)
    yield from bit_flips(original, rng)
    yield from insertions_and_deletions(original, rng)
    yield from altered_length_fields(original)
    yield from rewritten_headers(original)
    yield from foreign_variants(original, rng)


def header_end(content: bytes) -> int:
    return 8 + struct.unpack_from("<Q", content)[0]


def truncations(original: bytes, rng: random.Random, foreign: bool = False) -> Iterator[Variant]:
    end = header_end(original)
    sampled = rng.sample(range(end, len(original)), min(150, len(original) - end))
    for length in [*range(end + 1), *sampled]:
        yield Variant("truncated", original[:length], foreign)


def bit_flips(original: bytes, rng: random.Random) -> Iterator[Variant]:
    end = header_end(original)
    header = original[:end]
    key_positions = [
        position
        for key in (json.dumps(key).encode() for key in split(original)[0][METADATA])
        for start in [header.index(key)]
        for position in range(start, start + len(key))
    ]
    positions = [
        *key_positions,  # every bit of our metadata keys' names
        *range(8),  # the length field
        *rng.sample(range(8, end), min(600, end - 8)),
        *rng.sample(range(end, len(original)), min(300, len(original) - end)),
    ]
    for position in positions:
        for bit in range(8) if position in key_positions or position < 8 else [rng.randrange(8)]:
            flipped = bytearray(original)
            flipped[position] ^= 1 << bit
            yield Variant("bit flipped", bytes(flipped))


def insertions_and_deletions(original: bytes, rng: random.Random) -> Iterator[Variant]:
    for position in rng.sample(range(len(original)), 150):
        yield Variant("byte deleted", original[:position] + original[position + 1 :])
        inserted = bytes([rng.choice(b' {}[]",:0a\x00\xff')])
        yield Variant("byte inserted", original[:position] + inserted + original[position:])


def altered_length_fields(original: bytes) -> Iterator[Variant]:
    length = header_end(original) - 8
    for claimed in [0, 1, 2, 7, length - 8, length - 1, length + 1, length + 8, len(original)]:
        yield Variant("length field", struct.pack("<Q", claimed) + original[8:])
    for claimed in [len(original) - 8, len(original) - 7, 100_000_001, 2**63, 2**64 - 1]:
        yield Variant("length field", struct.pack("<Q", claimed) + original[8:])


def rewritten_headers(original: bytes) -> Iterator[Variant]:
    header, data = split(original)
    for label, rewritten, invalid in header_rewrites(header, data):
        content = assemble(rewritten, data)
        yield Variant(f"{label} (stale checksum)", content)
        resealed = reseal(content) if invalid else None
        if resealed is not None:
            yield Variant(f"{label} (resealed)", resealed)


def foreign_variants(original: bytes, rng: random.Random) -> Iterator[Variant]:
    header, data = split(original)
    ours = {key: value for key, value in header[METADATA].items() if key.startswith(OUR_PREFIX)}
    without_metadata = {key: value for key, value in header.items() if key != METADATA}
    plain = {
        METADATA: {k: v for k, v in header[METADATA].items() if k not in ours},
        **without_metadata,
    }
    for base in (plain, without_metadata, {**plain, METADATA: {"format": "pt"}}):
        foreign = assemble(base, data)
        yield Variant("foreign", foreign, foreign=True)
        for label, rewritten, invalid in tensor_entry_rewrites(base, data):
            if invalid:
                yield Variant(f"foreign, {label}", assemble(rewritten, data), foreign=True)
    yield from truncations(assemble(plain, data), rng, foreign=True)


def header_rewrites(header: dict[str, Any], data: bytes) -> Iterator[tuple[str, Any, bool]]:
    """(label, rewritten header as a dict or JSON text, invalid even with a correct checksum)."""
    yield from structure_rewrites(header)
    yield from metadata_rewrites(header)
    yield from tensor_entry_rewrites(header, data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    for root in ["[]", "5", '"x"', "null", "", "{", text + " {}", text[:-1]]:
        yield "header not an object", root, True
    deep = "[" * 10_000 + "]" * 10_000
    yield "header nested 10,000 deep", text[:-1] + ',"deep":' + deep + "}", True
    yield "header padded", text + " " * 8, False
    yield "header with leading space", " " + text, False
    yield "header not UTF-8", text.encode().replace(b'"dtype"', b'"dt\xffype"', 1), True
    yield "header with NaN", text.replace('"shape":[', '"shape":[NaN,', 1), True
    yield (
        "duplicated metadata key",
        text.replace('"__metadata__":{', '"__metadata__":{"tinygrad_ann.format":"1",', 1),
        True,
    )
    first_name = next(key for key in header if key != METADATA)
    entry = json.dumps({first_name: header[first_name]}, separators=(",", ":"))[1:-1]
    yield "duplicated tensor", text[:-1] + "," + entry + "}", True
    yield (
        "huge integer in a shape",
        text.replace('"shape":[', '"shape":[' + "9" * 5000 + ",", 1),
        True,
    )


def structure_rewrites(header: dict[str, Any]) -> Iterator[tuple[str, Any, bool]]:
    metadata = header[METADATA]
    text = metadata[STRUCTURE_KEY]
    structure = json.loads(text)

    def with_structure(new_text: str) -> dict[str, Any]:
        return {**header, METADATA: {**metadata, STRUCTURE_KEY: new_text}}

    for path in node_paths(structure):
        for replacement in INVALID_NODES:
            yield (
                "structure node invalid",
                with_structure(json.dumps(replaced(structure, path, replacement))),
                True,
            )
        deep = [[[]]]
        for _ in range(150):
            deep = [deep]
        yield (
            "structure node nested 150 deep",
            with_structure(json.dumps(replaced(structure, path, deep))),
            True,
        )
        for replacement in OTHER_VALID_NODES:
            yield (
                "structure node other",
                with_structure(json.dumps(replaced(structure, path, replacement))),
                False,
            )
    for whole in [
        "[]",
        "5",
        "null",
        '"x"',
        "{",
        "",
        "{not json",
        text + " 1",
        "[" * 10_000 + "]" * 10_000,
    ]:
        yield "structure not an object", with_structure(whole), True
    yield (
        "structure nested 10,000 deep",
        with_structure('{"a":' * 10_000 + "1" + "}" * 10_000),
        True,
    )
    yield "structure huge integer", with_structure(text[:-1] + ',"n":' + "9" * 5000 + "}"), True
    yield (
        "structure huge string",
        with_structure(text[:-1] + ',"s":"' + "x" * 16_777_217 + '"}'),
        True,
    )
    first_key = next(iter(structure))
    yield "structure duplicated key", with_structure(f'{{"{first_key}":0,' + text[1:]), True
    yield "structure NaN", with_structure(text[:-1] + ',"nan":NaN}'), False
    yield "structure whitespace", with_structure(text.replace(",", ", ")), False


def node_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, child in children:
        yield from node_paths(child, (*path, key))


def replaced(node: Any, path: tuple[Any, ...], replacement: Any) -> Any:
    if not path:
        return replacement
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = replaced(node[path[0]], path[1:], replacement)
    return copy


def metadata_rewrites(header: dict[str, Any]) -> Iterator[tuple[str, Any, bool]]:
    metadata = header[METADATA]
    for not_an_object in ["x", [], 5, None, [["a", "b"]]]:
        yield "metadata not an object", {**header, METADATA: not_an_object}, True
    for key in metadata:
        others = {k: v for k, v in metadata.items() if k != key}
        yield "our key removed", {**header, METADATA: others}, True
        for renamed in [
            key + "x",
            key.upper(),
            key.replace("tinygrad_ann.", "tinygrad_ann,"),
            key[:-1],
        ]:
            yield "our key renamed", {**header, METADATA: {**others, renamed: metadata[key]}}, True
        for value in [1, None, [], {}, True]:
            yield (
                "metadata value not a string",
                {**header, METADATA: {**metadata, key: value}},
                True,
            )
    yield "unknown key of ours", {**header, METADATA: {**metadata, "tinygrad_ann.extra": "1"}}, True
    yield "format changed", {**header, METADATA: {**metadata, "tinygrad_ann.format": "2"}}, True
    digest = metadata.get("tinygrad_ann.sha256", "")  # (absent from files of older versions)
    for other in [digest.upper(), digest[:-1], digest + "0", "0" * 64, " " + digest[1:]]:
        yield (
            "checksum rewritten",
            {**header, METADATA: {**metadata, "tinygrad_ann.sha256": other}},
            False,
        )


def tensor_entry_rewrites(header: dict[str, Any], data: bytes) -> Iterator[tuple[str, Any, bool]]:
    names = [key for key in header if key != METADATA]
    for name in names:
        info = header[name]
        begin, end = info["data_offsets"]
        shape = info["shape"]

        def with_entry(entry: Any, name: str = name) -> dict[str, Any]:
            return {**header, name: entry}

        for dtype in ["XX", "f32", "", 5, None, ["F32"], "BF16", "F8_E4M3", "C64", "F4"]:
            yield "dtype", with_entry({**info, "dtype": dtype}), True
        for other_shape in [
            [-1],
            "x",
            None,
            [1.5],
            [True] * max(len(shape), 1),
            [2**70],
            [*shape, 2],
            [0, 2**62, 2**62],
            [1] * 65 + shape,
        ]:
            yield "shape", with_entry({**info, "shape": other_shape}), True
        yield "shape reshaped", with_entry({**info, "shape": [*shape, 1]}), False
        for offsets in [
            [-1, end],
            [begin, end + 1],
            [end, begin],
            [begin],
            [begin, end, end],
            "x",
            [begin + 1, end + 1],
            [begin, 2**64],
            [float(begin), end],
            None,
        ]:
            if offsets != [begin, end]:
                yield "data offsets", with_entry({**info, "data_offsets": offsets}), True
        yield "extra field", with_entry({**info, "x": 1}), True
        for field in info:
            yield "missing field", with_entry({k: v for k, v in info.items() if k != field}), True
        for entry in [[], "x", None, 5]:
            yield "entry not an object", with_entry(entry), True
        yield "tensor removed", {k: v for k, v in header.items() if k != name}, True
    size = len(data)
    yield (
        "extra tensor",
        {**header, "extra": {"dtype": "U8", "shape": [0], "data_offsets": [size, size]}},
        METADATA in header and any(k.startswith(OUR_PREFIX) for k in header[METADATA]),
    )
    yield (
        "extra tensor past the end",
        {**header, "extra": {"dtype": "U8", "shape": [1], "data_offsets": [size, size + 1]}},
        True,
    )
    if len(names) > 1:
        first, second = names[0], names[1]
        swapped = {
            **header,
            first: {**header[first], "data_offsets": header[second]["data_offsets"]},
        }
        yield (
            "offsets overlapping",
            swapped,
            header[first]["data_offsets"] != header[second]["data_offsets"],
        )


# ------------------------------------------------------------------ running it
def classify(
    load: Callable[[Path], Any], path: Path, variant: Variant, expected: Any, flat: Any
) -> str:
    # Overwrite, then cut: truncating to 0 first makes ext4 flush on close (3 ms a case).
    with open(path, "r+b" if path.exists() else "wb") as file:
        file.write(variant.content)
        file.truncate()
    try:
        loaded = load(path)
    except tg.CheckpointError:
        return "CheckpointError"
    except Exception as error:  # what this test exists to find
        return f"other exception: {type(error).__name__}"
    if same(loaded, expected):
        return "identical content"
    if variant.foreign and same(loaded, flat):
        return "flat dict (foreign)"
    return "different content"


def run_corpus(
    load: Callable[[Path], Any], original: Path, folder: Path
) -> tuple[Counter[str], list[str]]:
    """Outcome counts over the corpus, and the first few cases that are neither an error nor the
    saved content (label and outcome)."""
    content = original.read_bytes()
    expected = load(original)
    header, _ = split(content)
    reference = safetensors.numpy.load(content)
    flat = {name: reference[name] for name in header if name != METADATA}
    counts: Counter[str] = Counter()
    failures: list[str] = []
    target = folder / "damaged.safetensors"
    for variant in damaged_variants(content):
        outcome = classify(load, target, variant, expected, flat)
        counts[outcome] += 1
        if outcome.startswith(("other", "different")) and len(failures) < 10:
            failures.append(f"{variant.label}: {outcome}")
    return counts, failures


def test_the_fuzzed_checkpoint_round_trips_exactly(tmp_path):
    checkpoint = make_checkpoint()
    assert same(tg.load(tg.save(checkpoint, tmp_path / "c.safetensors")), checkpoint)


def test_every_damaged_checkpoint_raises_checkpoint_error_or_loads_unchanged(tmp_path):
    original = tg.save(make_checkpoint(), tmp_path / "original.safetensors")
    counts, failures = run_corpus(tg.load, original, tmp_path)
    assert not failures, (counts, failures)
    assert sum(counts.values()) >= MINIMUM_CASES, counts
    assert set(counts) <= {"CheckpointError", "identical content", "flat dict (foreign)"}, counts
    assert counts["flat dict (foreign)"] >= 3  # the plain foreign copies load, flat
