"""The SQLite file under the store: schema, pragmas, header and write transactions.

Only sealed bytes and opaque ids reach this layer. Settings and why:
- WAL journal with ``synchronous=FULL``: a commit that returned survives a killed
  process (and a power cut), and a half-written transaction is never visible.
- ``secure_delete=ON``: deleted rows are overwritten with zeros, so a destroyed data key
  does not linger in free pages (crypto-shredding needs that).
- ``temp_store=MEMORY``: sorts and temporary indexes never spill to temp files.
- ``BEGIN IMMEDIATE`` for every write plus a busy timeout: two processes on one store
  serialise their writes instead of corrupting each other's read-modify-write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from client.store.errors import StoreBusyError, TamperedStoreError

SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 15_000
RECORD_TABLES = ("persona_attributes", "turns", "summaries", "memories", "training_pairs")


def _record_table_sql(name: str) -> tuple[str, str]:
    return (
        f"""CREATE TABLE IF NOT EXISTS {name} (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            tag TEXT,
            wrapped_key BLOB NOT NULL,
            ciphertext BLOB NOT NULL
        )""",
        f"CREATE INDEX IF NOT EXISTS {name}_tag ON {name}(tag)",
    )


class Database:
    """One connection to a store file, with explicit write transactions."""

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = path
        self._depth = 0
        if not create:
            _check_magic(path)
        try:
            self._conn = sqlite3.connect(
                path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
            for pragma in (
                f"busy_timeout = {BUSY_TIMEOUT_MS}",
                "journal_mode = WAL",
                "synchronous = FULL",
                "secure_delete = ON",
                "temp_store = MEMORY",
            ):
                self._conn.execute(f"PRAGMA {pragma}")
            if create:
                with self.write():
                    self._conn.execute(
                        "CREATE TABLE IF NOT EXISTS header "
                        "(name TEXT PRIMARY KEY, value TEXT NOT NULL)"
                    )
                    for table in RECORD_TABLES:
                        for statement in _record_table_sql(table):
                            self._conn.execute(statement)
        except sqlite3.OperationalError as error:
            raise _translate(error, path) from error
        except sqlite3.DatabaseError as error:
            raise TamperedStoreError(f"{path} is not a readable store: {error}") from error

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested uses join the outermost one (all or nothing)."""
        with self._transaction("BEGIN IMMEDIATE") as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees one consistent snapshot."""
        with self._transaction("BEGIN DEFERRED") as conn:
            yield conn

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        if self._depth:
            self._depth += 1
            try:
                yield self._conn
            finally:
                self._depth -= 1
            return
        try:
            self._conn.execute(begin)
        except sqlite3.OperationalError as error:
            raise _translate(error, self.path) from error
        self._depth = 1
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._depth = 0

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Run a read query; SQLite-level corruption is reported as tampering."""
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as error:
            raise _translate(error, self.path) from error
        except sqlite3.DatabaseError as error:
            raise TamperedStoreError(f"{self.path} is damaged: {error}") from error

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> None:
        """Run one statement inside the current write transaction."""
        if not self._depth:
            raise RuntimeError("execute() must run inside Database.write()")
        try:
            self._conn.execute(sql, params)
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.IntegrityError):
                raise
            raise TamperedStoreError(f"{self.path} is damaged: {error}") from error

    def header(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.query("SELECT name, value FROM header")}

    def set_header(self, name: str, value: str) -> None:
        self.execute(
            "INSERT INTO header (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def integrity_errors(self) -> list[str]:
        """SQLite's own structural check of the file (page-level damage, truncation)."""
        rows = self.query("PRAGMA quick_check")
        return [str(row[0]) for row in rows if row[0] != "ok"]

    def checkpoint_and_truncate_wal(self) -> bool:
        """Move the WAL into the main file and truncate the WAL to zero bytes.

        Returns False when another connection's open read kept the WAL from being reset
        (its frames, which may still hold deleted bytes, then remain until a later one).
        """
        busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    def vacuum(self) -> None:
        self._conn.execute("VACUUM")


def _check_magic(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise TamperedStoreError(f"cannot read {path}: {error.strerror}") from error
    if magic != SQLITE_MAGIC:
        raise TamperedStoreError(f"{path} is not a fedpersona store (damaged or another file)")


def _translate(error: sqlite3.OperationalError, path: Path) -> Exception:
    message = str(error)
    if "locked" in message or "busy" in message:
        return StoreBusyError(f"{path} is busy: another process holds its write lock")
    return TamperedStoreError(f"{path} cannot be used: {message}")
