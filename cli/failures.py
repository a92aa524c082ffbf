"""Every failure a person can cause or meet, as one line on stderr and one exit code.

The command line catches exactly the errors listed here, at one place (cli.main);
anything else is a bug and keeps its traceback. Exit codes (README, "The encrypted store"):

- 0 done;
- 1 the command's own work failed (`models export-encoder` did not match torch, a `demo`
  check failed);
- 2 wrong passphrase or bad arguments: anything fixed by changing the command or its input
  (a missing file or folder, a path that is a file where a folder is needed, bad settings);
- 3 tampered or unreadable store;
- 4 store busy, or changed by another process meanwhile (nothing was changed by this one);
- 5 the system refused: no permission, a read-only file or folder, a full disk;
- 130 interrupted (Ctrl+C); nothing was left half-written.
"""

from __future__ import annotations

import errno

from client.records import RecordFormatError
from client.store.errors import (
    StoreAccessError,
    StoreBusyError,
    StoreError,
    TamperedRecordsError,
    TamperedStoreError,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TAMPERED, EXIT_BUSY, EXIT_SYSTEM = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130
DOCUMENTED_EXIT_CODES = frozenset(
    {EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TAMPERED, EXIT_BUSY, EXIT_SYSTEM, EXIT_INTERRUPTED}
)

# errno values a different argument would avoid; every other OSError is the system's.
_USAGE_ERRNOS = {
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.EEXIST: "already exists",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ELOOP: "too many symbolic links",
}
_SYSTEM_ERRNOS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
}


class UsageError(Exception):
    """A bad argument, a missing variable or an unreadable input (exit code 2)."""


CAUGHT: tuple[type[Exception], ...] = (StoreError, RecordFormatError, UsageError, OSError)


def exit_code_for(error: Exception) -> int:
    """The documented exit code of an error in ``CAUGHT``."""
    if isinstance(error, TamperedStoreError | TamperedRecordsError):
        return EXIT_TAMPERED
    if isinstance(error, StoreBusyError):
        return EXIT_BUSY
    if isinstance(error, StoreAccessError):
        return EXIT_SYSTEM
    if isinstance(error, OSError):
        return EXIT_USAGE if error.errno in _USAGE_ERRNOS else EXIT_SYSTEM
    return EXIT_USAGE


def describe(error: Exception) -> str:
    """The error as one line (no traceback, no line breaks)."""
    if isinstance(error, OSError) and not isinstance(error, StoreError):
        return _describe_os_error(error)
    return " ".join(str(error).split())


def _describe_os_error(error: OSError) -> str:
    known = {**_USAGE_ERRNOS, **_SYSTEM_ERRNOS}
    reason = known.get(error.errno or 0, error.strerror or str(error))
    names = [str(n) for n in (error.filename, error.filename2) if n is not None]
    return f"{' -> '.join(names)}: {reason}" if names else reason
