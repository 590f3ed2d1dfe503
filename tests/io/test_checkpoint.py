"""tg.save / tg.load and optimizer state dicts: exact round trips, standard files, clear errors."""

import hashlib
import io
import json
import math
import os
import socket
import stat
import struct
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import safetensors.numpy

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import checkpoint, nn, optim, safetensors_format
from tinygrad_ann.checkpoint import (
    CHECKSUM_KEY,
    FORMAT_KEY,
    MAX_DEPTH,
    MAX_STRING_LENGTH,
    STRUCTURE_KEY,
)


def make_model(seed: int = 0) -> nn.Module:
    tg.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def batch():
    rng = np.random.default_rng(1)
    return tg.tensor(rng.normal(size=(16, 4))), rng.integers(0, 3, size=16)


def train(model, optimizer, steps):
    inputs, labels = batch()
    for _ in range(steps):
        loss = F.cross_entropy(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def weights(model):
    return {name: p.data.copy() for name, p in model.named_parameters()}


# ------------------------------------------------------------------ files
def test_a_state_dict_is_a_plain_safetensors_file_keyed_by_the_state_dict_names(tmp_path):
    model = make_model()
    path = tg.save(model.state_dict(), tmp_path / "model.safetensors")
    read = safetensors.numpy.load_file(str(path))
    assert sorted(read) == sorted(name for name, _ in model.named_parameters())
    for name, parameter in model.named_parameters():
        assert read[name].dtype == parameter.dtype and read[name].shape == parameter.shape
        np.testing.assert_array_equal(read[name], parameter.data)


def test_state_dict_round_trip_restores_the_model_exactly(tmp_path):
    model, other = make_model(0), make_model(1)
    path = tg.save(model.state_dict(), tmp_path / "model.safetensors")
    loaded = tg.load(path)
    assert all(isinstance(value, tg.Tensor) for value in loaded.values())
    other.load_state_dict(loaded)
    for name, array in weights(model).items():
        assert weights(other)[name].tobytes() == array.tobytes()


def test_a_nested_checkpoint_comes_back_with_its_structure_and_types(tmp_path):
    model = make_model()
    checkpoint = {
        "model": model.state_dict(),
        "epoch": 7,
        "note": "lr 0.05",
        "best": 0.125,
        "finished": False,
        "resumed_from": None,
        "history": [1.5, 0.75, float("inf")],
        "shape": (3, 4),
        "by_index": {0: np.arange(3), 2: "two"},
        "arrays": [np.ones((2, 2), dtype=np.float32), {"$tensor": "not an array"}],
    }
    loaded = tg.load(tg.save(checkpoint, tmp_path / "run.safetensors"))
    assert loaded["epoch"] == 7 and type(loaded["epoch"]) is int
    assert loaded["note"] == "lr 0.05"
    assert loaded["best"] == 0.125 and type(loaded["best"]) is float
    assert loaded["finished"] is False and loaded["resumed_from"] is None
    assert loaded["history"] == [1.5, 0.75, float("inf")]
    assert loaded["shape"] == (3, 4) and type(loaded["shape"]) is tuple
    assert set(loaded["by_index"]) == {0, 2} and loaded["by_index"][2] == "two"
    np.testing.assert_array_equal(loaded["by_index"][0].data, np.arange(3))
    assert loaded["arrays"][0].dtype == np.float32
    assert loaded["arrays"][1] == {"$tensor": "not an array"}
    assert sorted(loaded["model"]) == sorted(model.state_dict())


@pytest.mark.parametrize(
    "dtype", [np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_]
)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3, 4)], ids=str)
def test_arrays_keep_dtype_shape_and_bytes(tmp_path, dtype, shape):
    array = np.asarray(np.random.default_rng(2).normal(size=shape) * 10).astype(dtype)
    loaded = tg.load(tg.save({"x": array}, tmp_path / "x.safetensors"))["x"]
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    assert loaded.data.tobytes() == array.tobytes()
    loaded.data[...] = 0  # ours to write: not a view of the file's bytes


def test_non_contiguous_arrays_are_saved_by_value(tmp_path):
    array = np.arange(12.0).reshape(3, 4).T
    loaded = tg.load(tg.save({"x": array}, tmp_path / "x.safetensors"))["x"]
    np.testing.assert_array_equal(loaded.data, array)


def test_a_file_from_elsewhere_loads_as_a_flat_dict_of_tensors(tmp_path):
    model = make_model()
    path = tmp_path / "foreign.safetensors"
    safetensors.numpy.save_file({k: v.data for k, v in model.state_dict().items()}, str(path))
    loaded = tg.load(path)
    other = make_model(3)
    other.load_state_dict(loaded)
    for name, array in weights(model).items():
        np.testing.assert_array_equal(weights(other)[name], array)


def test_files_get_the_permissions_open_would_give(tmp_path):
    previous = os.umask(0o022)
    try:
        path = tg.save({"x": np.zeros(2)}, tmp_path / "x.safetensors")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_files_we_write_read_the_same_in_safetensors_and_carry_the_defined_checksum(tmp_path):
    checkpoint = {"model": make_model().state_dict(), "mask": np.array([True, False]), "n": 3}
    path = tg.save(checkpoint, tmp_path / "run.safetensors")
    read = safetensors.numpy.load_file(str(path))
    assert list(read) == [
        "model.0.weight",
        "model.0.bias",
        "model.2.weight",
        "model.2.bias",
        "mask",
    ]
    for name, tensor in checkpoint["model"].items():
        assert read[f"model.{name}"].tobytes() == tensor.data.tobytes()
    np.testing.assert_array_equal(read["mask"], checkpoint["mask"])
    header = header_of(path)
    assert list(header) == [
        "__metadata__",
        *[f"model.{name}" for name in checkpoint["model"]],
        "mask",
    ]
    assert sorted(header["__metadata__"]) == [FORMAT_KEY, CHECKSUM_KEY, STRUCTURE_KEY]
    assert header["__metadata__"][FORMAT_KEY] == "1"
    content = path.read_bytes()
    assert sealed(content) == content  # the stored digest is the one the definition gives
    assert struct.unpack("<Q", content[:8])[0] % 8 == 0  # padded like safetensors pads


@pytest.mark.parametrize(
    "dtype",
    ["<f8", "<f4", "<f2", "<i8", "<i4", "<i2", "i1", "<u8", "<u4", "<u2", "u1", "?"],
)
def test_files_safetensors_writes_load_identically_in_the_files_order(tmp_path, dtype):
    rng = np.random.default_rng(5)
    arrays = {
        name: np.asarray(rng.normal(size=shape) * 50).astype(dtype)
        for name, shape in [("z", (2, 3)), ("a", ()), ("m", (0, 4)), ("b", (7,))]
    }
    path = tmp_path / "theirs.safetensors"
    safetensors.numpy.save_file(arrays, str(path), metadata={"format": "np"})
    loaded = tg.load(path)
    assert list(loaded) == [name for name in header_of(path) if name != "__metadata__"]
    assert list(tg.load(path)) == list(loaded)  # the same order every time
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        assert loaded[name].data.tobytes() == array.tobytes()


def test_big_endian_arrays_are_stored_little_endian_and_load_native(tmp_path):
    array = np.arange(6, dtype=">i4").reshape(2, 3)
    path = tg.save({"x": array}, tmp_path / "x.safetensors")
    np.testing.assert_array_equal(safetensors.numpy.load_file(str(path))["x"], array)
    loaded = tg.load(path)["x"].data
    assert loaded.dtype == np.dtype("int32") and loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array)


def test_numpys_128_bit_generator_state_round_trips(tmp_path):
    rng = np.random.default_rng(12345)
    rng.random(3)
    path = tg.save({"rng": rng.bit_generator.state}, tmp_path / "rng.safetensors")
    again = np.random.default_rng()
    again.bit_generator.state = tg.load(path)["rng"]
    assert again.random() == rng.random()


def test_loading_holds_about_one_copy_of_the_data(tmp_path):
    rng = np.random.default_rng(0)
    checkpoint = {f"layer{i}": rng.normal(size=(500, 1000)) for i in range(5)}  # 20 MB
    path = tg.save(checkpoint, tmp_path / "big.safetensors")
    data_size = sum(array.nbytes for array in checkpoint.values())
    tracemalloc.start()
    try:
        loaded = tg.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * data_size, peak / data_size
    assert all(np.array_equal(loaded[k].data, v) for k, v in checkpoint.items())


def test_saving_streams_the_arrays_instead_of_building_the_file_in_memory(tmp_path):
    rng = np.random.default_rng(0)
    checkpoint = {f"layer{i}": rng.normal(size=(500, 1000)) for i in range(5)}  # 20 MB
    data_size = sum(array.nbytes for array in checkpoint.values())
    tracemalloc.start()
    try:
        tg.save(checkpoint, tmp_path / "big.safetensors")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.1 * data_size, peak / data_size


# ------------------------------------------------------------------ what cannot be saved
@pytest.mark.parametrize(
    ("checkpoint", "message"),
    [
        ({"x": np.zeros(2, dtype=np.complex128)}, "complex128"),
        ({"x": np.array(["a"])}, "cannot store"),
        ({"x": object()}, "object"),
        ({"x": {1.5: 2}}, "keys must be strings or ints"),
        ({"x": {(1, 2): 2}}, "keys must be strings or ints"),
    ],
)
def test_unsupported_values_are_refused_and_the_old_file_kept(tmp_path, checkpoint, message):
    path = tg.save({"old": np.ones(3)}, tmp_path / "c.safetensors")
    before = path.read_bytes()
    with pytest.raises(TypeError, match=message):
        tg.save(checkpoint, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.safetensors"]


def test_two_entries_under_one_key_are_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"'a\.b'"):
        tg.save({"a.b": np.zeros(1), "a": {"b": np.ones(1)}}, tmp_path / "c.safetensors")


def test_the_root_must_be_a_dict(tmp_path):
    with pytest.raises(TypeError, match="expected a dict"):
        tg.save(np.zeros(3), tmp_path / "c.safetensors")


def test_the_metadata_key_of_safetensors_is_refused_as_an_array_name(tmp_path):
    with pytest.raises(ValueError, match="'__metadata__', which safetensors reserves"):
        tg.save({"__metadata__": np.zeros(1)}, tmp_path / "c.safetensors")
    loaded = tg.load(tg.save({"__metadata__": {"x": 1}}, tmp_path / "c.safetensors"))
    assert loaded == {"__metadata__": {"x": 1}}  # no array there: an ordinary key


def nested(levels):
    value = 0
    for _ in range(levels - 1):
        value = [value]
    return {"deep": value}  # the root dict is level 1


def test_nesting_up_to_the_limit_round_trips_and_deeper_is_refused(tmp_path):
    path = tg.save(nested(MAX_DEPTH), tmp_path / "c.safetensors")
    assert tg.load(path) == nested(MAX_DEPTH)
    with pytest.raises(ValueError, match=r"deep\.0\.0.* more than 100 levels deep"):
        tg.save(nested(MAX_DEPTH + 1), tmp_path / "c.safetensors")
    itself = []
    itself.append(itself)
    with pytest.raises(ValueError, match="does a container hold itself"):
        tg.save({"loop": itself}, tmp_path / "c.safetensors")


def test_integers_up_to_128_bits_round_trip_and_larger_are_refused(tmp_path):
    edge = {"top": 2**128 - 1, "bottom": -(2**128) + 1, "keyed": {2**100: "x"}}
    assert tg.load(tg.save(edge, tmp_path / "c.safetensors")) == edge
    for too_big in [{"n": 2**128}, {"n": -(2**128)}, {"n": 10**5000}, {"d": {2**200: 1}}]:
        with pytest.raises(ValueError, match=r"integer of \d+ bits, outside"):
            tg.save(too_big, tmp_path / "c.safetensors")


def test_strings_longer_than_the_limit_are_refused(tmp_path):
    with pytest.raises(ValueError, match="note is a string of 16777217 characters"):
        tg.save({"note": "x" * (MAX_STRING_LENGTH + 1)}, tmp_path / "c.safetensors")
    with pytest.raises(ValueError, match="a key of the checkpoint is a string"):
        tg.save({"x" * (MAX_STRING_LENGTH + 1): 1}, tmp_path / "c.safetensors")


def test_the_array_count_and_header_size_limits_hold_at_save_and_load(tmp_path, monkeypatch):
    path = tg.save({"a": np.ones(1), "b": np.ones(1), "c": np.ones(1)}, tmp_path / "c.safetensors")
    monkeypatch.setattr(safetensors_format, "MAX_ARRAYS", 2)
    with pytest.raises(ValueError, match="3 arrays, more than the 2"):
        tg.save({"a": np.ones(1), "b": np.ones(1), "c": np.ones(1)}, tmp_path / "d.safetensors")
    with pytest.raises(tg.CheckpointError, match="3 arrays, more than 2"):
        tg.load(path)
    monkeypatch.setattr(safetensors_format, "MAX_HEADER_BYTES", 64)
    with pytest.raises(ValueError, match="more than the 64 allowed"):
        tg.save({"a": np.ones(1)}, tmp_path / "d.safetensors")
    with pytest.raises(tg.CheckpointError, match="exceeds the limit of 64 bytes"):
        tg.load(path)


# ------------------------------------------------------------------ what cannot be loaded
def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        tg.load(tmp_path / "nothing.safetensors")
    assert str(caught.value) == f"tg.load: no such file: {tmp_path / 'nothing.safetensors'}"


@pytest.mark.parametrize(
    "damage",
    [
        lambda content: content[: len(content) // 2],  # truncated
        lambda content: content[:5],  # shorter than the length field
        lambda content: b"",  # empty
        lambda content: b"PK\x03\x04 this is a zip file, not safetensors" * 4,
        lambda content: struct.pack("<Q", 10) + b"not json!!" + content[18:],
    ],
    ids=["truncated", "stub", "empty", "other-format", "bad-header"],
)
def test_damaged_files_raise_checkpoint_error_naming_the_path(tmp_path, damage):
    path = tg.save(make_model().state_dict(), tmp_path / "model.safetensors")
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(tg.CheckpointError, match=r"model\.safetensors"):
        tg.load(path)


# The other interpreter imports the package this one imported, wherever that lies: from
# PYTHONPATH, and with -P so that no copy in its working folder comes first.
SAME_PACKAGE = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(tg.__file__))}


def load_in_a_subprocess(path, expected="tg.CheckpointError", as_nobody=False):
    """tg.load(path) in another interpreter (so a regression that hangs fails after 20 s);
    prints the ``expected`` error it raises. ``as_nobody``: as an unprivileged user, when
    the suite runs as root."""
    code = (
        "import os, sys, tinygrad_ann as tg\n"
        f"if {as_nobody} and os.geteuid() == 0:\n"
        "    os.setgid(65534); os.setuid(65534)\n"
        "try:\n    tg.load(sys.argv[1])\n"
        f"except {expected} as error:\n    print(error)"
    )
    result = subprocess.run(
        [sys.executable, "-P", "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=20,
        env=SAME_PACKAGE,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_before_anything_is_read(tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)  # no writer: a blocking open or read would wait forever
    message = (
        f"tg.load: {fifo} is a named pipe (FIFO), not a regular file; a checkpoint is read from "
        "a regular file (nothing was read)"
    )
    assert load_in_a_subprocess(fifo) == message + "\n"
    with pytest.raises(tg.CheckpointError) as caught:  # here too, now that it cannot hang
        tg.load(fifo)
    assert str(caught.value) == message


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_an_endless_device_is_refused_before_anything_is_read():
    # Read to the end, /dev/zero would fill the memory.
    message = (
        "tg.load: /dev/zero is a character device, not a regular file; a checkpoint is read "
        "from a regular file (nothing was read)"
    )
    assert load_in_a_subprocess("/dev/zero") == message + "\n"
    with pytest.raises(tg.CheckpointError) as caught:  # here too, now that it cannot hang
        tg.load("/dev/zero")
    assert str(caught.value) == message


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets here")
def test_a_socket_is_refused(tmp_path):
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "s"))
        message = (
            f"tg.load: {tmp_path / 's'} is a socket or a device, not a regular file; a "
            "checkpoint is read from a regular file"
        )
        assert load_in_a_subprocess(tmp_path / "s") == message + "\n"
        with pytest.raises(tg.CheckpointError) as caught:
            tg.load(tmp_path / "s")
        assert str(caught.value) == message


def test_a_folder_is_refused_as_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError) as caught:
        tg.load(tmp_path)
    assert str(caught.value) == f"tg.load: {tmp_path} is a folder, not a checkpoint file"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_an_unreadable_file_raises_permission_error_naming_it(tmp_path):
    """Loaded in a process of its own, as an unprivileged user when the suite runs as root."""
    path = tg.save({"x": np.ones(1)}, tmp_path / "secret.safetensors")
    path.chmod(0)
    tmp_path.chmod(0o755)  # the unprivileged user must reach the file to be refused by it
    printed = load_in_a_subprocess(path, expected="PermissionError", as_nobody=True)
    assert printed == f"tg.load: no permission to read {path}\n"


def foreign_file(path, header, data=b""):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


@pytest.mark.parametrize(
    ("header", "data", "message"),
    [
        ({"x": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}, bytes(4), "65 dim"),
        ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, bytes(4), "takes 64 bits"),
        ({"x": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02", "0 and 1"),
        ({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(8), "has 8 bytes"),
        ({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4), "non-negative"),
        ({"x": {"dtype": "Q8", "shape": [1], "data_offsets": [0, 1]}}, bytes(1), "unknown dtype"),
        ({"__metadata__": {"n": 1}}, b"", "is not an object of strings"),
        ([1, 2], b"", "header is not a JSON object"),
    ],
    ids=["ndim", "size", "bool-byte", "trailing-data", "negative-dim", "dtype", "meta", "array"],
)
def test_headers_that_safetensors_would_refuse_are_refused(tmp_path, header, data, message):
    path = foreign_file(tmp_path / "f.safetensors", header, data)
    with pytest.raises(tg.CheckpointError, match=message):
        tg.load(path)


def test_a_foreign_header_with_spaces_and_newlines_loads(tmp_path):
    raw = b'{\n  "x": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}\n}   '
    (tmp_path / "f.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + b"\x01\x02")
    assert tg.load(tmp_path / "f.safetensors")["x"].data.tolist() == [1, 2]


@pytest.mark.parametrize("where", [-1, -100, b"epoch"], ids=["last-byte", "data", "header"])
def test_a_flipped_bit_anywhere_is_a_checksum_mismatch(tmp_path, where):
    path = tg.save({"model": make_model().state_dict(), "epoch": 3}, tmp_path / "c.safetensors")
    content = bytearray(path.read_bytes())
    position = where if isinstance(where, int) else content.index(where) + len(where) - 1
    content[position] ^= 0x01  # in the header: "epoch" becomes "epoci", still valid JSON
    path.write_bytes(bytes(content))
    with pytest.raises(tg.CheckpointError, match="is damaged: checksum mismatch"):
        tg.load(path)


def header_of(path):
    with open(path, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        return json.loads(file.read(length))


def sealed(content: bytes) -> bytes:
    """``content`` with its checksum computed by the documented definition: the SHA-256 of
    every byte of the file, the checksum's 64 digits counted as the character 0."""
    literal = b'"tinygrad_ann.sha256":"'
    start = content.index(literal) + len(literal)
    zeroed = content[:start] + b"0" * 64 + content[start + 64 :]
    return zeroed[:start] + hashlib.sha256(zeroed).hexdigest().encode() + zeroed[start + 64 :]


def write_with_safetensors(path, arrays, structure_json, **metadata):
    """A checkpoint written by safetensors itself, sealed by the definition above."""
    metadata = {FORMAT_KEY: "1", CHECKSUM_KEY: "0" * 64, STRUCTURE_KEY: structure_json, **metadata}
    path.write_bytes(sealed(safetensors.numpy.save(arrays, metadata=metadata)))


def rewrite_structure(path, edit, **metadata):
    """Write the same arrays with an edited structure, sealed (damaged, but not by chance)."""
    arrays = safetensors.numpy.load_file(str(path))
    structure = json.loads(header_of(path)["__metadata__"][STRUCTURE_KEY])
    write_with_safetensors(path, arrays, edit(structure), **metadata)


def test_a_checkpoint_written_by_safetensors_with_the_defined_checksum_loads(tmp_path):
    path = tg.save({"w": np.ones(2), "step": 3}, tmp_path / "c.safetensors")
    rewrite_structure(path, json.dumps)
    loaded = tg.load(path)
    assert loaded["step"] == 3 and loaded["w"].data.tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: "{not json", "damaged checkpoint: its structure is not JSON"),
        (lambda s: "[]", "structure is not a dict"),
        (lambda s: json.dumps({**s, "w": {"$tensor": "gone"}}), "'gone', which is missing"),
        (lambda s: json.dumps({"step": 3}), "does not mention: \\['w'\\]"),
        (lambda s: json.dumps({**s, "v": s["w"]}), "uses the array 'w' twice"),
        (lambda s: json.dumps({**s, "t": {"$tuple": 5}}), "malformed \\$tuple"),
        (lambda s: json.dumps({**s, "d": {"$dict": [[1, 2], [1, 3]]}}), "key 1 twice"),
        (lambda s: json.dumps({**s, "d": {"$dict": [[1.5, 2]]}}), "not \\[key, value\\]"),
        (lambda s: json.dumps({**s, "m": {"$tuple": [], "x": 1}}), "\\$tuple and more keys"),
        (lambda s: '{"step":3,"step":4,' + json.dumps(s)[1:], "'step' twice"),
        (lambda s: json.dumps({**s, "n": 2**128}), "integer of 39 characters"),
        (lambda s: "[" * 400 + "]" * 400, "nests 400 levels deep, more than 301"),
        (lambda s: json.dumps({**s, "deep": json.loads("[" * 101 + "]" * 101)}), "100 levels"),
    ],
    ids=[
        "not-json",
        "not-a-dict",
        "missing-array",
        "unmentioned-array",
        "array-twice",
        "bad-tuple",
        "duplicate-int-key",
        "float-key",
        "marker-and-more",
        "duplicate-key",
        "huge-int",
        "deep-json",
        "deep-structure",
    ],
)
def test_a_damaged_structure_is_an_error(tmp_path, edit, message):
    path = tg.save({"w": np.ones(2), "step": 3}, tmp_path / "c.safetensors")
    rewrite_structure(path, edit)
    with pytest.raises(tg.CheckpointError, match=message):
        tg.load(path)


@pytest.mark.parametrize(
    ("metadata", "seal", "message"),
    [
        ({FORMAT_KEY: "2"}, True, "newer tinygrad_ann: its format is '2'"),
        ({"tinygrad_ann.extra": "1"}, True, "has the unknown 'tinygrad_ann.extra'"),
        ({}, False, "is damaged: checksum mismatch"),
    ],
    ids=["format", "unknown-key", "checksum"],
)
def test_our_metadata_must_be_exactly_what_save_writes(tmp_path, metadata, seal, message):
    path = tg.save({"w": np.ones(2)}, tmp_path / "c.safetensors")
    structure = header_of(path)["__metadata__"][STRUCTURE_KEY]
    content = safetensors.numpy.save(
        {"w": np.ones(2)},
        metadata={FORMAT_KEY: "1", CHECKSUM_KEY: "0" * 64, STRUCTURE_KEY: structure, **metadata},
    )
    path.write_bytes(sealed(content) if seal else content)
    with pytest.raises(tg.CheckpointError, match=message):
        tg.load(path)


def test_a_checkpoint_that_does_not_fit_leaves_the_model_untouched(tmp_path):
    model = make_model()
    before = weights(model)
    tg.manual_seed(4)
    wider = nn.Sequential(nn.Linear(4, 9), nn.Tanh(), nn.Linear(9, 3))
    path = tg.save(wider.state_dict(), tmp_path / "wider.safetensors")
    with pytest.raises(nn.StateDictError, match=r"0\.weight"):
        model.load_state_dict(tg.load(path))
    for name, array in before.items():
        np.testing.assert_array_equal(weights(model)[name], array)


# ------------------------------------------------------------------ optimizers
def test_optimizer_state_dict_has_pytorchs_layout():
    model = make_model()
    adam = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)
    assert adam.state_dict() == {
        "state": {},
        "param_groups": [
            {
                "lr": 0.01,
                "betas": (0.8, 0.9),
                "eps": 1e-8,
                "weight_decay": 0.1,
                "amsgrad": False,
                "params": [0, 1, 2, 3],
            }
        ],
    }
    train(model, adam, 1)
    state = adam.state_dict()["state"]
    assert sorted(state) == [0, 1, 2, 3]
    assert set(state[0]) == {"step", "exp_avg", "exp_avg_sq"} and state[0]["step"] == 1
    assert state[0]["exp_avg"].shape == model[0].weight.shape
    state[0]["exp_avg"].data[...] = 0  # a copy: the optimizer's own state is untouched
    assert np.any(adam.state[0]["exp_avg"] != 0)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda params: optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda params: optim.Adam(params, lr=0.01, weight_decay=0.01),
    ],
    ids=["sgd-momentum", "adam"],
)
def test_resuming_from_a_checkpoint_is_bitwise_exact(tmp_path, make_optimizer):
    straight = make_model()
    straight_optimizer = make_optimizer(straight.parameters())
    train(straight, straight_optimizer, 20)

    first = make_model()
    first_optimizer = make_optimizer(first.parameters())
    train(first, first_optimizer, 10)
    path = tg.save(
        {"model": first.state_dict(), "optimizer": first_optimizer.state_dict(), "step": 10},
        tmp_path / "run.safetensors",
    )
    checkpoint = tg.load(path)
    resumed = make_model(seed=5)  # different initial weights, all overwritten
    resumed_optimizer = make_optimizer(resumed.parameters())
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    train(resumed, resumed_optimizer, 20 - checkpoint["step"])
    for name, array in weights(straight).items():
        assert weights(resumed)[name].tobytes() == array.tobytes(), name


def test_hyperparameters_come_back_with_the_state():
    model = make_model()
    source = optim.SGD(model.parameters(), lr=0.3, momentum=0.5)
    target = optim.SGD(model.parameters(), lr=0.1)
    target.load_state_dict(source.state_dict())
    assert (target.lr, target.momentum, target.weight_decay) == (0.3, 0.5, 0.0)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: {"state": s["state"]}, "'param_groups'"),
        (lambda s: {**s, "param_groups": s["param_groups"] * 2}, "one parameter group"),
        (
            lambda s: {**s, "param_groups": [{**s["param_groups"][0], "params": [0, 1]}]},
            "for 2 parameters, this optimizer has 4",
        ),
        (lambda s: {**s, "param_groups": [{**s["param_groups"][0], "lr": -1.0}]}, "lr"),
        (
            lambda s: {**s, "param_groups": [{**s["param_groups"][0], "betas": (0.9,)}]},
            "betas",
        ),
        (lambda s: {**s, "state": {9: s["state"][0]}}, "9"),
        (lambda s: {**s, "state": {0: {**s["state"][0], "momentum": 1}}}, "momentum"),
        (
            lambda s: {**s, "state": {0: {**s["state"][0], "exp_avg": np.zeros(3)}}},
            "shape \\(3,\\)",
        ),
        (
            lambda s: {
                **s,
                "state": {
                    0: {**s["state"][0], "exp_avg": s["state"][0]["exp_avg"].data.astype("f4")}
                },
            },
            "float32",
        ),
        (lambda s: {**s, "state": {0: {**s["state"][0], "step": 1.5}}}, "step"),
    ],
    ids=[
        "no-groups",
        "two-groups",
        "param-count",
        "bad-lr",
        "bad-betas",
        "bad-index",
        "unknown-entry",
        "shape",
        "dtype",
        "step",
    ],
)
def test_a_state_dict_that_does_not_fit_changes_nothing(edit, message):
    model = make_model()
    adam = optim.Adam(model.parameters(), lr=0.01)
    train(model, adam, 2)
    saved = adam.state_dict()
    other = optim.Adam(model.parameters(), lr=0.05)
    train(model, other, 1)
    before = other.state_dict()
    with pytest.raises(nn.StateDictError, match=message) as error:
        other.load_state_dict(edit(saved))
    assert "not changed" in str(error.value)
    after = other.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for index, entry in before["state"].items():
        assert after["state"][index]["step"] == entry["step"]
        np.testing.assert_array_equal(after["state"][index]["exp_avg"].data, entry["exp_avg"].data)


def test_a_key_that_is_not_valid_unicode_is_refused_and_a_value_round_trips(tmp_path):
    with pytest.raises(ValueError, match="not valid Unicode"):
        tg.save({"bad\ud800": np.zeros(1)}, tmp_path / "c.safetensors")
    loaded = tg.load(tg.save({"note": "lone \ud800 surrogate"}, tmp_path / "c.safetensors"))
    assert loaded == {"note": "lone \ud800 surrogate"}


# ------------------------------------------------------------------ files from before checksums
BEFORE_CHECKSUMS = os.path.join(
    os.path.dirname(__file__), "data", "checkpoint_before_checksums.safetensors"
)


def checkpoint_of_the_recipe():
    """What tests/io/data/checkpoint_before_checksums.safetensors holds: this recipe, saved by
    the tg.save of the version before checksums."""
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(tg.ones(4, 2)).sum().backward()
    opt.step()
    saved = opt.state_dict()
    del saved["param_groups"][0]["amsgrad"]  # saved before Adam had amsgrad
    return {
        "model": model.state_dict(),
        "optimizer": saved,
        "epoch": 7,
        "note": "written before checksums",
        "pair": (1, 2.5),
        "by_id": {3: "three"},
        "flags": np.array([True, False]),
    }


def assert_same_checkpoint(loaded, expected):
    assert type(loaded) is type(expected)
    if isinstance(expected, tg.Tensor | np.ndarray):
        expected = np.asarray(expected.data if isinstance(expected, tg.Tensor) else expected)
        assert loaded.dtype == expected.dtype and loaded.shape == expected.shape
        np.testing.assert_array_equal(loaded.data, expected)
    elif isinstance(expected, dict):
        assert list(loaded) == list(expected)
        for key in expected:
            assert_same_checkpoint(loaded[key], expected[key])
    elif isinstance(expected, list | tuple):
        assert len(loaded) == len(expected)
        for a, b in zip(loaded, expected):
            assert_same_checkpoint(a, b)
    else:
        assert loaded == expected


def test_a_checkpoint_written_before_checksums_still_loads():
    loaded = tg.load(BEFORE_CHECKSUMS)
    expected = checkpoint_of_the_recipe()
    expected["flags"] = tg.tensor(expected["flags"])
    assert_same_checkpoint(loaded, expected)


def test_a_checkpoint_resaved_from_before_checksums_is_sealed(tmp_path):
    path = tg.save(tg.load(BEFORE_CHECKSUMS), tmp_path / "resealed.safetensors")
    assert set(header_of(path)["__metadata__"]) == {FORMAT_KEY, CHECKSUM_KEY, STRUCTURE_KEY}
    assert_same_checkpoint(tg.load(path), tg.load(BEFORE_CHECKSUMS))


def test_a_sealed_file_that_lost_its_format_and_checksum_keys_is_damaged(tmp_path):
    """Only the structure key left, but a structure of today (no version around it)."""
    path = tg.save({"w": np.ones(2), "step": 3}, tmp_path / "c.safetensors")
    structure = header_of(path)["__metadata__"][STRUCTURE_KEY]
    path.write_bytes(safetensors.numpy.save({"w": np.ones(2)}, metadata={STRUCTURE_KEY: structure}))
    with pytest.raises(tg.CheckpointError, match=r"not one an older tg\.save wrote"):
        tg.load(path)


def test_saving_into_a_missing_folder_names_the_folder_and_creates_nothing(tmp_path):
    target = tmp_path / "runs" / "today" / "c.safetensors"
    with pytest.raises(FileNotFoundError, match=r"tg\.save: cannot write .*runs.*does not exist"):
        tg.save({"w": np.ones(2)}, target)
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------------ messages and limits, exactly
def refusal(path) -> str:
    """What tg.load says of ``path`` after its name."""
    with pytest.raises(tg.CheckpointError) as caught:
        tg.load(path)
    message = str(caught.value)
    assert message.startswith(f"tg.load: {path} "), message
    return message[len(f"tg.load: {path} ") :]


NOT_SAFETENSORS = "is not a valid safetensors file (truncated or corrupted?): "
DAMAGED = "is a damaged checkpoint: "


def test_the_length_field_needs_8_bytes_and_the_header_must_fit_in_the_file(tmp_path):
    path = tmp_path / "f.safetensors"
    path.write_bytes(bytes(7))
    assert refusal(path) == NOT_SAFETENSORS + "it has 7 bytes, fewer than a header's length"
    path.write_bytes(struct.pack("<Q", 0))  # 8 bytes: an empty header, which is not JSON
    assert refusal(path).startswith(NOT_SAFETENSORS + "its header is not JSON (Expecting value")
    raw = b'{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}'
    path.write_bytes(struct.pack("<Q", len(raw) + 3) + raw + b"\x01\x02")
    assert refusal(path) == NOT_SAFETENSORS + (
        f"it is truncated, or its header length is wrong (the header claims {len(raw) + 3} "
        f"bytes, {len(raw) + 2} follow the length field)"
    )
    path.write_bytes(struct.pack("<Q", len(raw) + 2) + raw + b"\x01\x02")  # all of it header
    assert refusal(path).startswith(NOT_SAFETENSORS + "its header is not JSON (Extra data")
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\x01\x02")
    assert tg.load(path)["x"].data.tolist() == [1, 2]


def test_a_header_of_exactly_max_header_bytes_loads_and_saves(tmp_path, monkeypatch):
    path = tg.save({"w": np.ones(2)}, tmp_path / "c.safetensors")
    (length,) = struct.unpack("<Q", path.read_bytes()[:8])
    monkeypatch.setattr(safetensors_format, "MAX_HEADER_BYTES", length)
    assert tg.load(tg.save({"w": np.ones(2)}, path))["w"].data.tolist() == [1.0, 1.0]
    monkeypatch.setattr(safetensors_format, "MAX_HEADER_BYTES", length - 1)
    assert refusal(path) == NOT_SAFETENSORS + (
        f"its header length {length} exceeds the limit of {length - 1} bytes"
    )
    with pytest.raises(ValueError) as caught:
        tg.save({"w": np.ones(2)}, path)
    assert str(caught.value) == (
        "tg.save: the checkpoint's header (its keys, shapes and non-array values) would take "
        f"{length} bytes, more than the {length - 1} allowed; keep large data in arrays"
    )


def test_exactly_max_arrays_arrays_save_and_load_and_one_more_is_refused(tmp_path, monkeypatch):
    three = {"a": np.ones(1), "b": np.ones(1), "c": np.ones(1)}
    monkeypatch.setattr(safetensors_format, "MAX_ARRAYS", 3)
    path = tg.save(three, tmp_path / "c.safetensors")
    assert sorted(tg.load(path)) == ["a", "b", "c"]
    foreign = tmp_path / "f.safetensors"
    safetensors.numpy.save_file(three, str(foreign))
    assert sorted(tg.load(foreign)) == ["a", "b", "c"]
    monkeypatch.setattr(safetensors_format, "MAX_ARRAYS", 2)
    with pytest.raises(ValueError) as caught:
        tg.save(three, tmp_path / "d.safetensors")
    assert str(caught.value) == (
        "tg.save: the checkpoint holds 3 arrays, more than the 2 a checkpoint may hold; "
        "split it into several files"
    )
    assert refusal(foreign) == NOT_SAFETENSORS + "it holds 3 arrays, more than 2"


def test_the_checksum_mismatch_message(tmp_path):
    path = tg.save({"w": np.ones(2)}, tmp_path / "c.safetensors")
    content = bytearray(path.read_bytes())
    content[-1] ^= 0x01
    path.write_bytes(bytes(content))
    assert refusal(path) == (
        "is damaged: checksum mismatch (its bytes are not the ones tg.save wrote: a flipped "
        "bit, a partial copy or an edit)"
    )


def test_the_header_is_compact_json_padded_with_at_most_7_spaces(tmp_path):
    for key in ["ké", *("k" * n for n in range(1, 9))]:  # every header length modulo 8
        path = tg.save({key: np.ones(1, dtype=np.uint8), "n": 1}, tmp_path / "c.safetensors")
        content = path.read_bytes()
        (length,) = struct.unpack("<Q", content[:8])
        raw = content[8 : 8 + length]
        text = raw.rstrip(b" ")
        assert length % 8 == 0 and len(raw) - len(text) < 8
        assert f'"{key}":'.encode() in text  # UTF-8, not \\u escapes
        compact = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
        assert text == compact.encode()
        structure = {key: {"$tensor": key}, "n": 1}  # compact, and ASCII: \u escapes
        assert header_of(path)["__metadata__"][STRUCTURE_KEY] == json.dumps(
            structure, separators=(",", ":")
        )


def entry(**fields):
    return {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], **fields}


@pytest.mark.parametrize(
    ("header", "data", "problem"),
    [
        (
            {"x": [1]},
            b"",
            "the entry of tensor 'x' is not an object of exactly dtype, shape and data_offsets",
        ),
        (
            {"x": {**entry(), "more": 1}},
            b"\0",
            "the entry of tensor 'x' is not an object of exactly dtype, shape and data_offsets",
        ),
        ({"x": entry(dtype=5)}, b"\0", "the entry of tensor 'x' has the unknown dtype 5"),
        (
            {"x": entry(shape="ab")},
            b"\0",
            "the entry of tensor 'x' has the shape 'ab', not a list of non-negative integers",
        ),
        (
            {"x": entry(shape=[True])},
            b"\0",
            "the entry of tensor 'x' has the shape [True], not a list of non-negative integers",
        ),
        (
            {"x": entry(shape=[1] * 65)},
            b"\0",
            "the entry of tensor 'x' has 65 dimensions, more than 64",
        ),
        *[
            (
                {"x": entry(data_offsets=offsets)},
                b"\0",
                f"the entry of tensor 'x' has the "
                f"data_offsets {offsets!r}, not [begin, end] with 0 <= begin <= end",
            )
            for offsets in ([0], [0, 1, 2], [1, 0], [-1, 0], [0.0, 1], "01")
        ],
        (
            {"x": entry(dtype="F32", shape=[2], data_offsets=[0, 4])},
            bytes(4),
            "the entry of tensor 'x' says 4 bytes, but its shape [2] of F32 takes 64 bits",
        ),
        (
            {"x": entry(dtype="F4", shape=[3], data_offsets=[0, 2])},
            bytes(2),
            "the entry of tensor 'x' says 2 bytes, but its shape [3] of F4 takes 12 bits",
        ),
        (
            {"x": entry(shape=[2**62, 2, 0], data_offsets=[0, 0])},
            b"",
            "the entry of tensor 'x' "
            "has the shape [4611686018427387904, 2, 0], too large for an array",
        ),
        (
            {"a": entry(), "b": entry()},
            b"\0",
            "the data of tensor 'b' (0 to 1) overlaps the previous one",
        ),
        (
            {"a": entry(), "b": entry(data_offsets=[2, 3])},
            bytes(3),
            "the data of tensor 'b' (2 to 3) leaves a gap",
        ),
        (
            {"a": entry()},
            bytes(2),
            "its tensors' data ends at byte 1 of the data section, which "
            "has 2 bytes to the end of the file",
        ),
        (
            {"a": entry(dtype="BOOL", shape=[2], data_offsets=[0, 2])},
            b"\x01\x02",
            "the bool tensor 'a' holds bytes other than 0 and 1",
        ),
        ({"__metadata__": {"n": 1}}, b"", "its __metadata__ is not an object of strings"),
        ({"__metadata__": ["n"]}, b"", "its __metadata__ is not an object of strings"),
        (
            {"x": {"dtype": "U8", "shape": [[1]], "data_offsets": [0, 1]}},
            b"\0",
            "its header nests 4 levels deep, more than 3",
        ),
        ({"x": entry(dtype=float("nan"))}, b"\0", "its header holds NaN, which is not JSON"),
    ],
)
def test_each_header_problem_is_named_exactly(tmp_path, header, data, problem):
    path = foreign_file(tmp_path / "f.safetensors", header, data)
    assert refusal(path) == NOT_SAFETENSORS + problem


@pytest.mark.parametrize(
    ("header", "data", "shape"),
    [
        ({"x": entry(shape=[1] * 64)}, b"\0", (1,) * 64),
        ({"x": entry(shape=[2**63 - 1, 0], data_offsets=[0, 0])}, b"", (2**63 - 1, 0)),
        ({"x": entry(dtype="BOOL", shape=[0], data_offsets=[0, 0])}, b"", (0,)),
        ({"x": entry(shape=[0], data_offsets=[0, 0]), "y": entry()}, b"\0", (0,)),
    ],
    ids=["64-dimensions", "largest-empty", "empty-bool", "empty-then-one"],
)
def test_headers_at_the_limits_load(tmp_path, header, data, shape):
    assert tg.load(foreign_file(tmp_path / "f.safetensors", header, data))["x"].shape == shape


@pytest.mark.parametrize(
    ("dtype", "shape", "size", "what"),
    [("BF16", [2], 4, "bfloat16"), ("F4", [2], 1, "float4"), ("F8_E4M3", [1], 1, "float8 e4m3")],
)
def test_a_dtype_numpy_lacks_is_named_with_a_way_out(tmp_path, dtype, shape, size, what):
    header = {"x": entry(dtype=dtype, shape=shape, data_offsets=[0, size])}
    path = foreign_file(tmp_path / "f.safetensors", header, bytes(size))
    assert refusal(path) == (
        f"is a valid safetensors file, but its tensor 'x' has dtype {dtype} ({what}), which NumPy "
        "and tinygrad_ann do not support. Convert it before saving, e.g. in PyTorch "
        "{name: t.float() for name, t in state_dict.items()}"
    )


HOLDS = (
    "a checkpoint holds Tensors, NumPy arrays, numbers, strings, bools, None, and lists, "
    "tuples and dicts of these"
)
KEYS = "dict keys must be strings or ints"
OUTSIDE = "outside the range a checkpoint stores (-2**128, 2**128); store it as a string"


@pytest.mark.parametrize(
    ("checkpoint", "error", "message"),
    [
        (
            np.zeros(2),
            TypeError,
            "tg.save: expected a dict (e.g. model.state_dict(), or a "
            "checkpoint dict of them), got ndarray",
        ),
        ({1.5: 2}, TypeError, f"tg.save: the checkpoint has a key 1.5 of type float; {KEYS}"),
        ({"a": {True: 1}}, TypeError, f"tg.save: a has a key True of type bool; {KEYS}"),
        ({"a": [1, {2}]}, TypeError, f"tg.save: a.1 is a set; {HOLDS}"),
        ({"a": object()}, TypeError, f"tg.save: a is an object; {HOLDS}"),
        ({"a": int}, TypeError, f"tg.save: a is a type; {HOLDS}"),
        (
            {"x": np.zeros(2, dtype=np.complex64)},
            TypeError,
            "tg.save: x has dtype complex64, "
            "which safetensors cannot store (booleans, integers and floats can)",
        ),
        ({"n": 2**128}, ValueError, f"tg.save: n is an integer of 129 bits, {OUTSIDE}"),
        ({"n": -(2**128)}, ValueError, f"tg.save: n is an integer of 129 bits, {OUTSIDE}"),
        (
            {"d": {2**200: 1}},
            ValueError,
            f"tg.save: a key of d is an integer of 201 bits, {OUTSIDE}",
        ),
        (
            {2**128: 1},
            ValueError,
            f"tg.save: a key of the checkpoint is an integer of 129 bits, {OUTSIDE}",
        ),
        (
            {"a.b": np.zeros(1), "a": {"b": np.ones(1)}},
            ValueError,
            "tg.save: two entries would "
            "both be stored under the key 'a.b' (e.g. 'a.b' and 'a' -> 'b'); rename one",
        ),
        (
            {"bad\ud800": np.zeros(1)},
            ValueError,
            "tg.save: the key 'bad\\ud800' is not valid "
            "Unicode (it holds a lone surrogate); rename it",
        ),
        (
            {"__metadata__": np.zeros(1)},
            ValueError,
            "tg.save: an array would be stored under the "
            "key '__metadata__', which safetensors reserves for the file's metadata; rename it",
        ),
    ],
)
def test_what_cannot_be_saved_is_named_exactly(tmp_path, checkpoint, error, message):
    with pytest.raises(error) as caught:
        tg.save(checkpoint, tmp_path / "c.safetensors")
    assert str(caught.value) == message
    assert list(tmp_path.iterdir()) == []


def test_nesting_deeper_than_max_depth_is_named_exactly(tmp_path):
    with pytest.raises(ValueError) as caught:
        tg.save({"a": nested(MAX_DEPTH)}, tmp_path / "c.safetensors")
    where = "a.deep" + ".0" * (MAX_DEPTH - 2)
    assert str(caught.value) == (
        f"tg.save: {where} nests dicts, lists and tuples more than 100 levels deep "
        "(does a container hold itself?)"
    )


def test_numpy_scalars_come_back_as_the_python_numbers_they_hold(tmp_path):
    saved = {"f": np.float32(0.5), "i": np.int64(-3), "u": np.uint8(7), "b": np.bool_(True)}
    loaded = tg.load(tg.save(saved, tmp_path / "c.safetensors"))
    assert loaded == {"f": 0.5, "i": -3, "u": 7, "b": True}
    assert [type(value) for value in loaded.values()] == [float, int, int, bool]


def test_tensors_are_saved_by_their_data_without_the_graph(tmp_path):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    loaded = tg.load(tg.save({"x": x, "y": x * 2}, tmp_path / "c.safetensors"))
    assert loaded["x"].data.tolist() == [1.0, 2.0] and loaded["y"].data.tolist() == [2.0, 4.0]
    assert not loaded["x"].requires_grad and not loaded["y"].requires_grad


def test_non_finite_floats_and_json_lookalike_strings_round_trip(tmp_path):
    saved = {
        "values": [float("nan"), float("inf"), -float("inf"), -0.0],
        "brackets": "[" * 400 + '"\\' + "{" * 400,  # brackets in strings nest nothing
        "$tuple": {"$dict": "$tensor"},
        "ids": {"$tensor": 1, 2: [3]},
    }
    loaded = tg.load(tg.save(saved, tmp_path / "c.safetensors"))
    assert math.isnan(loaded["values"][0])
    assert loaded["values"][1:] == [float("inf"), -float("inf"), -0.0]
    assert math.copysign(1.0, loaded["values"][3]) == -1.0
    assert loaded["brackets"] == saved["brackets"]
    assert loaded["$tuple"] == {"$dict": "$tensor"} and loaded["ids"] == {"$tensor": 1, 2: [3]}


def test_strings_of_exactly_max_string_length_save_and_load(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "MAX_STRING_LENGTH", 5)
    path = tg.save({"abcde": "vwxyz"}, tmp_path / "c.safetensors")
    assert tg.load(path) == {"abcde": "vwxyz"}
    with pytest.raises(ValueError) as caught:
        tg.save({"s": "uvwxyz"}, tmp_path / "d.safetensors")
    assert str(caught.value) == (
        "tg.save: s is a string of 6 characters, more than the 5 a checkpoint stores; store "
        "long text in a file of its own"
    )
    with pytest.raises(ValueError, match=r"^tg\.save: a key of the checkpoint is a string of 6 "):
        tg.save({"abcdef": 1}, tmp_path / "d.safetensors")
    keyed = tg.save({"d": {1: 2, "abcde": 3}}, tmp_path / "e.safetensors")
    monkeypatch.setattr(checkpoint, "MAX_STRING_LENGTH", 4)
    assert refusal(path) == DAMAGED + "its structure has a string of 5 characters, more than 4"
    assert refusal(keyed) == DAMAGED + "its structure has a string of 5 characters, more than 4"


def block_devices():
    folder = "/dev"
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    paths = [os.path.join(folder, name) for name in names]
    return [path for path in paths if stat.S_ISBLK(os.lstat(path).st_mode)]


@pytest.mark.skipif(os.name != "posix" or not block_devices(), reason="no block device here")
def test_a_block_device_is_refused_before_anything_is_read():
    for device in block_devices():
        try:
            tg.load(device)
        except tg.CheckpointError as error:
            message = str(error)
        except OSError:  # no permission, or no medium: try the next one
            continue
        if "a socket or a device" not in message:  # opened: named by its kind
            break
    else:
        pytest.skip("no block device that opens here")
    assert message == (
        f"tg.load: {device} is a block device, not a regular file; a checkpoint is read from a "
        "regular file (nothing was read)"
    )


class Trickle(io.RawIOBase):
    """A file whose reads return at most 3 bytes, and nothing from byte ``end`` on."""

    def __init__(self, file, end):
        self.file, self.end, self.position = file, end, 0

    def readable(self):
        return True

    def fileno(self):
        return self.file.fileno()

    def readinto(self, buffer):
        count = self.file.readinto(memoryview(buffer)[: min(3, self.end - self.position)])
        self.position += count
        return count

    def close(self):
        self.file.close()
        super().close()


def test_short_reads_are_continued_and_a_file_that_shrinks_is_refused(tmp_path, monkeypatch):
    saved = {"w": np.arange(5.0), "n": 2}
    path = tg.save(saved, tmp_path / "c.safetensors")
    size = path.stat().st_size
    real_fdopen = os.fdopen
    ends = iter([size, size - 1])
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: Trickle(real_fdopen(*a, **k), next(ends)))
    loaded = tg.load(path)
    assert loaded["n"] == 2 and loaded["w"].data.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert refusal(path) == NOT_SAFETENSORS + "it became shorter while being read"


def test_a_bad_key_is_named_among_keys_that_are_fine(tmp_path):
    with pytest.raises(ValueError) as caught:
        tg.save({"é": np.zeros(1), "bad\ud800": np.zeros(1)}, tmp_path / "c.safetensors")
    assert str(caught.value) == (
        "tg.save: the key 'bad\\ud800' is not valid Unicode (it holds a lone surrogate); rename it"
    )


@pytest.mark.parametrize(
    ("name_length", "shown"),
    [(58, None), (59, 57)],
    ids=["60-characters-whole", "61-characters-cut"],
)
def test_names_in_messages_are_cut_after_60_characters(tmp_path, name_length, shown):
    name = "n" * name_length
    header = {name: entry(dtype="BOOL", data_offsets=[0, 1])}
    path = foreign_file(tmp_path / "f.safetensors", header, b"\x02")
    text = repr(name) if shown is None else repr(name)[:shown] + "..."
    assert (
        refusal(path) == NOT_SAFETENSORS + f"the bool tensor {text} holds bytes other than 0 and 1"
    )


@pytest.mark.parametrize(
    ("length", "bits"),
    [(2**123, str(2**126)), (2**124, "<huge int>")],
    ids=["127-bit", "128-bit"],
)
def test_integers_of_128_bits_and_more_are_not_spelled_out(tmp_path, length, bits):
    path = foreign_file(tmp_path / "f.safetensors", {"x": entry(shape=[length])}, b"\0")
    assert refusal(path) == NOT_SAFETENSORS + (
        f"the entry of tensor 'x' says 1 bytes, but its shape [{length}] of U8 takes {bits} bits"
    )


# ------------------------------------------------------------------ the structure, exactly
def int_keyed(levels):
    """``levels`` dicts keyed by ints, an array in the innermost: JSON 3 deep per level, + 1."""
    value = np.ones(1)
    for _ in range(levels):
        value = {1: value}
    return value


def test_a_structure_of_max_depth_int_keyed_dicts_fills_the_json_depth_limit(tmp_path):
    path = tg.save(int_keyed(MAX_DEPTH), tmp_path / "c.safetensors")
    loaded = tg.load(path)
    for _ in range(MAX_DEPTH):
        loaded = loaded[1]
    assert loaded.data.tolist() == [1.0]
    tensor = '{"$tensor":"' + ".".join(["1"] * MAX_DEPTH) + '"}'
    rewrite_structure(path, lambda s: json.dumps(s).replace(" ", "").replace(tensor, f"[{tensor}]"))
    assert refusal(path) == DAMAGED + "its structure nests 302 levels deep, more than 301"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda s: "[]", "its structure is not a dict"),
        (lambda s: '{"$tuple":[]}', "its structure is not a dict"),
        (
            lambda s: json.dumps({**s, "w": {"$tensor": "gone"}}),
            "its structure names the array 'gone', which is missing",
        ),
        (
            lambda s: json.dumps({**s, "w": {"$tensor": 5}}),
            "its structure names the array 5, which is missing",
        ),
        (
            lambda s: json.dumps({"step": 3}),
            "it holds arrays its structure does not mention: ['w']",
        ),
        (lambda s: json.dumps({**s, "v": s["w"]}), "its structure uses the array 'w' twice"),
        (
            lambda s: json.dumps({**s, "t": {"$tuple": 5}}),
            "its structure has a malformed $tuple object",
        ),
        (
            lambda s: json.dumps({**s, "t": {"$dict": 5}}),
            "its structure has a malformed $dict object",
        ),
        (
            lambda s: json.dumps({**s, "d": {"$dict": [[1, 2], [1, 3]]}}),
            "its structure has the key 1 twice in one dict",
        ),
        (
            lambda s: json.dumps({**s, "d": {"$dict": [["a", 2], ["a", 3]]}}),
            "its structure has the key 'a' twice in one dict",
        ),
        *[
            (
                lambda s, pair=pair: json.dumps({**s, "d": {"$dict": [pair]}}),
                "its structure has a $dict entry that is not [key, value]",
            )
            for pair in ([True, 2], [1.5, 2], [None, 2], [1], [1, 2, 3], 5)
        ],
        (
            lambda s: json.dumps({**s, "m": {"$tuple": [], "x": 1}}),
            "its structure has an object with $tuple and more keys",
        ),
        (
            lambda s: json.dumps({**s, "m": {"x": 1, "$dict": []}}),
            "its structure has an object with $dict and more keys",
        ),
        (
            lambda s: '{"step":3,"step":4,' + json.dumps(s)[1:],
            "its structure has the key 'step' twice in one object",
        ),
        (
            lambda s: json.dumps(s)[:-1] + ',"step":5}',  # not the first key: the one seen twice
            "its structure has the key 'step' twice in one object",
        ),
        (
            lambda s: json.dumps({**s, "n": 2**128}),
            "its structure holds an integer of 39 characters, beyond the bound of 2**128",
        ),
        (
            lambda s: json.dumps({**s, "n": -(2**128)}),
            "its structure holds an integer of 40 characters, beyond the bound of 2**128",
        ),
        (
            lambda s: json.dumps({**s, "n": 10**39}),
            "its structure holds an integer of 40 characters, beyond the bound of 2**128",
        ),
        (
            lambda s: "{not json",
            "its structure is not JSON (Expecting property name enclosed in "
            "double quotes: line 1 column 2 (char 1))",
        ),
    ],
)
def test_each_structure_problem_is_named_exactly(tmp_path, edit, problem):
    path = tg.save({"w": np.ones(2), "step": 3}, tmp_path / "c.safetensors")
    rewrite_structure(path, edit)
    assert refusal(path) == DAMAGED + problem


def test_the_integers_just_inside_the_bound_load_from_any_writer(tmp_path):
    path = tg.save({"w": np.ones(2)}, tmp_path / "c.safetensors")
    edge = {"top": 2**128 - 1, "bottom": -(2**128) + 1}
    rewrite_structure(path, lambda s: json.dumps({**s, **edge, "d": {"$dict": [[2**128 - 1, 0]]}}))
    loaded = tg.load(path)
    assert (loaded["top"], loaded["bottom"], loaded["d"]) == (*edge.values(), {2**128 - 1: 0})


def test_a_checkpoint_keyed_by_ints_at_its_root_round_trips(tmp_path):
    saved = {1: "one", "two": (2, [np.int64(2)]), -3: {}}
    loaded = tg.load(tg.save(saved, tmp_path / "c.safetensors"))
    assert loaded == {1: "one", "two": (2, [2]), -3: {}}
    assert list(loaded) == [1, "two", -3]


WRAPS = [lambda v: {"k": v}, lambda v: (v,), lambda v: {7: v}, lambda v: [v]]


def mixed(levels, leaf):
    """``levels`` containers, from the root dict in: tuple, dict keyed by int, list, dict."""
    value = leaf
    for level in range(levels - 1, 0, -1):
        value = WRAPS[level % 4](value)
    return {"root": value}


def test_every_kind_of_container_counts_one_level_of_max_depth(tmp_path):
    path = tg.save(mixed(MAX_DEPTH, np.ones(1)), tmp_path / "c.safetensors")
    loaded, expected = tg.load(path), mixed(MAX_DEPTH, None)
    while isinstance(expected, dict | list | tuple):
        assert type(loaded) is type(expected) and len(loaded) == 1
        key = next(iter(expected)) if isinstance(expected, dict) else 0
        loaded, expected = loaded[key], expected[key]
    assert loaded.data.tolist() == [1.0]
    path = tg.save(mixed(MAX_DEPTH, "leaf"), path)
    rewrite_structure(path, lambda s: json.dumps(s).replace('"leaf"', '["leaf"]'))
    assert refusal(path) == DAMAGED + "its structure nests more than 100 levels deep"


def test_arrays_inside_tuples_and_int_keyed_dicts_come_back(tmp_path):
    saved = {"pair": (np.arange(2), 3), "by_id": {4: np.ones(1)}}
    loaded = tg.load(tg.save(saved, tmp_path / "c.safetensors"))
    assert type(loaded["pair"]) is tuple and loaded["pair"][1] == 3
    assert loaded["pair"][0].data.tolist() == [0, 1] and loaded["by_id"][4].data.tolist() == [1.0]


# ------------------------------------------------------------------ the metadata, exactly
def write_unsealed(path, wrapped, arrays=None):
    """A checkpoint as tg.save wrote it before checksums: the structure key alone."""
    arrays = {"w": np.ones(2)} if arrays is None else arrays
    text = wrapped if isinstance(wrapped, str) else json.dumps(wrapped)
    path.write_bytes(safetensors.numpy.save(arrays, metadata={STRUCTURE_KEY: text}))
    return path


NOT_OLDER = (
    "its metadata lacks tinygrad_ann.format, tinygrad_ann.sha256 and its structure is not one "
    "an older tg.save wrote (a damaged key name?)"
)


@pytest.mark.parametrize(
    "wrapped",
    [
        {"version": 2, "structure": {"w": {"$tensor": "w"}}},
        {"version": 1.0, "structure": {"w": {"$tensor": "w"}}},
        {"version": True, "structure": {"w": {"$tensor": "w"}}},
        {"version": "1", "structure": {"w": {"$tensor": "w"}}},
        {"version": 1, "structure": {"w": {"$tensor": "w"}}, "more": 1},
        {"structure": {"w": {"$tensor": "w"}}},
        [1, {"w": {"$tensor": "w"}}],
    ],
)
def test_an_unsealed_file_must_hold_what_an_older_save_wrote(tmp_path, wrapped):
    path = write_unsealed(tmp_path / "c.safetensors", wrapped)
    assert refusal(path) == DAMAGED + NOT_OLDER


def test_an_unsealed_structure_is_checked_like_a_sealed_one(tmp_path):
    path = tmp_path / "c.safetensors"
    structure = {"w": {"$tensor": "w"}, "nan": float("nan"), "n": 1}
    loaded = tg.load(write_unsealed(path, {"version": 1, "structure": structure}))
    assert math.isnan(loaded["nan"]) and loaded["n"] == 1 and loaded["w"].shape == (2,)
    write_unsealed(path, '{"version":1,"version":1,"structure":{}}')
    assert refusal(path) == DAMAGED + "its structure has the key 'version' twice in one object"
    write_unsealed(path, {"version": 1, "structure": {"w": {"$tensor": "w"}, "v": {"$tuple": 1}}})
    assert refusal(path) == DAMAGED + "its structure has a malformed $tuple object"


def test_an_unsealed_structure_may_nest_one_json_level_more_for_its_wrapper(tmp_path):
    sealed_path = tg.save(int_keyed(MAX_DEPTH), tmp_path / "sealed.safetensors")
    structure = json.loads(header_of(sealed_path)["__metadata__"][STRUCTURE_KEY])
    arrays = safetensors.numpy.load_file(str(sealed_path))
    path = write_unsealed(
        tmp_path / "c.safetensors", {"version": 1, "structure": structure}, arrays
    )
    loaded = tg.load(path)
    for _ in range(MAX_DEPTH):
        loaded = loaded[1]
    assert loaded.data.tolist() == [1.0]
    write_unsealed(path, {"version": 1, "structure": [structure]}, arrays)
    assert refusal(path) == DAMAGED + "its structure nests 303 levels deep, more than 302"


OLDER = (
    " (tg.save writes exactly tinygrad_ann.format, tinygrad_ann.sha256, tinygrad_ann.structure: "
    "a damaged key name, or a file written by an older tinygrad_ann, before checksums)"
)


@pytest.mark.parametrize(
    ("drop", "add", "problems"),
    [
        ([CHECKSUM_KEY], [], "lacks 'tinygrad_ann.sha256'"),
        (
            [FORMAT_KEY, CHECKSUM_KEY],
            ["tinygrad_ann.b"],
            "lacks 'tinygrad_ann.format' and lacks "
            "'tinygrad_ann.sha256' and has the unknown 'tinygrad_ann.b'",
        ),
        (
            [FORMAT_KEY, CHECKSUM_KEY, STRUCTURE_KEY],
            ["tinygrad_ann.b", "tinygrad_ann.a"],
            "lacks "
            "'tinygrad_ann.format' and lacks 'tinygrad_ann.sha256' and lacks "
            "'tinygrad_ann.structure' and has the unknown 'tinygrad_ann.a'",
        ),
        ([], ["tinygrad_ann.x"], "has the unknown 'tinygrad_ann.x'"),
    ],
    ids=["one-lacking", "two-lacking-one-unknown", "five-problems", "one-unknown"],
)
def test_our_metadata_keys_are_named_when_not_exactly_ours(tmp_path, drop, add, problems):
    path = tg.save({"w": np.ones(2)}, tmp_path / "c.safetensors")
    metadata = {k: v for k, v in header_of(path)["__metadata__"].items() if k not in drop}
    metadata.update({key: "1" for key in add})
    path.write_bytes(
        sealed_if_possible(safetensors.numpy.save({"w": np.ones(2)}, metadata=metadata))
    )
    assert refusal(path) == f"{DAMAGED}its metadata {problems}{OLDER}"


def sealed_if_possible(content):
    return sealed(content) if b'"tinygrad_ann.sha256":"' in content else content


@pytest.mark.parametrize(
    ("digest", "problem"),
    [
        ("A" * 64, "its checksum is not 64 hexadecimal digits"),
        ("0" * 63, "its checksum is not 64 hexadecimal digits"),
        ("0" * 65, "its checksum is not 64 hexadecimal digits"),
    ],
)
def test_the_checksum_must_be_64_lower_case_hex_digits(tmp_path, digest, problem):
    path = tg.save({"w": np.ones(2)}, tmp_path / "c.safetensors")
    metadata = {**header_of(path)["__metadata__"], CHECKSUM_KEY: digest}
    path.write_bytes(safetensors.numpy.save({"w": np.ones(2)}, metadata=metadata))
    assert refusal(path) == DAMAGED + problem


def test_a_newer_format_is_named_in_20_characters(tmp_path):
    path = tg.save({"w": np.ones(2)}, tmp_path / "c.safetensors")
    metadata = {**header_of(path)["__metadata__"], FORMAT_KEY: "2" * 30}
    path.write_bytes(sealed(safetensors.numpy.save({"w": np.ones(2)}, metadata=metadata)))
    assert refusal(path) == (
        "is a damaged checkpoint, or one written by a newer tinygrad_ann: its format is "
        f"{'2' * 20!r}, this version reads '1'"
    )


def test_a_checksum_written_otherwise_than_save_writes_it_is_refused(tmp_path):
    path = tg.save({"w": np.ones(2)}, tmp_path / "c.safetensors")
    content = path.read_bytes()
    header = header_of(path)
    digest = header["__metadata__"][CHECKSUM_KEY]
    for text in (
        json.dumps(header),  # with spaces after the colons
        json.dumps(header, separators=(",", ":")).replace(
            digest[-1] + '"', f'\\u00{ord(digest[-1]):x}"'
        ),
    ):
        raw = text.encode() + b" " * (-len(text) % 8)
        path.write_bytes(struct.pack("<Q", len(raw)) + raw + content[-16:])
        assert refusal(path) == DAMAGED + "its checksum is not written as tg.save writes it"


def test_unmentioned_arrays_are_named_five_at_most(tmp_path):
    path = tg.save({name: np.ones(1) for name in "fedcba"}, tmp_path / "c.safetensors")
    rewrite_structure(path, lambda s: json.dumps({"f": s["f"]}))
    assert refusal(path) == DAMAGED + (
        "it holds arrays its structure does not mention: ['a', 'b', 'c', 'd', 'e']"
    )
    rewrite_structure(path, lambda s: "{}")
    assert refusal(path) == DAMAGED + (
        "it holds arrays its structure does not mention: ['a', 'b', 'c', 'd', 'e']"
    )


def test_the_size_bound_counts_item_bytes_as_numpy_does(tmp_path):
    """An array is too large when its elements times its item size reach 2**63 bytes."""
    fits = foreign_file(
        tmp_path / "fits.safetensors",
        {"x": entry(dtype="U16", shape=[2**62 - 1, 0], data_offsets=[0, 0])},
    )
    assert tg.load(fits)["x"].shape == (2**62 - 1, 0)
    too_large = {"x": entry(dtype="U16", shape=[2**62, 0], data_offsets=[0, 0])}
    assert refusal(foreign_file(tmp_path / "big.safetensors", too_large)) == (
        NOT_SAFETENSORS + "the entry of tensor 'x' has the shape [4611686018427387904, 0], "
        "too large for an array"
    )
    # An 8 GiB float32 tensor is an ordinary array (its header alone is checked here).
    eight_gib = {"dtype": "F32", "shape": [2**31], "data_offsets": [0, 2**33]}
    assert safetensors_format._entry("w", eight_gib).shape == (2**31,)


def test_a_shape_numpy_refuses_is_refused_with_numpys_reason(tmp_path, monkeypatch):
    """NumPy may allow fewer dimensions than the limit (NumPy 1 allows 32)."""
    path = foreign_file(tmp_path / "f.safetensors", {"x": entry()}, b"\x00")

    def refuse(shape, dtype):
        raise ValueError("maximum supported dimension for an ndarray is 32")

    monkeypatch.setattr(safetensors_format.np, "empty", refuse)
    assert refusal(path) == (
        NOT_SAFETENSORS + "tensor 'x' of shape [1] cannot be an array here (maximum supported "
        "dimension for an ndarray is 32)"
    )


def test_an_array_under_the_empty_key_round_trips(tmp_path):
    loaded = tg.load(tg.save({"": np.arange(3), "a": {"": np.ones(1)}}, tmp_path / "e.safetensors"))
    assert loaded[""].data.tolist() == [0, 1, 2] and loaded["a"][""].data.tolist() == [1.0]


def test_a_header_that_is_not_utf8_is_named_with_the_reason(tmp_path):
    raw = b'{"\xff":1}   '
    path = tmp_path / "f.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    assert refusal(path) == NOT_SAFETENSORS + "its header is not UTF-8 (invalid start byte)"


def test_an_error_while_inspecting_the_opened_file_propagates_and_closes_it(tmp_path, monkeypatch):
    path = tg.save({"w": np.ones(2)}, tmp_path / "c.safetensors")
    opened, closed = [], []
    real_open, real_close, real_fstat = os.open, os.close, os.fstat

    def fstat(descriptor):
        if descriptor in opened:
            raise OSError(5, "Input/output error")
        return real_fstat(descriptor)

    with monkeypatch.context() as patch:
        patch.setattr(os, "open", lambda *a, **k: opened.append(real_open(*a, **k)) or opened[-1])
        patch.setattr(os, "close", lambda fd: closed.append(fd) or real_close(fd))
        patch.setattr(os, "fstat", fstat)
        with pytest.raises(OSError, match="Input/output error"):
            tg.load(path)
    assert closed == opened and len(opened) == 1
