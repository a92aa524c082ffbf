"""The SQLite file under the store: schema, pragmas, header and write transactions.

Only sealed bytes and opaque ids reach this layer. Settings and why:
- WAL journal with ``synchronous=FULL``: a commit that returned survives a killed
  process (and a power cut), and a half-written transaction is never visible.
- ``secure_delete=ON``: deleted rows are overwritten with zeros, so a destroyed data key
  does not linger in free pages (crypto-shredding needs that).
- ``temp_store=MEMORY``: sorts and temporary indexes never spill to temp files.
- ``BEGIN IMMEDIATE`` for every write plus a busy timeout: two processes on one store
  serialise their writes instead of corrupting each other's read-modify-write.

A damaged file is read row by row (``readable_rows``): a truncated file makes SQLite
refuse whole-table scans ("malformed") as soon as one page is missing, although most rows
may still be readable.

SQLite's own errors are translated here, once, into the store's errors: busy, read-only,
full, or damaged (client.store.errors), so a caller never has to read SQLite's messages.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from client.store.errors import (
    StoreAccessError,
    StoreBusyError,
    StoreDamagedError,
    StoreError,
    StoreFullError,
    StoreReadOnlyError,
    TamperedStoreError,
)
from privacy.envelope import SealedRecord

SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 15_000
Row = tuple[str, SealedRecord]
RECORD_TABLES = (
    "persona_attributes",
    "turns",
    "summaries",
    "memories",
    "training_pairs",
    "prompt_uses",
    "heads",  # the person's own reranking head, trained in chat (client.personal_head)
    "snapshots",  # sealed bulk copies of the tables above (client.store.snapshot)
)


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

    def __init__(self, path: Path, *, create: bool, damaged: bool = False) -> None:
        """Open (or ``create``) the store file; ``damaged`` opens a damaged one to salvage it.

        A damaged file is opened read-only with SQLite's own check of the file's length
        relaxed (``writable_schema``, harmless on a read-only connection), so the pages that
        survive can still be read.
        """
        self.path = path
        self.damaged = damaged
        self._depth = 0
        if not create:
            _check_magic(path)
        try:
            if damaged:
                self._conn = _connect_damaged(path)
                return
            try:
                self._conn = _connect(path)
            except sqlite3.OperationalError as error:
                if create or not _error_name(error).startswith(_NO_WRITE):
                    raise
                self._conn = _connect_read_only(path, error)
            if create:
                with self.write():
                    self._conn.execute(
                        "CREATE TABLE IF NOT EXISTS header "
                        "(name TEXT PRIMARY KEY, value TEXT NOT NULL)"
                    )
                    for table in RECORD_TABLES:
                        for statement in _record_table_sql(table):
                            self._conn.execute(statement)
        except sqlite3.DatabaseError as error:
            raise self._translate(error) from error

    def close(self) -> None:
        self._conn.close()

    def add_missing_record_tables(self) -> None:
        """Create the record tables a store made by an older version lacks (they start empty).

        Called only after the passphrase was checked, so a wrong one still changes nothing;
        a read-only or damaged file is left as it is (see :meth:`record_tables`).
        """
        if self.damaged or self.read_only:
            return
        with self.write():
            for table in RECORD_TABLES:
                for statement in _record_table_sql(table):
                    self._conn.execute(statement)

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
        except sqlite3.DatabaseError as error:
            raise self._translate(error) from error
        self._depth = 1
        changes_before = self._conn.total_changes
        try:
            yield self._conn
            self._commit(wrote=self._conn.total_changes != changes_before)
        except BaseException:
            self._rollback()
            raise
        finally:
            self._depth = 0

    def _commit(self, *, wrote: bool) -> None:
        try:
            self._conn.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            if not wrote:
                # Ending a read of a damaged file can fail too; a read has nothing to lose.
                return
            # A full disk can refuse the commit itself; the rollback then undoes it all.
            raise self._translate(error) from error

    def _rollback(self) -> None:
        # SQLite may already have rolled back on its own (SQLITE_FULL does, for instance).
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Run a read query; SQLite-level corruption is reported as tampering."""
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as error:
            raise self._translate(error) from error

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> None:
        """Run one statement inside the current write transaction."""
        if not self._depth:
            raise RuntimeError("execute() must run inside Database.write()")
        try:
            self._conn.execute(sql, params)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as error:
            raise self._translate(error) from error

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
        try:
            rows = self.query("PRAGMA quick_check")
        except StoreDamagedError as error:
            return [str(error.__cause__ or error)]
        return [str(row[0]) for row in rows if row[0] != "ok"]

    def record_tables(self) -> list[str]:
        """The record tables this file has, in :data:`RECORD_TABLES` order."""
        try:
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        except StoreDamagedError:  # the schema itself is unreadable: salvage reads row by row
            return list(RECORD_TABLES)
        present = {str(row[0]) for row in rows}
        return [name for name in RECORD_TABLES if name in present]

    def readable_rows(self, table: str) -> tuple[list[Row], bool]:
        """Each row of ``table`` SQLite can still read on its own, and whether any was lost."""
        return _readable_rows(self._conn, table)

    def _translate(self, error: sqlite3.DatabaseError) -> StoreError:
        if self.damaged and _error_name(error).startswith("SQLITE_READONLY"):
            return StoreDamagedError(
                f"{self.path} is damaged: it can only be read (`store status`, "
                "`store export --skip-damaged`); nothing was changed"
            )
        return _translate(error, self.path)

    def checkpoint_and_truncate_wal(self) -> bool:
        """Move the WAL into the main file and truncate the WAL to zero bytes.

        Returns False when another connection's open read kept the WAL from being reset
        (its frames, which may still hold deleted bytes, then remain until a later one).
        """
        if self.read_only:
            return True  # nothing was written, so the WAL holds nothing of this process's
        busy, _, _ = self.query("PRAGMA wal_checkpoint(TRUNCATE)")[0]
        return not busy

    def vacuum(self) -> None:
        try:
            self._conn.execute("VACUUM")
        except sqlite3.DatabaseError as error:
            raise self._translate(error) from error

    @property
    def read_only(self) -> bool:
        """True when the file (or its folder) could only be opened for reading."""
        return bool(self.query("PRAGMA query_only")[0][0])


def _readable_rows(conn: sqlite3.Connection, table: str) -> tuple[list[Row], bool]:
    """Every row SQLite can still read, in ``seq`` order, and whether any row was lost."""
    rows: list[Row] = []
    lost = False
    for seq in _candidate_seqs(conn, table):
        try:
            found = conn.execute(
                f"SELECT id, wrapped_key, ciphertext FROM {table} WHERE seq = ?", (seq,)
            ).fetchall()
        except sqlite3.DatabaseError:
            lost = True
            continue
        rows += [(str(i), SealedRecord(bytes(w), bytes(c))) for i, w, c in found]
    return rows, lost


def _candidate_seqs(conn: sqlite3.Connection, table: str) -> Iterable[int]:
    # The id index lists every live row's seq without touching the table's own pages;
    # when it is damaged too, every seq up to the table's counter is tried.
    try:
        return [
            int(row[0])
            for row in conn.execute(
                f"SELECT seq FROM {table} INDEXED BY sqlite_autoindex_{table}_1 ORDER BY seq"
            )
        ]
    except sqlite3.DatabaseError:
        pass
    try:
        found = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    except sqlite3.DatabaseError:
        return []
    return range(1, int(found[0]) + 1) if found else []


def _check_magic(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise TamperedStoreError(f"cannot read {path}: {error.strerror}") from error
    if magic != SQLITE_MAGIC:
        raise TamperedStoreError(f"{path} is not a fedpersona store (damaged or another file)")


_PRAGMAS = (
    f"busy_timeout = {BUSY_TIMEOUT_MS}",
    "journal_mode = WAL",
    "synchronous = FULL",
    "secure_delete = ON",
    "temp_store = MEMORY",
)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
    )
    try:
        for pragma in _PRAGMAS:
            conn.execute(f"PRAGMA {pragma}")
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_damaged(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro",
        uri=True,
        isolation_level=None,
        check_same_thread=False,
    )
    conn.execute("PRAGMA query_only = ON")
    conn.execute("PRAGMA writable_schema = ON")
    return conn


def _connect_read_only(path: Path, why: sqlite3.OperationalError) -> sqlite3.Connection:
    """Open for reading only: the file, or its folder, cannot be written.

    A WAL database needs its ``-shm`` file, which a read-only folder cannot hold. When no
    ``-wal`` file exists every commit is in the main file, so opening it as immutable reads
    all of it; with a ``-wal`` file left behind, immutable would skip those commits, so the
    store is refused instead.
    """
    immutable = not Path(f"{path}-wal").exists() and not os.access(path.parent, os.W_OK)
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        raise why from None
    return conn


# SQLite's extended result codes that mean "you may not write here" (the file, its folder).
_NO_WRITE = ("SQLITE_READONLY", "SQLITE_CANTOPEN")


def _error_name(error: sqlite3.DatabaseError) -> str:
    return str(getattr(error, "sqlite_errorname", ""))


def _translate(error: sqlite3.DatabaseError, path: Path) -> StoreError:
    """SQLite's error as the store's: busy, read-only, full, no access, or damaged."""
    name = _error_name(error)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreBusyError(f"{path} is busy: another process holds its write lock")
    if name.startswith("SQLITE_READONLY"):
        return StoreReadOnlyError(
            f"{path} is read-only (the file or its folder cannot be written); nothing was changed"
        )
    if name == "SQLITE_FULL":
        return StoreFullError(f"the disk holding {path} is full; nothing was changed")
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_PERM")):
        return StoreAccessError(f"{path} cannot be used ({error}); nothing was changed")
    return StoreDamagedError(f"{path} is damaged: {error}")
