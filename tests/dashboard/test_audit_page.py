"""The Audit page shows the latest empirical privacy audit next to the ledger's epsilon."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dashboard.metrics_reader import RunData, read_run
from server.metrics_store import MetricsStore
from simulation.audit.canary_audit import AuditPlan, run_canary_audit
from simulation.audit.report import CheckResult, audit_row
from tests.dashboard.apptest import open_page, rendered
from tests.dashboard.conftest import Stores

CHECKS = [CheckResult("unsafe-delta-refused", True, "refused")]


def _copy(store: Path, folder: Path) -> Path:
    """A private copy of a session store (SQLite's backup: the WAL comes along)."""
    target = folder / "metrics.sqlite"
    folder.mkdir(parents=True)
    source, copy = sqlite3.connect(store), sqlite3.connect(target)
    source.backup(copy)
    source.close()
    copy.close()
    return target


def _audited(store: Path, folder: Path, plan: AuditPlan) -> Path:
    path = _copy(store, folder)
    writer = MetricsStore(path)
    writer.record_audit(audit_row(run_canary_audit(plan), CHECKS))
    writer.close()
    return path


def test_the_latest_audit_is_read_with_the_run(stores: Stores, tmp_path: Path) -> None:
    path = _copy(stores.cohort, tmp_path / "run")
    writer = MetricsStore(path)
    for broken in (None, "no-noise"):
        writer.record_audit(audit_row(run_canary_audit(AuditPlan(trials=100, broken=broken)), []))
    writer.close()

    run = read_run(path)

    assert isinstance(run, RunData)
    assert run.audit is not None
    assert run.audit["broken"] == "no-noise"
    assert run.audit["verdict"] == "caught"


def test_an_honest_audit_shows_its_bound_beside_the_ledger_in_plain_words(
    stores: Stores, tmp_path: Path
) -> None:
    path = _audited(stores.cohort, tmp_path / "run", AuditPlan(trials=300))
    audit = read_run(path)
    assert isinstance(audit, RunData)
    assert audit.audit is not None

    text = rendered(open_page(path, "audit"))

    assert "Empirical privacy audit" in text
    assert f"{audit.audit['empirical_epsilon_lower']:.2f}" in text
    assert f"{audit.audit['ledger_epsilon']:.2f}" in text
    assert "No contradiction found" in text
    assert "does not prove" in text
    assert "own ledger: epsilon" in text


def test_a_caught_break_is_shown_as_such(stores: Stores, tmp_path: Path) -> None:
    path = _audited(stores.secure, tmp_path / "run", AuditPlan(trials=300, broken="no-noise"))

    text = rendered(open_page(path, "audit"))

    assert "deliberately broken mechanism (no-noise)" in text
    assert "caught" in text


def test_a_run_never_audited_says_how_to_audit_it(stores: Stores) -> None:
    text = rendered(open_page(stores.small, "audit"))

    assert "No empirical audit recorded" in text
    assert "fedpersona audit --run" in text
