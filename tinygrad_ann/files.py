"""Writing files so that a reader never sees half of one.

:func:`write_atomically` writes the new content to a temporary file beside the
target, fsyncs it, renames it over the target and fsyncs the folder. A reader
sees either the old file or the new one, never a mix. The result looks as if
``open(path, "wb")`` had written it: a new file gets ``0o666`` minus the umask
(the kernel applies the umask at creation), an existing file keeps its
permission bits, and a symlink stays a link while the file it points to is
replaced.

An error or an interrupt (KeyboardInterrupt included) removes the temporary
before it propagates. A process killed outright (``kill -9``, a crash of the
machine) cannot: it leaves the target whole, old or new, plus at most one
temporary per write it was in the middle of. That temporary lies beside the
file being written (a symlink's final target) and is named
``.{target name}.{host}-{pid}.{8 hex digits}.tmp``, where ``host`` is the host
name with every character other than letters, digits, ``_`` and ``-`` replaced
by ``_``, and a target name too long for the 255-byte limit is cut short and
followed by ``~`` and a hash of the full name. It stays until the next save of
the same file, which removes it if it is a regular file owned by the same user,
names the same host, and its pid no longer runs. Nothing else is ever removed:
not another user's file, not a running process's temporary, not a symlink, not
the temporary of another target.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# Longest file name most file systems accept (ext4, XFS, btrfs, APFS count bytes).
_NAME_LIMIT = 255
# Room kept for the pid whatever its length, so every process on the host shortens a
# long target name the same way and finds the temporaries the others left.
_PID_DIGITS = 10
_RANDOM_HEX = 8
_SUFFIX = ".tmp"
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_CREATE_FLAGS |= getattr(os, "O_BINARY", 0)  # Windows would otherwise translate newlines


def write_atomically(
    path: str | os.PathLike[str],
    content: bytes | Callable[[BinaryIO], None],
    caller: str = "write_atomically",
) -> Path:
    """Replace the file at ``path`` with ``content`` in one step; returns ``Path(path)``.

    ``content`` is the bytes (or any bytes-like object) to write, or a callable
    ``write(file)`` that streams them into the open binary file. A symlink is
    followed as ``open()`` follows it. The folder must exist: a missing one
    raises :class:`FileNotFoundError` rather than appearing unasked. Errors start
    with ``caller``, the function the user called (``tg.save``, ``viz.save``, ...).
    """
    if not callable(content):
        try:
            memoryview(content)
        except TypeError:
            raise TypeError(
                f"{caller}: content must be bytes or a callable write(file), "
                f"got {type(content).__name__}"
            ) from None
    given = Path(path)
    target = Path(os.path.realpath(given))
    if target.is_symlink():  # realpath gives up on a loop and hands back a link
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(given))
    _require_folder(target.parent, given, caller)
    host = _host()
    _remove_stale_temporaries(target, host)
    mode = _mode_to_keep(target)
    temporary, descriptor = _create_temporary(target, host, caller)
    try:
        with os.fdopen(descriptor, "wb") as file:
            if mode is not None:
                _set_mode(file.fileno(), temporary, mode)
            if callable(content):
                content(file)
            else:
                file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass  # the error that brought us here is the one worth reporting
        raise
    _sync_folder(target.parent)
    return given


def _require_folder(folder: Path, given: Path, caller: str) -> None:
    try:
        folder_mode = os.stat(folder).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT,
            f"{caller}: cannot write {given}: the folder {folder} does not exist; "
            f"create it first, e.g. with path.parent.mkdir(parents=True)",
        ) from None
    except NotADirectoryError:
        folder_mode = 0  # a file stands where one of the folders above it should be
    if not stat.S_ISDIR(folder_mode):
        blocker = next(p for p in (folder, *folder.parents) if os.path.lexists(p))
        raise NotADirectoryError(
            errno.ENOTDIR,
            f"{caller}: cannot write {given}: {blocker} is not a folder",
        )


def _mode_to_keep(target: Path) -> int | None:
    """The permission bits of the file being replaced, or None for a new file."""
    try:
        info = os.lstat(target)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    # Without set-id bits: the kernel drops them too when new content is written in place.
    return stat.S_IMODE(info.st_mode) & ~(stat.S_ISUID | stat.S_ISGID)


def _set_mode(descriptor: int, temporary: Path, mode: int) -> None:
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, mode)
    else:  # Windows before Python 3.13
        os.chmod(temporary, mode)


def _host() -> str:
    # os.uname, not socket.gethostname: importing socket would slow every import of the
    # package down for a name (Windows, without uname, keeps no stale temporaries anyway).
    name = os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "_"


def _name_part(name: str, host: str) -> str:
    """``name`` as it appears in its temporaries' names, shortened to fit the limit."""
    overhead = len(os.fsencode(f"..{host}-.{_SUFFIX}")) + _PID_DIGITS + _RANDOM_HEX
    budget = _NAME_LIMIT - overhead
    if len(os.fsencode(name)) <= budget:
        return name
    # The hash keeps two long names that share a beginning from sharing temporaries.
    import hashlib  # here: a name this long is rare, and hashlib is slow to import

    digest = "~" + hashlib.blake2b(os.fsencode(name), digest_size=8).hexdigest()
    kept = name
    while len(os.fsencode(kept + digest)) > budget:
        kept = kept[:-1]
    return kept + digest


def _temporary_prefix(target: Path, host: str) -> str:
    return f".{_name_part(target.name, host)}.{host}-"


def _create_temporary(target: Path, host: str, caller: str) -> tuple[Path, int]:
    prefix = _temporary_prefix(target, host)
    for _ in range(100):
        temporary = target.with_name(
            f"{prefix}{os.getpid()}.{os.urandom(_RANDOM_HEX // 2).hex()}{_SUFFIX}"
        )
        try:
            # Mode 0o666 at creation lets the kernel subtract the umask, as open() does;
            # reading the umask instead would mean setting it, under every thread's feet.
            return temporary, os.open(temporary, _CREATE_FLAGS, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"{caller}: no free temporary name beside {target}")


def _remove_stale_temporaries(target: Path, host: str) -> None:
    """Remove what killed writers of ``target`` from this host and user left behind."""
    if os.name != "posix":
        return  # no owner to compare, and os.kill(pid, 0) would terminate on Windows
    stale = re.compile(
        re.escape(_temporary_prefix(target, host))
        + rf"([1-9][0-9]{{0,{_PID_DIGITS - 1}}})\.[0-9a-f]{{{_RANDOM_HEX}}}{re.escape(_SUFFIX)}"
    )
    user = os.geteuid()
    try:
        with os.scandir(target.parent) as listing:
            entries = list(listing)
    except OSError:
        return
    for entry in entries:
        match = stale.fullmatch(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_uid == user and _ended(int(match[1])):
                os.unlink(entry.path)
        except OSError:
            continue  # cleaning is a courtesy; the write itself must not fail for it


def _ended(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):
        return False  # PermissionError: it runs as someone else; anything else: unsure
    return False


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable, where the system allows opening a folder."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the data itself is synced
    finally:
        os.close(descriptor)
