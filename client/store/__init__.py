"""The encrypted on-device store: SQLite file, envelope-sealed records, keys and integrity."""

from client.store.encrypted_store import EncryptedStore
from client.store.errors import (
    StoreBusyError,
    StoreError,
    StoreNotFoundError,
    TamperedRecordsError,
    TamperedStoreError,
    WrongPassphraseError,
)

__all__ = [
    "EncryptedStore",
    "StoreBusyError",
    "StoreError",
    "StoreNotFoundError",
    "TamperedRecordsError",
    "TamperedStoreError",
    "WrongPassphraseError",
]
