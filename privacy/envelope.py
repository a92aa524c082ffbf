"""Envelope encryption of one record: a fresh data key per record, wrapped by the KEK.

Both the record and its wrapped data key are sealed with associated data naming the
record's table, id and schema version, so a ciphertext (or a wrapped key) copied onto
another row, another table or another schema version no longer authenticates.
Destroying the wrapped key (crypto-shredding) makes the record's ciphertext unreadable
even to someone who kept a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property

from privacy import aead


@dataclass(frozen=True)
class RecordAddress:
    """Where a record lives; authenticated with every seal so records cannot be moved."""

    table: str
    record_id: str
    schema_version: int

    def associated_data(self, purpose: str) -> bytes:
        # Length-prefixed fields: no two different addresses encode to the same bytes.
        return _purpose_prefix(purpose) + self._encoded_fields

    @cached_property
    def _encoded_fields(self) -> bytes:
        # Computed once per address: a scan seals/opens/digests each record three times.
        return _length_prefixed((str(self.schema_version), self.table, self.record_id))


@cache
def _purpose_prefix(purpose: str) -> bytes:
    return _length_prefixed(("fedpersona", purpose))


def _length_prefixed(fields: tuple[str, ...]) -> bytes:
    encoded = [f.encode() for f in fields]
    return b"".join(len(e).to_bytes(2, "big") + e for e in encoded)


@dataclass(frozen=True)
class SealedRecord:
    """What is stored for a record: its wrapped data key and its sealed body."""

    wrapped_key: bytes
    ciphertext: bytes


def seal_record(kek: bytes, address: RecordAddress, plaintext: bytes) -> SealedRecord:
    """Seal ``plaintext`` under a fresh data key and wrap that key under ``kek``."""
    data_key = aead.new_key()
    return SealedRecord(
        wrapped_key=aead.seal(kek, data_key, address.associated_data("data-key")),
        ciphertext=aead.seal(data_key, plaintext, address.associated_data("record")),
    )


def unwrap_data_key(kek: bytes, address: RecordAddress, wrapped_key: bytes) -> bytes:
    """Return the record's data key; raises :class:`aead.AuthenticationError` if altered."""
    return aead.unseal(kek, wrapped_key, address.associated_data("data-key"))


def open_record(kek: bytes, address: RecordAddress, sealed: SealedRecord) -> bytes:
    """Return the plaintext of ``sealed``; raises :class:`aead.AuthenticationError` if altered."""
    data_key = unwrap_data_key(kek, address, sealed.wrapped_key)
    return aead.unseal(data_key, sealed.ciphertext, address.associated_data("record"))


def rewrap_data_key(
    old_kek: bytes, new_kek: bytes, address: RecordAddress, wrapped_key: bytes
) -> bytes:
    """Re-wrap a record's data key under ``new_kek``; the record's ciphertext is untouched."""
    data_key = unwrap_data_key(old_kek, address, wrapped_key)
    return aead.seal(new_kek, data_key, address.associated_data("data-key"))
