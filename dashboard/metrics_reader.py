"""Read a run's metrics store, read-only, and say plainly when it cannot be shown.

The dashboard never writes: every connection is opened with the SQLite URI ``mode=ro``
(a write raises ``sqlite3.OperationalError``). Only the aggregate columns named in
``server.metrics_store.RoundRow`` are selected by name, so a column added later (say, one
that identified clients) is never read, let alone rendered.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from server.metrics_store import FILE_NAME, HELDOUT_COLUMNS, SCHEMA_VERSION, AuditRow, RoundRow

ROUND_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RoundRow))
AUDIT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(AuditRow))
RUN_COLUMNS = (
    "schema_version",
    "settings",
    "state",
    "detail",
    "started_at",
    "updated_at",
    *HELDOUT_COLUMNS,
    "accounting_assumption",
)
ProblemKind = Literal["missing", "empty", "older_schema", "unreadable", "not_metrics"]


@dataclass(frozen=True)
class StoreProblem:
    """Why a store cannot be shown, in words for the operator."""

    kind: ProblemKind
    path: Path
    message: str


@dataclass(frozen=True)
class RunData:
    """One run as the dashboard sees it: settings, end state, and aggregate rows by round."""

    path: Path
    schema_version: int
    settings: dict[str, Any]
    state: str
    detail: str
    started_at: float | None
    updated_at: float | None
    rounds: tuple[dict[str, Any], ...]
    # hits@1 of the global head on held-out users, percent: before the first round, after
    # the last, and the 95% interval's half-width (None: the run had no held-out users)
    heldout_before: float | None = None
    heldout_after: float | None = None
    heldout_ci95: float | None = None
    # what the run's epsilon rests on, in plain words (PrivacyLedger.assumption)
    accounting_assumption: str = ""
    # The latest empirical privacy audit recorded in this store (None: never audited).
    audit: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.path.parent.name

    @property
    def last(self) -> dict[str, Any] | None:
        return self.rounds[-1] if self.rounds else None


def store_file(path: Path) -> Path:
    """``path`` itself when it is a file, else the metrics store inside that folder."""
    return path if path.suffix == ".sqlite" or path.is_file() else path / FILE_NAME


def find_stores(root: Path) -> list[Path]:
    """The metrics stores at ``root``: itself, its run folder's, or those of its sub-folders."""
    direct = store_file(root)
    if direct.is_file():
        return [direct]
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob(f"*/{FILE_NAME}") if p.is_file())


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write (SQLite URI ``mode=ro``)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)


def read_run(path: Path) -> RunData | StoreProblem:
    """The run at ``path`` (a store file or a run folder), or why it cannot be shown."""
    file = store_file(path)
    if not file.is_file():
        return StoreProblem(
            "missing", file, f"No metrics store at {file}. Start a run, or pass --store."
        )
    try:
        conn = connect_read_only(file)
        try:
            return _read(conn, file)
        finally:
            conn.close()
    except sqlite3.Error as error:
        return StoreProblem("unreadable", file, f"The metrics store {file} cannot be read: {error}")


def _table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _read(conn: sqlite3.Connection, file: Path) -> RunData | StoreProblem:
    run_columns, round_columns = _table_columns(conn, "run"), _table_columns(conn, "rounds")
    if not run_columns and not round_columns:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").fetchone():
            # SQLite, but someone else's tables: "empty" would send the operator waiting.
            return StoreProblem(
                "not_metrics",
                file,
                f"{file} is an SQLite file but not a metrics store (it has none of its tables); "
                "pass --store a run folder or its metrics.sqlite.",
            )
        return StoreProblem(
            "empty", file, f"The metrics store {file} is empty: no run has started in it yet."
        )
    missing = sorted(
        {f"run.{c}" for c in RUN_COLUMNS if c not in run_columns}
        | {f"rounds.{c}" for c in ROUND_COLUMNS if c not in round_columns}
    )
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        return _older(file, f"it lacks the columns {shown}")
    row = conn.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM run WHERE id = 1").fetchone()
    if row is None:
        return StoreProblem("empty", file, f"The metrics store {file} has no run recorded yet.")
    info = dict(zip(RUN_COLUMNS, row, strict=True))
    if info["schema_version"] != SCHEMA_VERSION:
        return _older(file, f"it has schema version {info['schema_version']!r}")
    cursor = conn.execute(f"SELECT {', '.join(ROUND_COLUMNS)} FROM rounds ORDER BY round")
    rounds = tuple(dict(zip(ROUND_COLUMNS, r, strict=True)) for r in cursor.fetchall())
    return RunData(
        path=file,
        schema_version=int(info["schema_version"]),
        settings=json.loads(info["settings"] or "{}"),
        state=str(info["state"] or "unknown"),
        detail=str(info["detail"] or ""),
        started_at=info["started_at"],
        updated_at=info["updated_at"],
        rounds=rounds,
        heldout_before=info["heldout_hits_before"],
        heldout_after=info["heldout_hits_after"],
        heldout_ci95=info["heldout_hits_ci95"],
        accounting_assumption=str(info["accounting_assumption"] or ""),
        audit=_latest_audit(conn),
    )


def _latest_audit(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The last audit row, by its named columns; None when there is none."""
    if not set(AUDIT_COLUMNS) <= _table_columns(conn, "audit"):
        return None
    names = ", ".join(AUDIT_COLUMNS)
    row = conn.execute(f"SELECT {names} FROM audit ORDER BY rowid DESC LIMIT 1").fetchone()
    return None if row is None else dict(zip(AUDIT_COLUMNS, row, strict=True))


def _older(file: Path, why: str) -> StoreProblem:
    return StoreProblem(
        "older_schema",
        file,
        f"The metrics store {file} was written by another version of fedpersona ({why}); "
        f"this dashboard reads schema version {SCHEMA_VERSION}. Re-run the federation with "
        f"this version to see it here.",
    )
