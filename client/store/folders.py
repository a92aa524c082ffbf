"""Creating the folder a file will live in, with an error that names what is in the way."""

from __future__ import annotations

import errno
from pathlib import Path


def make_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents); a file in its place is named, not "File exists"."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        blocker = next((p for p in (folder, *folder.parents) if p.is_file()), folder)
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(blocker)) from error
