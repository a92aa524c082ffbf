"""The per-run metrics store the dashboard reads: ``metrics.sqlite`` in a run's folder.

Only aggregates are written: one ``rounds`` row per completed round and one ``run`` row
with the run's settings and end state. Nothing here identifies a client, and every
statistic of the devices' values (loss, hits@1, fraction clipped) comes from sums that
carried the round's Gaussian noise before the server saw them; ``statistic_noise_std``
is that noise's std on each sum, in the statistic's own units (privacy.device_release).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

# 2: noisy statistics only (no norm quantiles, no example counts); 3: the run row says what
# its epsilon rests on (accounting_assumption: amplification by sampling, or a device cap);
# 4: personalisation monitoring (coverage, depth, justification, correction, uniqueness).
SCHEMA_VERSION = 4
FILE_NAME = "metrics.sqlite"


@dataclass(frozen=True, kw_only=True)
class RoundRow:
    round: int
    clients_sampled: int
    clients_completed: int
    clients_dropped: int
    clients_rejected: int
    train_loss: float | None
    eval_hits_at_1: float | None
    epsilon_rdp: float
    epsilon_pld: float
    delta: float
    noise_multiplier: float
    clipping_norm: float
    fraction_clipped: float | None
    statistic_noise_std: float | None
    wall_seconds: float
    # The global head after this round on the held-out users (server.held_out), and the
    # half-width of its 95% interval: fractions, None when the run has no held-out users.
    heldout_hits_at_1: float | None = None
    heldout_ci95: float | None = None
    # Personalisation monitoring (client.monitoring): noisy fleet means in [0, 1], each with
    # noise of std statistic_noise_std / (devices averaged over) before clamping. Coverage,
    # depth and uniqueness average over clients_completed; justification and correction
    # over prompted_sum, the noisy count of devices with prompt records.
    persona_coverage: float | None = None
    persona_depth: float | None = None
    prompt_justification: float | None = None
    correction_rate: float | None = None
    persona_uniqueness: float | None = None
    prompted_sum: float | None = None


@dataclass(frozen=True, kw_only=True)
class AuditRow:
    """One empirical privacy audit (``fedpersona audit``) recorded beside the run's rounds:
    the lower bound on epsilon an attack proved, against the ledger's epsilon for the audited
    mechanism. ``broken`` names a deliberately broken configuration ('' for an honest one)."""

    recorded_at: float
    broken: str
    secure_aggregation: int
    rounds: int
    trials_per_arm: int
    ledger_epsilon: float
    empirical_epsilon_lower: float
    ci_high: float | None
    confidence: float
    verdict: str
    checks_passed: int
    checks_total: int


_SQL_TYPES = {"int": "INTEGER", "float": "REAL", "float | None": "REAL", "str": "TEXT"}
# The run's before -> after on the held-out users, in percent (the issue-14 contract).
HELDOUT_COLUMNS = ("heldout_hits_before", "heldout_hits_after", "heldout_hits_ci95")


def _columns(row: type[RoundRow] | type[AuditRow] = RoundRow) -> str:
    return ", ".join(
        f"{f.name} {_SQL_TYPES[str(f.type)]}" + (" PRIMARY KEY" if f.name == "round" else "")
        for f in fields(row)
    )


class MetricsStore:
    """Append-only writer (the server) and reader (the dashboard) of one run's metrics."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, timeout=15)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute(f"CREATE TABLE IF NOT EXISTS rounds ({_columns()})")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS run (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "schema_version INTEGER, settings TEXT, state TEXT, detail TEXT, "
            "started_at REAL, updated_at REAL, heldout_hits_before REAL, "
            "heldout_hits_after REAL, heldout_hits_ci95 REAL, accounting_assumption TEXT)"
        )
        self._conn.execute(f"CREATE TABLE IF NOT EXISTS audit ({_columns(AuditRow)})")

    def close(self) -> None:
        self._conn.close()

    def start_run(self, settings: dict[str, Any], *, accounting_assumption: str = "") -> None:
        """Record the run's settings and, in plain words, what its epsilon rests on
        (PrivacyLedger.assumption); a resumed run keeps its start time and rounds."""
        now = time.time()
        self._conn.execute(
            "INSERT INTO run (id, schema_version, settings, state, detail, started_at, "
            "updated_at, accounting_assumption) VALUES (1, ?, ?, 'running', '', ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET settings = excluded.settings, state = 'running', "
            "updated_at = excluded.updated_at, "
            "accounting_assumption = excluded.accounting_assumption",
            (SCHEMA_VERSION, json.dumps(settings, sort_keys=True), now, now, accounting_assumption),
        )

    def append_round(self, row: RoundRow) -> None:
        values = asdict(row)
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self._conn.execute(f"INSERT INTO rounds ({names}) VALUES ({marks})", tuple(values.values()))
        self._conn.execute("UPDATE run SET updated_at = ? WHERE id = 1", (time.time(),))

    def record_heldout(
        self, *, before: float | None = None, after: float | None = None, ci95: float | None = None
    ) -> None:
        """The held-out users' hits@1 before the first round and after the last (percent);
        a value left None keeps what was recorded (a resumed run keeps its 'before')."""
        self._conn.execute(
            "UPDATE run SET heldout_hits_before = COALESCE(?, heldout_hits_before), "
            "heldout_hits_after = COALESCE(?, heldout_hits_after), "
            "heldout_hits_ci95 = COALESCE(?, heldout_hits_ci95) WHERE id = 1",
            (before, after, ci95),
        )

    def record_audit(self, row: AuditRow) -> None:
        """Append one audit's result (the dashboard's Audit page shows the latest)."""
        values = asdict(row)
        names, marks = ", ".join(values), ", ".join("?" for _ in values)
        self._conn.execute(f"INSERT INTO audit ({names}) VALUES ({marks})", tuple(values.values()))

    def audits(self) -> list[AuditRow]:
        """Every recorded audit, oldest first."""
        cursor = self._conn.execute("SELECT * FROM audit ORDER BY rowid")
        names = [d[0] for d in cursor.description]
        return [AuditRow(**dict(zip(names, row, strict=True))) for row in cursor.fetchall()]

    def finish_run(self, state: str, detail: str = "") -> None:
        """End state: ``completed``, ``budget_exhausted``, ``devices_exhausted`` (every device
        reached its participation cap) or ``failed`` (with a reason)."""
        self._conn.execute(
            "UPDATE run SET state = ?, detail = ?, updated_at = ? WHERE id = 1",
            (state, detail, time.time()),
        )

    def round_rows(self) -> list[RoundRow]:
        """The rounds as typed rows."""
        return [RoundRow(**row) for row in self.rounds()]

    def rounds(self) -> list[dict[str, Any]]:
        cursor = self._conn.execute("SELECT * FROM rounds ORDER BY round")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def last_round(self) -> int:
        row = self._conn.execute("SELECT MAX(round) FROM rounds").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def run_info(self) -> dict[str, Any] | None:
        cursor = self._conn.execute("SELECT * FROM run WHERE id = 1")
        row = cursor.fetchone()
        if row is None:
            return None
        info = dict(zip([d[0] for d in cursor.description], row, strict=True))
        info["settings"] = json.loads(info["settings"] or "{}")
        return info
