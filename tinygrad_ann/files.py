"""Writing files so that a reader never sees half of one.

:func:`write_atomically` writes to a temporary file in the target's folder,
flushes and fsyncs it, gives it the permissions a plain ``open(path, "w")``
would have under the process's umask, and renames it over the target. A crash
or an error at any point leaves either the old file or the new one, never a
mix, and never a stray temporary file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _default_mode() -> int:
    """0o666 minus the umask: what ``open()`` gives a new file."""
    umask = os.umask(0)  # reading the umask means setting it; put it back at once
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: str | os.PathLike[str], content: bytes) -> Path:
    """Replace ``path`` with ``content`` in one step; returns the path as a ``Path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _default_mode())  # mkstemp creates files readable by us alone
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    _sync_folder(path.parent)
    return path


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
