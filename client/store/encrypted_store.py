"""The encrypted store: one SQLite file per user profile, unlocked by a passphrase.

Key hierarchy (docs/threat-model.md has the full picture):
- passphrase --KDF (params in the header)--> key-encryption key (KEK), never stored;
- KEK wraps a random index key (header), from which the digest key and the tag key derive;
- KEK wraps one random data key per record; the data key seals the record.
Changing the passphrase re-wraps the index key and the data keys; no record is re-encrypted.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from client.store.closing import Closing
from client.store.database import SCHEMA_VERSION, Database
from client.store.errors import (
    KeyChangedError,
    StoreAccessError,
    StoreDamagedError,
    StoreExistsError,
    StoreNotFoundError,
    TamperedRecordsError,
    TamperedStoreError,
    WrongPassphraseError,
)
from client.store.folders import make_folder
from client.store.salvage import salvage_scan
from client.store.sealed_table import ScanResult, SealedTable
from client.store.snapshot import TABLE as SNAPSHOTS
from client.store.snapshot import Snapshots
from privacy import aead, integrity
from privacy.envelope import RecordAddress, open_record, rewrap_data_key
from privacy.kdf import KdfParams, default_params, derive_kek

STORE_FORMAT = "fedpersona-store"
_INDEX_KEY_ADDRESS = RecordAddress("header", "index-key", SCHEMA_VERSION)


@dataclass(frozen=True)
class IntegrityReport:
    """Result of :meth:`EncryptedStore.verify`."""

    sqlite_errors: list[str]
    bad_ids: dict[str, list[str]]
    digest_mismatch: list[str]
    rows: dict[str, int]  # rows read per table, authenticated or not

    @property
    def ok(self) -> bool:
        return not (self.sqlite_errors or any(self.bad_ids.values()) or self.digest_mismatch)


class EncryptedStore(Closing):
    """An unlocked store. Create with :meth:`create`, open with :meth:`open`; close when done."""

    def __init__(self, db: Database, kdf: KdfParams, kek: bytes, index_key: bytes) -> None:
        self._db = db
        self.kdf = kdf
        self._kek = kek
        self._index_key = index_key
        self.tables = {
            name: SealedTable(
                db,
                name,
                kek=kek,
                digest_key=integrity.subkey(index_key, "digest"),
                on_auth_failure=self._raise_if_key_changed,
            )
            # A read-only store made by an older version may lack a newer (empty) table.
            for name in db.record_tables()
        }
        snapshot_table = self.tables.get(SNAPSHOTS)
        self.snapshots = (
            None
            if snapshot_table is None
            else Snapshots(
                db, snapshot_table, {n: t for n, t in self.tables.items() if n != SNAPSHOTS}
            )
        )

    @property
    def path(self) -> Path:
        return self._db.path

    @classmethod
    def create(cls, path: Path, passphrase: str, *, kdf: KdfParams | None = None) -> EncryptedStore:
        """Create a new store at ``path``; refuses to overwrite anything."""
        path = Path(path)
        if path.exists():
            raise StoreExistsError(f"{path} already exists; refusing to overwrite it")
        make_folder(path.parent)
        params = kdf or default_params()
        kek = derive_kek(passphrase, params)
        # Build under a temporary name and rename: a killed `init` never leaves a half store.
        staging = path.with_name(f".{path.name}.{os.getpid()}.creating")
        os.close(os.open(staging, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        try:
            db = Database(staging, create=True)
            try:
                with db.write():
                    db.set_header("format", STORE_FORMAT)
                    db.set_header("schema_version", str(SCHEMA_VERSION))
                    db.set_header("created_at", str(time.time()))
                    _write_key_header(db, params, kek, aead.new_key())
                db.checkpoint_and_truncate_wal()
            finally:
                db.close()
            os.replace(staging, path)
        finally:
            for leftover in ("", "-wal", "-shm"):
                Path(f"{staging}{leftover}").unlink(missing_ok=True)
        return cls.open(path, passphrase)

    @classmethod
    def open(cls, path: Path, passphrase: str) -> EncryptedStore:
        """Unlock the store at ``path``. Wrong passphrases change nothing on disk."""
        path = Path(path)
        if not path.is_file():
            raise StoreNotFoundError(
                f"no store at {path} (create one with `fedpersona store init`)"
            )
        db = _open_database(path)
        try:
            header = _read_key_header(db)
            params = _kdf_params(db, header)
            kek = _derive_to_unlock(passphrase, params)
            try:
                index_key = aead.unseal(
                    kek, bytes.fromhex(header["wrapped_index_key"]), _index_key_ad(params)
                )
            except aead.AuthenticationError:
                raise WrongPassphraseError("wrong passphrase for this store") from None
            db.add_missing_record_tables()
        except BaseException:
            db.close()
            raise
        return cls(db, params, kek, index_key)

    def close(self) -> None:
        for table in self.tables.values():
            table.forget_keys()  # locked: no unwrapped data key outlives the unlock
        self._db.close()

    def tag(self, label: str, value: str) -> str:
        """Keyed tag for an index column or a deterministic id (meaningless without the key)."""
        return integrity.keyed_tag(integrity.subkey(self._index_key, "tag"), label, value)

    def transaction(self) -> Database:
        """``with store.transaction().write():`` groups several changes into one atomic commit."""
        return self._db

    def change_passphrase(self, new_passphrase: str, *, kdf: KdfParams | None = None) -> None:
        """Re-wrap every key under a KEK from ``new_passphrase`` (and new KDF params, if given).

        KDF parameters can only be raised. The whole change is one transaction: a crash leaves
        either the old passphrase or the new one working, never neither.
        """
        params = kdf or KdfParams(
            algorithm=self.kdf.algorithm,
            memory_kib=self.kdf.memory_kib,
            iterations=self.kdf.iterations,
            lanes=self.kdf.lanes,
        )
        if params.is_weaker_than(self.kdf):
            raise ValueError(
                f"KDF parameters can only be raised (now {self.kdf.memory_kib} KiB, "
                f"{self.kdf.iterations} passes; asked for {params.memory_kib} KiB, "
                f"{params.iterations} passes)."
            )
        new_kek = derive_kek(new_passphrase, params)
        with self._db.write():
            # Another `passwd` may have committed since this one unlocked: re-wrapping now
            # would silently void the passphrase it set (and both would report success).
            self._raise_if_key_changed()
            report = self.verify()
            if not report.ok:
                raise TamperedRecordsError(
                    "refusing to re-wrap keys of a damaged store; export it with "
                    "--skip-damaged and import into a new store",
                    bad_ids=[i for ids in report.bad_ids.values() for i in ids],
                    table_digest_mismatch=report.digest_mismatch,
                )
            old_kek = self._kek
            for table in self.tables.values():
                table.reseal_all(
                    lambda address, wrapped: rewrap_data_key(old_kek, new_kek, address, wrapped)
                )
            _write_key_header(self._db, params, new_kek, self._index_key)
        for table in self.tables.values():
            table.rekey(kek=new_kek, digest_key=integrity.subkey(self._index_key, "digest"))
        self.kdf, self._kek = params, new_kek
        self.shred_residue()

    def verify(self) -> IntegrityReport:
        """Check the file's structure, every record's tag and every table's digest."""
        sqlite_errors = self._db.integrity_errors()
        scans: dict[str, ScanResult] = {}
        with self._db.read():
            for name in self.tables:
                scans[name] = self.scan(name, strict=False)
        return IntegrityReport(
            sqlite_errors=sqlite_errors,
            bad_ids={name: scan.bad_ids for name, scan in scans.items()},
            digest_mismatch=[name for name, scan in scans.items() if not scan.digest_ok],
            rows={name: len(scan.records) + len(scan.bad_ids) for name, scan in scans.items()},
        )

    def scan(self, table: str, *, strict: bool = True) -> ScanResult:
        """``tables[table].scan(strict=strict)``; on a damaged file, each readable row alone.

        Without ``strict``, a file SQLite finds damaged still yields every record that
        authenticates (the table is then reported as missing rows).
        """
        try:
            return self.tables[table].scan(strict=strict)
        except StoreDamagedError:
            if strict:
                raise
        sealed = self.tables[table]
        rows, lost = self._db.readable_rows(table)
        return salvage_scan(
            rows,
            lost,
            open_row=lambda i, row: open_record(self._kek, sealed.address(i), row),
            term_of=lambda i, row: integrity.record_term(self._digest_key, sealed.address(i), row),
            expected=sealed.stored_digest(),
        )

    @property
    def _digest_key(self) -> bytes:
        return integrity.subkey(self._index_key, "digest")

    def shred_residue(self) -> bool:
        """Flush deleted or replaced key material out of the WAL (see Database).

        Returns False if another process's open read kept the WAL from being reset.
        """
        return self._db.checkpoint_and_truncate_wal()

    def compact(self) -> None:
        """Rebuild the file without free pages, then reset the WAL."""
        self._db.vacuum()
        self.shred_residue()

    def header_info(self) -> dict[str, str]:
        return self._db.header()

    def sealed_value(self, name: str) -> bytes | None:
        """A small value sealed into the header by ``set_sealed_value``; None if never set.

        Sealed under a subkey of the index key (which a passphrase change re-wraps but keeps),
        with the name as associated data: an edited or moved value raises TamperedStoreError.
        """
        stored = self._db.header().get(_SEALED_PREFIX + name)
        if stored is None:
            return None
        try:
            return aead.unseal(self._value_key, bytes.fromhex(stored), _value_ad(name))
        except (aead.AuthenticationError, ValueError) as error:
            altered = f"{self.path}: the sealed value {name!r} was altered"
            raise TamperedStoreError(altered) from error

    def set_sealed_value(self, name: str, value: bytes) -> None:
        """Seal ``value`` into the header under ``name``, in one committed write."""
        sealed = aead.seal(self._value_key, value, _value_ad(name)).hex()
        with self._db.write():
            self._db.set_header(_SEALED_PREFIX + name, sealed)

    @property
    def _value_key(self) -> bytes:
        return integrity.subkey(self._index_key, "sealed-value")

    def _raise_if_key_changed(self) -> None:
        current = json.loads(self._db.header()["kdf"])
        if bytes.fromhex(current["salt"]) != self.kdf.salt:
            raise KeyChangedError(
                "the passphrase was changed by another process; unlock the store again"
            )


_SEALED_PREFIX = "sealed:"


def _value_ad(name: str) -> bytes:
    return RecordAddress("header", _SEALED_PREFIX + name, SCHEMA_VERSION).associated_data("value")


def _index_key_ad(params: KdfParams) -> bytes:
    # The KDF parameters are authenticated with the index key, so editing them in the header
    # cannot go unnoticed (it fails like a wrong passphrase would, or as a checksum error).
    return _INDEX_KEY_ADDRESS.associated_data(
        "index-key:" + json.dumps(params.to_json(), sort_keys=True)
    )


def _header_checksum(fmt: str, schema: str, kdf_json: str, wrapped_index_key: str) -> str:
    return hashlib.sha256(
        "\0".join((fmt, schema, kdf_json, wrapped_index_key)).encode()
    ).hexdigest()


def _write_key_header(db: Database, params: KdfParams, kek: bytes, index_key: bytes) -> None:
    kdf_json = json.dumps(params.to_json(), sort_keys=True)
    wrapped = aead.seal(kek, index_key, _index_key_ad(params)).hex()
    db.set_header("kdf", kdf_json)
    db.set_header("wrapped_index_key", wrapped)
    db.set_header(
        "header_checksum",
        _header_checksum(STORE_FORMAT, str(SCHEMA_VERSION), kdf_json, wrapped),
    )


def _open_database(path: Path) -> Database:
    """The store's file; a file SQLite finds damaged is opened read-only to salvage it."""
    try:
        db = Database(path, create=False)
    except StoreDamagedError:
        return Database(path, create=False, damaged=True)
    try:
        db.header()
    except StoreDamagedError:
        db.close()
        return Database(path, create=False, damaged=True)
    except BaseException:
        db.close()
        raise
    return db


def _kdf_params(db: Database, header: dict[str, str]) -> KdfParams:
    """The header's KDF settings; out-of-range ones (a hand-edited header) are refused."""
    try:
        return KdfParams.from_json(json.loads(header["kdf"]))
    except (ValueError, KeyError, TypeError) as error:
        raise TamperedStoreError(f"{db.path}: its key-derivation settings: {error}") from None


def _derive_to_unlock(passphrase: str, params: KdfParams) -> bytes:
    try:
        return derive_kek(passphrase, params)
    except MemoryError:
        raise StoreAccessError(
            f"unlocking this store needs {params.memory_kib // 1024} MiB of memory for its "
            "key derivation, and this machine could not give it"
        ) from None


def _read_key_header(db: Database) -> dict[str, str]:
    try:
        header = db.header()
    except TamperedStoreError:
        raise
    except Exception as error:  # a file that is SQLite but not ours
        raise TamperedStoreError(f"{db.path} is not a fedpersona store: {error}") from error
    if header.get("format") != STORE_FORMAT:
        raise TamperedStoreError(f"{db.path} is not a fedpersona store")
    version = header.get("schema_version", "")
    if version != str(SCHEMA_VERSION):
        raise TamperedStoreError(
            f"{db.path} has schema version {version!r}; this fedpersona reads {SCHEMA_VERSION}"
        )
    needed = ("kdf", "wrapped_index_key", "header_checksum")
    if any(name not in header for name in needed):
        raise TamperedStoreError(f"{db.path}: the store header is incomplete")
    expected = _header_checksum(
        header["format"], version, header["kdf"], header["wrapped_index_key"]
    )
    if expected != header["header_checksum"]:
        raise TamperedStoreError(f"{db.path}: the store header was altered or damaged")
    return header
