"""Writing a file only its owner may read, atomically, even over an existing file.

Opening an existing file for writing keeps its mode (0644 stays 0644), so a plaintext
export written that way would stay readable by every local user. Instead the text goes
to a new owner-only temporary file beside the target, is flushed to disk, and then
replaces the target in one rename: a reader sees the old file or the whole new one, and
a failure (full disk, killed process) leaves the old file as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, replacing any file there atomically.

    A symbolic link is followed (its target is replaced); a device or pipe is written into.
    """
    path = Path(path).resolve() if Path(path).is_symlink() else Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        # A device or a pipe (/dev/stdout, a FIFO): write into it; renaming over it would
        # replace the device node itself.
        with path.open("w", encoding="utf-8") as handle:
            handle.write(text)
        return
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path.parent))
    try:
        # mkstemp creates the file with mode 0600 and O_EXCL: nobody else can have it open.
        fd, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    except OSError as error:  # name the file asked for, not the temporary one
        raise OSError(error.errno, error.strerror, str(path)) from error
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staging)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    # The rename itself survives a power cut only once the folder's entry is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
