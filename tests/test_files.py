"""Files are replaced in one step, with the permissions open() would give."""

import os
import stat

import pytest

import tinygrad_ann as tg
from tinygrad_ann.files import write_atomically


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_gets_the_mode_open_would_give(tmp_path, umask_022):
    plain = tmp_path / "plain.bin"
    with open(plain, "wb") as file:
        file.write(b"x")
    written = write_atomically(tmp_path / "atomic.bin", b"content")
    assert written.read_bytes() == b"content"
    assert mode_of(written) == mode_of(plain) == 0o644


def test_a_stricter_umask_is_honoured(tmp_path):
    previous = os.umask(0o077)
    try:
        written = write_atomically(tmp_path / "private.bin", b"secret")
    finally:
        os.umask(previous)
    assert mode_of(written) == 0o600


def test_replacing_leaves_no_temporary_file_behind(tmp_path):
    target = tmp_path / "data.bin"
    write_atomically(target, b"old")
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "data.bin"
    write_atomically(target, b"old")

    def broken_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_viz_save_writes_with_the_default_mode(tmp_path, umask_022):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    path = tg.viz.save(x.exp(), tmp_path / "graph.dot")
    assert mode_of(path) == 0o644
