"""One table of sealed records: put, get, delete and scan, with the table's keyed digest.

Every row holds an opaque id, an optional keyed tag (for example the HMAC of a persona
category, so a whole category can be found and forgotten without revealing its name),
the record's wrapped data key and its sealed body. The table's digest (privacy.integrity)
lives in the header and changes in the same transaction as the rows.

While the store is unlocked, each record's data key is unwrapped once and remembered
(:class:`~client.store.key_cache.DataKeyCache`), so a second read of the same record costs
one AES-GCM open instead of two. The cache is a memo of ``unwrap(kek, address, wrapped)``:
it answers only for the exact wrapped-key bytes it saw, so an altered wrapped key is
unwrapped (and fails) as before; it is emptied on close and when the KEK changes, and a
deleted record's key leaves it with the row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from client.store.database import SCHEMA_VERSION, Database
from client.store.errors import TamperedRecordsError
from client.store.key_cache import DataKeyCache
from privacy import aead, integrity
from privacy.aead import AuthenticationError
from privacy.envelope import RecordAddress, SealedRecord, seal_record, unwrap_data_key


@dataclass(frozen=True)
class ScanResult:
    """Records that authenticated, in insertion order, and what did not."""

    records: list[tuple[str, bytes]]
    bad_ids: list[str]
    digest_ok: bool

    @property
    def intact(self) -> bool:
        return self.digest_ok and not self.bad_ids


class SealedTable:
    """Sealed records of one kind. Plaintext goes in and out; only ciphertext is stored."""

    def __init__(
        self,
        db: Database,
        name: str,
        *,
        kek: bytes,
        digest_key: bytes,
        on_auth_failure: Callable[[], None],
    ) -> None:
        self._db = db
        self.name = name
        self._kek = kek
        self._digest_key = digest_key
        # Lets the store tell "another process changed the passphrase" from tampering.
        self._on_auth_failure = on_auth_failure
        self._keys = DataKeyCache()
        # Called with the ids of deleted records, inside the deleting transaction (a sealed
        # copy derived from this table, such as client.store.snapshot, drops them there).
        self.on_delete: list[Callable[[set[str]], None]] = []

    def address(self, record_id: str) -> RecordAddress:
        return RecordAddress(self.name, record_id, SCHEMA_VERSION)

    def put(self, record_id: str, payload: bytes, *, tag: str | None = None) -> None:
        """Insert or replace one record (a fresh data key each time)."""
        address = self.address(record_id)
        sealed = seal_record(self._kek, address, payload)
        self._keys.drop(record_id)  # the replaced version's key is destroyed with its row
        with self._db.write():
            digest = self.stored_digest()
            previous = self.sealed(record_id)
            if previous is not None:
                digest = integrity.xor(digest, self._term(address, previous))
            digest = integrity.xor(digest, self._term(address, sealed))
            self._db.execute(
                f"INSERT INTO {self.name} (id, tag, wrapped_key, ciphertext) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET tag = excluded.tag, "
                "wrapped_key = excluded.wrapped_key, ciphertext = excluded.ciphertext",
                (record_id, tag, sealed.wrapped_key, sealed.ciphertext),
            )
            self._set_digest(digest)

    def get(self, record_id: str) -> bytes | None:
        """The record's plaintext, None if absent; raises TamperedRecordsError if altered."""
        sealed = self.sealed(record_id)
        if sealed is None:
            return None
        try:
            return self.open(record_id, sealed)
        except AuthenticationError as error:
            self._on_auth_failure()
            raise TamperedRecordsError(
                f"record {record_id} in {self.name} failed authentication", bad_ids=[record_id]
            ) from error

    def contains(self, record_id: str) -> bool:
        return bool(self._db.query(f"SELECT 1 FROM {self.name} WHERE id = ?", (record_id,)))

    def delete(self, record_ids: Iterable[str]) -> int:
        """Delete records and their wrapped keys (zeroed on disk by secure_delete)."""
        gone: set[str] = set()
        with self._db.write():
            digest = self.stored_digest()
            for record_id in record_ids:
                previous = self.sealed(record_id)
                if previous is None:
                    continue
                digest = integrity.xor(digest, self._term(self.address(record_id), previous))
                self._db.execute(f"DELETE FROM {self.name} WHERE id = ?", (record_id,))
                self._keys.drop(record_id)
                gone.add(record_id)
            self._set_digest(digest)
            for hook in self.on_delete if gone else ():
                hook(gone)
        return len(gone)

    def ids(self, *, tag: str | None = None) -> list[str]:
        """Record ids in insertion order, optionally only those with ``tag``."""
        if tag is None:
            rows = self._db.query(f"SELECT id FROM {self.name} ORDER BY seq")
        else:
            rows = self._db.query(f"SELECT id FROM {self.name} WHERE tag = ? ORDER BY seq", (tag,))
        return [str(row[0]) for row in rows]

    def count(self) -> int:
        return int(str(self._db.query(f"SELECT COUNT(*) FROM {self.name}")[0][0]))

    def scan(self, *, strict: bool = True) -> ScanResult:
        """Open every record and check the set of rows against the table's digest.

        With ``strict`` (the default) any failure raises TamperedRecordsError; otherwise the
        result lists what failed next to everything that authenticated.
        """
        with self._db.read():
            rows = self._db.query(
                f"SELECT id, wrapped_key, ciphertext FROM {self.name} ORDER BY seq"
            )
            expected = self.stored_digest()
        records: list[tuple[str, bytes]] = []
        bad_ids: list[str] = []
        digest = 0  # the XOR of the terms, as an integer (privacy.integrity.xor, unrolled)
        for raw_id, wrapped_key, ciphertext in rows:
            record_id = str(raw_id)
            sealed = SealedRecord(bytes(wrapped_key), bytes(ciphertext))
            try:
                plaintext, term = self._open_with_term(record_id, sealed)
                records.append((record_id, plaintext))
            except AuthenticationError:
                term = self._term(self.address(record_id), sealed)
                bad_ids.append(record_id)
            digest ^= int.from_bytes(term, "big")
        digest_ok = digest.to_bytes(integrity.DIGEST_BYTES, "big") == expected
        result = ScanResult(records=records, bad_ids=bad_ids, digest_ok=digest_ok)
        if bad_ids:
            self._on_auth_failure()
        if strict and not result.intact:
            raise TamperedRecordsError(
                _describe(self.name, result),
                bad_ids=bad_ids,
                table_digest_mismatch=[] if result.digest_ok else [self.name],
            )
        return result

    def reseal_all(self, rewrap: Callable[[RecordAddress, bytes], bytes]) -> None:
        """Replace every wrapped key with ``rewrap(address, wrapped_key)``; bodies untouched.

        Must run inside the caller's write transaction, after the caller verified the table.
        """
        rows = self._db.query(f"SELECT id, wrapped_key, ciphertext FROM {self.name}")
        digest = integrity.EMPTY_DIGEST
        for raw_id, wrapped_key, ciphertext in rows:
            record_id = str(raw_id)
            address = self.address(record_id)
            new_wrapped = rewrap(address, bytes(wrapped_key))
            sealed = SealedRecord(new_wrapped, bytes(ciphertext))
            digest = integrity.xor(digest, self._term(address, sealed))
            self._db.execute(
                f"UPDATE {self.name} SET wrapped_key = ? WHERE id = ?", (new_wrapped, record_id)
            )
        self._set_digest(digest)

    def rekey(self, *, kek: bytes, digest_key: bytes) -> None:
        self._kek = kek
        self._digest_key = digest_key
        self._keys.clear()

    def forget_keys(self) -> None:
        """Drop every remembered data key (the store is being locked)."""
        self._keys.clear()

    def open(self, record_id: str, sealed: SealedRecord) -> bytes:
        """The plaintext of ``sealed`` stored at ``record_id``; AuthenticationError if altered."""
        address = self.address(record_id)
        data_key = self._keys.get(record_id, sealed.wrapped_key)
        if data_key is None:
            data_key = unwrap_data_key(self._kek, address, sealed.wrapped_key)
            self._keys.put(record_id, sealed.wrapped_key, data_key)
        return aead.unseal(data_key, sealed.ciphertext, address.associated_data("record"))

    def _open_with_term(self, record_id: str, sealed: SealedRecord) -> tuple[bytes, bytes]:
        """The plaintext and the digest term of one row (the term remembered once opened).

        Reusing a term is sound because it is reused only for a row that authenticated under
        the same data key, and a data key seals exactly one ciphertext (``put`` draws a new
        key each time): the same wrapped key and an authentic body mean the same row bytes.
        """
        plaintext = self.open(record_id, sealed)
        term = self._keys.term(record_id)
        if term is None:
            term = self._term(self.address(record_id), sealed)
            self._keys.set_term(record_id, term)
        return plaintext, term

    def stored_digest(self) -> bytes:
        rows = self._db.query("SELECT value FROM header WHERE name = ?", (self._digest_name,))
        return bytes.fromhex(str(rows[0][0])) if rows else integrity.EMPTY_DIGEST

    @property
    def _digest_name(self) -> str:
        return f"digest:{self.name}"

    def _set_digest(self, digest: bytes) -> None:
        self._db.set_header(self._digest_name, digest.hex())

    def sealed(self, record_id: str) -> SealedRecord | None:
        rows = self._db.query(
            f"SELECT wrapped_key, ciphertext FROM {self.name} WHERE id = ?", (record_id,)
        )
        if not rows:
            return None
        wrapped_key, ciphertext = rows[0]
        return SealedRecord(bytes(wrapped_key), bytes(ciphertext))

    def _term(self, address: RecordAddress, sealed: SealedRecord) -> bytes:
        return integrity.record_term(self._digest_key, address, sealed)


def _describe(table: str, result: ScanResult) -> str:
    parts = []
    if result.bad_ids:
        parts.append(f"{len(result.bad_ids)} record(s) in {table} failed authentication")
    if not result.digest_ok:
        parts.append(
            f"the rows of {table} do not match its digest (rows dropped, added or replayed)"
        )
    return "; ".join(parts)
