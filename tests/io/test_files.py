"""Files are replaced in one step, as open() would write them, and killed writers are cleaned up."""

import errno
import hashlib
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import tinygrad_ann as tg
from tinygrad_ann.files import write_atomically

REPOSITORY = Path(tg.__file__).resolve().parent.parent
HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes, symlinks and pids")


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


@pytest.fixture
def dead_pid():
    """The pid of a process that has ended and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    return process.pid


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def temporaries(folder) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir() if p.name.endswith(".tmp"))


def temporary_name(target_name: str, pid: int, host: str = HOST) -> str:
    """A name as write_atomically gives its temporaries (the module docstring's pattern)."""
    return f".{target_name}.{host}-{pid}.0123abcd.tmp"


def test_new_file_gets_the_mode_open_would_give(tmp_path, umask_022):
    plain = tmp_path / "plain.bin"
    with open(plain, "wb") as file:
        file.write(b"x")
    written = write_atomically(tmp_path / "atomic.bin", b"content")
    assert written.read_bytes() == b"content"
    assert mode_of(written) == mode_of(plain) == 0o644


@posix_only
def test_umask_027_gives_0640_like_open(tmp_path, umask_027):
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    written = write_atomically(tmp_path / "atomic.bin", b"content")
    assert mode_of(written) == mode_of(plain) == 0o640


def test_a_stricter_umask_is_honoured(tmp_path):
    previous = os.umask(0o077)
    try:
        written = write_atomically(tmp_path / "private.bin", b"secret")
    finally:
        os.umask(previous)
    assert mode_of(written) == 0o600


@posix_only
def test_overwriting_keeps_the_existing_files_mode(tmp_path, umask_022):
    target = tmp_path / "secret.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert mode_of(target) == 0o600
    os.chmod(target, 0o664)  # wider than the umask allows a new file: kept all the same
    write_atomically(target, b"newer")
    assert mode_of(target) == 0o664


@posix_only
def test_overwriting_drops_the_set_id_bits_and_keeps_the_rest(tmp_path, umask_022):
    target = tmp_path / "tool"
    target.write_bytes(b"old")
    os.chmod(target, 0o7755)  # set-user-id, set-group-id and sticky
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert mode_of(target) == 0o1755


@posix_only
def test_umask_is_never_touched(tmp_path, monkeypatch):
    def forbidden(mask):
        raise AssertionError("os.umask changes the mask for every thread of the process")

    umask = os.umask(0o022)
    os.umask(umask)
    monkeypatch.setattr(os, "umask", forbidden)
    new = write_atomically(tmp_path / "new.bin", b"new")
    assert mode_of(new) == 0o666 & ~umask
    write_atomically(new, lambda file: file.write(b"again"))
    assert new.read_bytes() == b"again"


@posix_only
def test_files_created_by_other_threads_keep_the_umask_mode(tmp_path, umask_022):
    failures = []

    def writer(number):
        try:
            for index in range(200):
                write_atomically(tmp_path / f"atomic-{number}-{index}.bin", b"x")
        except BaseException as error:  # reported below, where pytest sees it
            failures.append(error)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    plain = tmp_path / "plain.bin"
    created, plain_modes = 0, set()
    while any(thread.is_alive() for thread in threads):
        with open(plain, "wb") as file:
            plain_modes.add(stat.S_IMODE(os.fstat(file.fileno()).st_mode))
        os.unlink(plain)  # so the folder the writers list stays small
        created += 1
    for thread in threads:
        thread.join()
    assert failures == []
    assert created > 0 and plain_modes == {0o644}
    modes = {path.name: mode_of(path) for path in tmp_path.iterdir()}
    assert len(modes) == 8 * 200
    assert {name: mode for name, mode in modes.items() if mode != 0o644} == {}


def test_replacing_leaves_no_temporary_file_behind(tmp_path):
    target = tmp_path / "data.bin"
    write_atomically(target, b"old")
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_the_path_comes_back_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    written = write_atomically("relative.bin", bytearray(b"bytes-like"))
    assert written == Path("relative.bin")
    assert (tmp_path / "relative.bin").read_bytes() == b"bytes-like"
    write_atomically(tmp_path / "view.bin", memoryview(b"a view"))
    assert (tmp_path / "view.bin").read_bytes() == b"a view"


def test_text_is_refused_before_anything_is_written(tmp_path):
    expected = "write_atomically: content must be bytes or a callable write(file), got str"
    with pytest.raises(TypeError, match=f"^{re.escape(expected)}$"):
        write_atomically(tmp_path / "data.txt", "text")
    assert list(tmp_path.iterdir()) == []


def test_a_callable_streams_into_the_file(tmp_path):
    digest = hashlib.sha256()

    def write(file):
        for chunk in (b"first,", b"second,", b"third"):
            file.write(chunk)
            digest.update(chunk)

    target = write_atomically(tmp_path / "streamed.bin", write)
    assert target.read_bytes() == b"first,second,third"
    assert digest.hexdigest() == hashlib.sha256(b"first,second,third").hexdigest()
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("error", [ValueError("bad array"), KeyboardInterrupt()])
def test_an_error_in_the_callable_keeps_the_old_file(tmp_path, error):
    target = tmp_path / "data.bin"
    write_atomically(target, b"old")
    seen = []

    def write(file):
        file.write(b"half of the new")
        seen.extend(temporaries(tmp_path))
        raise error

    with pytest.raises(type(error)):
        write_atomically(target, write)
    assert len(seen) == 1  # there was a temporary, and it is gone
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_an_error_in_the_callable_creates_no_new_file(tmp_path):
    def write(file):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(tmp_path / "data.bin", write)
    assert list(tmp_path.iterdir()) == []


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


def test_a_missing_folder_is_an_error_not_created(tmp_path):
    folder = tmp_path / "runs" / "today"
    with pytest.raises(FileNotFoundError) as caught:
        write_atomically(folder / "model.safetensors", b"weights")
    assert caught.value.strerror == (
        f"write_atomically: cannot write {folder / 'model.safetensors'}: the folder {folder} "
        "does not exist; create it first, e.g. with path.parent.mkdir(parents=True)"
    )
    assert caught.value.errno == errno.ENOENT
    assert list(tmp_path.iterdir()) == []


def test_a_file_in_place_of_the_folder_is_named(tmp_path):
    (tmp_path / "runs").write_bytes(b"not a folder")
    for target in (tmp_path / "runs" / "model.bin", tmp_path / "runs" / "today" / "model.bin"):
        with pytest.raises(
            NotADirectoryError, match=f"{tmp_path / 'runs'} is not a folder"
        ) as caught:
            write_atomically(target, b"weights")
        assert caught.value.errno == errno.ENOTDIR
        assert caught.value.strerror == (
            f"write_atomically: cannot write {target}: {tmp_path / 'runs'} is not a folder"
        )
    assert (tmp_path / "runs").read_bytes() == b"not a folder"


@posix_only
def test_a_symlink_is_written_through_and_stays_a_link(tmp_path, umask_022):
    data = tmp_path / "data"
    links = tmp_path / "links"
    data.mkdir()
    links.mkdir()
    real = data / "weights.bin"
    real.write_bytes(b"old")
    os.chmod(real, 0o600)
    link = links / "latest.bin"
    link.symlink_to(real)
    beside_target = []

    def write(file):
        beside_target.extend(temporaries(data))
        file.write(b"new")

    assert write_atomically(link, write) == link
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new"
    assert mode_of(real) == 0o600
    assert len(beside_target) == 1 and beside_target[0].startswith(".weights.bin.")
    assert sorted(p.name for p in data.iterdir()) == ["weights.bin"]
    assert sorted(p.name for p in links.iterdir()) == ["latest.bin"]


@posix_only
def test_a_chain_of_two_links_is_followed_to_the_end(tmp_path):
    real = tmp_path / "real.bin"
    real.write_bytes(b"old")
    middle = tmp_path / "middle.bin"
    middle.symlink_to("real.bin")
    first = tmp_path / "first.bin"
    first.symlink_to("middle.bin")
    write_atomically(first, b"new")
    assert real.read_bytes() == b"new"
    assert first.is_symlink() and os.readlink(first) == "middle.bin"
    assert middle.is_symlink() and os.readlink(middle) == "real.bin"
    assert temporaries(tmp_path) == []


@posix_only
def test_a_dangling_link_creates_its_target_like_open(tmp_path, umask_022):
    link = tmp_path / "link.bin"
    link.symlink_to("missing.bin")
    write_atomically(link, b"new")
    assert link.is_symlink()
    assert (tmp_path / "missing.bin").read_bytes() == b"new"
    assert mode_of(tmp_path / "missing.bin") == 0o644
    into_nowhere = tmp_path / "nowhere.bin"
    into_nowhere.symlink_to(tmp_path / "absent" / "file.bin")
    with pytest.raises(FileNotFoundError, match=f"the folder {tmp_path / 'absent'} does not"):
        write_atomically(into_nowhere, b"new")
    assert not (tmp_path / "absent").exists()


@posix_only
def test_a_link_loop_is_refused_and_left_alone(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError, match="Too many levels of symbolic links") as caught:
        write_atomically(tmp_path / "a", b"new")
    assert caught.value.errno == errno.ELOOP
    assert caught.value.filename == str(tmp_path / "a")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


KILLED_WRITER = """
import os, signal, sys
from tinygrad_ann.files import write_atomically

def write(file):
    file.write(b"half written")
    file.flush()
    os.kill(os.getpid(), signal.SIGKILL)

write_atomically(sys.argv[1], write)
"""


def write_and_get_killed(target: Path) -> int:
    """Run a writer of ``target`` that is killed mid-write; returns its pid."""
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    # -P: the package above, not a copy that may lie in the working folder.
    command = [sys.executable, "-P", "-c", KILLED_WRITER, str(target)]
    process = subprocess.Popen(command, env=environment)
    assert process.wait() == -signal.SIGKILL
    return process.pid


@posix_only
def test_the_temporary_of_a_killed_writer_is_removed_by_the_next_save(tmp_path):
    target = tmp_path / "model.bin"
    write_atomically(target, b"old")
    pid = write_and_get_killed(target)
    [left] = temporaries(tmp_path)
    assert re.fullmatch(rf"\.model\.bin\.{re.escape(HOST)}-{pid}\.[0-9a-f]{{8}}\.tmp", left)
    assert (tmp_path / left).read_bytes() == b"half written"
    assert target.read_bytes() == b"old"

    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]


@posix_only
def test_only_own_stale_temporaries_of_the_same_target_are_removed(tmp_path, dead_pid):
    target = tmp_path / "model.bin"
    stale = tmp_path / temporary_name("model.bin", dead_pid)
    kept = [
        tmp_path / temporary_name("model.bin", os.getpid()),  # a live writer's
        tmp_path / temporary_name("other.bin", dead_pid),  # another target's
        tmp_path / temporary_name("model.bin", dead_pid, host="otherhost"),
        tmp_path / temporary_name("model.bin.old", dead_pid),  # "model.bin" is only a prefix
        tmp_path / f".model.bin.{HOST}-{dead_pid}.0123abcd.tmp.bak",
        tmp_path / f".model.bin.{HOST}-{dead_pid}.not-hex!.tmp",
        tmp_path / f".model.bin.{HOST}-0{dead_pid}.0123abcd.tmp",
        tmp_path / f"model.bin.{HOST}-{dead_pid}.0123abcd.tmp",
        tmp_path / "notes.txt",
    ]
    for path in [stale, *kept]:
        path.write_bytes(b"left")
    link_to_keep = tmp_path / temporary_name("model.bin", dead_pid).replace("0123", "4567")
    link_to_keep.symlink_to("notes.txt")

    write_atomically(target, b"new")
    assert not stale.exists()
    assert all(path.read_bytes() == b"left" for path in kept)
    assert link_to_keep.is_symlink() and link_to_keep.read_bytes() == b"left"
    assert target.read_bytes() == b"new"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_another_users_stale_temporary_is_kept(tmp_path, dead_pid):
    theirs = tmp_path / temporary_name("model.bin", dead_pid)
    theirs.write_bytes(b"theirs")
    os.chown(theirs, 65534, 65534)
    write_atomically(tmp_path / "model.bin", b"new")
    assert theirs.read_bytes() == b"theirs"


@posix_only
def test_long_names_fit_and_keep_their_temporaries_apart(tmp_path, dead_pid):
    first = tmp_path / ("w" * 250 + ".a")
    second = tmp_path / ("w" * 250 + ".b")
    names = []
    write_atomically(first, lambda file: names.extend(temporaries(tmp_path)))
    [name] = names
    assert len(os.fsencode(name)) <= 255
    assert name.startswith(".www") and name.endswith(".tmp")
    # What a killed writer of the first file would have left:
    stale = tmp_path / name.replace(f"-{os.getpid()}.", f"-{dead_pid}.")
    stale.write_bytes(b"left")
    write_atomically(second, b"second")
    assert stale.exists()
    write_atomically(first, b"first")
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, second.name])


@posix_only
def test_cleaning_that_fails_does_not_stop_the_write(tmp_path, monkeypatch, dead_pid):
    stale = tmp_path / temporary_name("model.bin", dead_pid)
    stale.write_bytes(b"left")
    real_unlink = os.unlink

    def refuse_stale(path, *args, **kwargs):
        if Path(path) == stale:
            raise PermissionError("read-only")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", refuse_stale)
    write_atomically(tmp_path / "model.bin", b"new")
    assert (tmp_path / "model.bin").read_bytes() == b"new"
    assert stale.exists()


def test_viz_save_writes_with_the_default_mode(tmp_path, umask_022):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    path = tg.viz.save(x.exp(), tmp_path / "graph.dot")
    assert mode_of(path) == 0o644


# ------------------------------------------------------------------ the temporaries' names
def name_of_the_temporary(target: Path) -> str:
    """The name of the temporary that writes ``target``, seen from inside the write."""
    before = temporaries(target.parent)
    seen: list[str] = []
    write_atomically(target, lambda file: seen.extend(temporaries(target.parent)))
    [name] = [name for name in seen if name not in before]
    return name


@pytest.fixture
def host_named(monkeypatch):
    """Give the machine another host name, as os.uname reports it."""

    def rename(nodename: str) -> None:
        uname = os.uname()
        fake = type(uname)((*uname[:1], nodename, *uname[2:]))
        monkeypatch.setattr(os, "uname", lambda: fake)

    return rename


@posix_only
@pytest.mark.parametrize(
    ("nodename", "host"),
    [
        ("Build-Box_07", "Build-Box_07"),
        ("node.example.org", "node_example_org"),
        ("gpu 3/ü", "gpu_3__"),
        ("h" * 100, "h" * 64),
        ("", "_"),
    ],
    ids=["kept", "dots", "space-slash-non-ascii", "cut-at-64", "empty"],
)
def test_the_host_part_keeps_letters_digits_underscore_and_hyphen(
    tmp_path, host_named, nodename, host
):
    host_named(nodename)
    name = name_of_the_temporary(tmp_path / "model.bin")
    assert re.fullmatch(rf"\.model\.bin\.{host}-{os.getpid()}\.[0-9a-f]{{8}}\.tmp", name), name


@pytest.mark.parametrize(
    ("computername", "host"), [("DESK-01.lan", "DESK-01_lan"), (None, "_")], ids=["set", "unset"]
)
def test_without_uname_the_host_part_is_computername(tmp_path, monkeypatch, computername, host):
    monkeypatch.delattr(os, "uname", raising=False)
    if computername is None:
        monkeypatch.delenv("COMPUTERNAME", raising=False)
    else:
        monkeypatch.setenv("COMPUTERNAME", computername)
    name = name_of_the_temporary(tmp_path / "model.bin")
    assert name.startswith(f".model.bin.{host}-{os.getpid()}."), name


def name_budget(host: str) -> int:
    """Bytes of the target's name that fit in a temporary's name of at most 255 bytes
    whatever the pid: a pid of 10 digits and 8 hex digits, 26 bytes with the separators."""
    return 255 - len(os.fsencode(host)) - 26


def hashed(name: str, keep: int) -> str:
    return name[:keep] + "~" + hashlib.blake2b(os.fsencode(name), digest_size=8).hexdigest()


@posix_only
def test_a_name_that_fits_is_kept_whole_and_one_byte_more_is_cut_and_hashed(tmp_path, host_named):
    host = "build-07"
    host_named(host)
    budget = name_budget(host)
    fits = "f" * (budget - 3) + ".pt"
    name = name_of_the_temporary(tmp_path / fits)
    assert name.startswith(f".{fits}.{host}-{os.getpid()}.")
    assert len(os.fsencode(name)) == 255 - (10 - len(str(os.getpid())))
    for extra in (1, 2):  # both parities of the name's length
        longer = "l" * (budget + extra)
        name = name_of_the_temporary(tmp_path / longer)
        part = hashed(longer, budget - 17)
        assert len(part) == budget
        assert name.startswith(f".{part}.{host}-{os.getpid()}."), name
    wide = "é" * (budget // 2 + 1)  # two bytes each: cut by characters to fit in bytes
    name = name_of_the_temporary(tmp_path / wide)
    assert name.startswith(f".{hashed(wide, (budget - 17) // 2)}.{host}-{os.getpid()}."), name


@posix_only
def test_a_taken_temporary_name_is_left_alone_and_another_one_drawn(tmp_path, monkeypatch):
    draws = iter([bytes.fromhex("0000abcd"), bytes.fromhex("0000abce")])
    monkeypatch.setattr(os, "urandom", lambda count: next(draws))
    taken = tmp_path / f".model.bin.{HOST}-{os.getpid()}.0000abcd.tmp"
    taken.write_bytes(b"someone else's")
    assert name_of_the_temporary(tmp_path / "model.bin").endswith(".0000abce.tmp")
    assert taken.read_bytes() == b"someone else's"


@posix_only
def test_after_100_taken_names_the_write_gives_up(tmp_path, monkeypatch):
    draws = []

    def urandom(count):
        draws.append(count)
        return bytes.fromhex("0000abcd")

    monkeypatch.setattr(os, "urandom", urandom)
    target = tmp_path / "model.bin"
    (tmp_path / f".model.bin.{HOST}-{os.getpid()}.0000abcd.tmp").write_bytes(b"taken")
    with pytest.raises(FileExistsError) as caught:
        write_atomically(target, b"new")
    assert caught.value.errno == errno.EEXIST
    beside = Path(os.path.realpath(target))
    assert caught.value.strerror == f"write_atomically: no free temporary name beside {beside}"
    assert draws == [4] * 100
    assert not target.exists()
    with pytest.raises(FileExistsError) as caught:
        write_atomically(target, b"new", "tg.save")
    assert caught.value.strerror == f"tg.save: no free temporary name beside {beside}"


# ------------------------------------------------------------------ which temporaries are stale
@posix_only
def test_liveness_is_asked_with_signal_0_and_only_a_pid_that_does_not_exist_is_stale(
    tmp_path, monkeypatch
):
    answers = {
        101: ProcessLookupError(3, "No such process"),
        102: PermissionError(1, "Operation not permitted"),  # runs, as another user
        103: None,  # runs
    }
    signals = []

    def kill(pid, signal_number):
        signals.append((pid, signal_number))
        if answers[pid] is not None:
            raise answers[pid]

    for pid in answers:
        (tmp_path / temporary_name("model.bin", pid)).write_bytes(b"left")
    monkeypatch.setattr(os, "kill", kill)
    write_atomically(tmp_path / "model.bin", b"new")
    assert sorted(signals) == [(101, 0), (102, 0), (103, 0)]
    assert temporaries(tmp_path) == [
        temporary_name("model.bin", 102),
        temporary_name("model.bin", 103),
    ]


@posix_only
def test_pids_of_up_to_10_digits_are_recognised_and_one_beyond_pid_t_is_kept(tmp_path):
    # Beyond the largest pid Linux (2**22) and the BSDs give out: no such process.
    gone = [temporary_name("model.bin", pid) for pid in (5_000_000, 2**31 - 1)]
    beyond_pid_t = temporary_name("model.bin", 9_999_999_999)  # os.kill cannot even ask
    eleven_digits = temporary_name("model.bin", 10_000_000_000)
    for name in [*gone, beyond_pid_t, eleven_digits]:
        (tmp_path / name).write_bytes(b"left")
    write_atomically(tmp_path / "model.bin", b"new")
    assert temporaries(tmp_path) == sorted([beyond_pid_t, eleven_digits])


@posix_only
def test_a_stale_temporary_that_cannot_be_removed_does_not_keep_the_others(tmp_path, monkeypatch):
    for pid in (5_000_001, 5_000_002):
        (tmp_path / temporary_name("model.bin", pid)).write_bytes(b"left")
    real_unlink = os.unlink
    refused = []

    def unlink(path, *args, **kwargs):
        if not refused:  # whichever the listing gives first
            refused.append(Path(path).name)
            raise PermissionError(13, "Permission denied")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    write_atomically(tmp_path / "model.bin", b"new")
    assert temporaries(tmp_path) == refused
