"""Errors the store raises; each maps to one command-line exit code (see cli)."""

from __future__ import annotations

from collections.abc import Sequence


class StoreError(Exception):
    """Base class for every store error."""


class WrongPassphraseError(StoreError):
    """The passphrase does not unlock this store. Nothing was changed."""


class StoreNotFoundError(StoreError):
    """There is no store at the given path."""


class StoreExistsError(StoreError):
    """A store (or another file) already exists where a new one was to be created."""


class StoreBusyError(StoreError):
    """Another process held the store's write lock for longer than the busy timeout."""


class KeyChangedError(StoreBusyError):
    """Another process changed the passphrase while this one had the store open."""


class StoreAccessError(StoreError):
    """The system refused a write: the file or its folder is read-only, or the disk is full.

    Nothing was changed: the failed transaction was rolled back.
    """


class StoreReadOnlyError(StoreAccessError):
    """The store file (or its folder) cannot be written; reading still works."""


class StoreFullError(StoreAccessError):
    """The disk (or the file system's quota) is full."""


class TamperedStoreError(StoreError):
    """The file is not a readable fedpersona store, or its header was altered."""


class StoreDamagedError(TamperedStoreError):
    """SQLite found the file itself damaged (truncated, overwritten pages)."""


class TamperedRecordsError(StoreError):
    """Some records failed authentication, or rows were dropped, added or replaced.

    ``bad_ids`` names the records that failed; ``table_digest_mismatch`` lists tables whose
    set of rows no longer matches the keyed digest (rows missing or replayed).
    """

    def __init__(
        self,
        message: str,
        *,
        bad_ids: Sequence[str] = (),
        table_digest_mismatch: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.bad_ids = tuple(bad_ids)
        self.table_digest_mismatch = tuple(table_digest_mismatch)
