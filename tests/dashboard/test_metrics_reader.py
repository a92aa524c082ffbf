"""Reading metrics stores read-only, and naming what cannot be shown."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from dashboard.metrics_reader import (
    ROUND_COLUMNS,
    RunData,
    connect_read_only,
    find_stores,
    read_run,
)
from tests.dashboard.conftest import Stores


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_real_run_reads_back_with_settings_state_and_every_round(stores: Stores) -> None:
    run = read_run(stores.cohort.parent)  # a run folder works as well as the file

    assert isinstance(run, RunData)
    assert run.state == "completed"
    assert [r["round"] for r in run.rounds] == [1, 2, 3, 4]
    assert set(run.rounds[0]) == set(ROUND_COLUMNS)
    assert run.settings["sampling"] == "fixed_size"
    assert run.settings["neighbouring_relation"] == "REPLACE_ONE"


def test_the_dashboard_connection_cannot_write(stores: Stores) -> None:
    conn = connect_read_only(stores.cohort)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM rounds")
    conn.close()


def test_reading_leaves_the_store_file_unchanged(stores: Stores) -> None:
    before = _digest(stores.exhausted)

    for _ in range(3):
        assert isinstance(read_run(stores.exhausted), RunData)

    assert _digest(stores.exhausted) == before


@pytest.mark.parametrize(
    ("name", "kind"), [("missing", "missing"), ("empty", "empty"), ("older", "older_schema")]
)
def test_stores_that_cannot_be_shown_are_named(stores: Stores, name: str, kind: str) -> None:
    problem = read_run(getattr(stores, name))

    assert not isinstance(problem, RunData)
    assert problem.kind == kind
    assert str(problem.path) in problem.message


def test_a_store_from_another_schema_version_is_refused(stores: Stores, tmp_path: Path) -> None:
    copy = tmp_path / "metrics.sqlite"
    copy.write_bytes(stores.cohort.read_bytes())
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE run SET schema_version = 0")

    problem = read_run(copy)

    assert not isinstance(problem, RunData)
    assert "schema version 0" in problem.message


def test_a_run_with_no_rounds_yet_is_a_run(stores: Stores) -> None:
    run = read_run(stores.no_rounds)

    assert isinstance(run, RunData)
    assert run.state == "running"
    assert run.rounds == ()


def test_runs_are_found_in_a_folder_of_run_folders(stores: Stores) -> None:
    assert [p.parent.name for p in find_stores(stores.runs)] == ["cohort", "exhausted", "small"]
    assert find_stores(stores.cohort) == [stores.cohort]
    assert find_stores(stores.missing) == []


def test_an_sqlite_file_with_unrelated_tables_is_not_a_metrics_store(tmp_path: Path) -> None:
    other = tmp_path / "metrics.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.close()

    problem = read_run(other)

    assert not isinstance(problem, RunData)
    assert problem.kind == "not_metrics"
    assert "not a metrics store" in problem.message
