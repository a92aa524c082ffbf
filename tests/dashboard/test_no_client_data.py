"""No per-client id, update or metric is ever rendered: a store seeded with some proves it.

The metrics store holds only aggregates today. This test adds per-client data to a copy
of a real store (a column of client ids, a table of per-client updates, a client id in
the settings) and fails if any of it reaches any page, in any element or chart spec, or
the CSV download.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dashboard.cohort import suppress_small_cohorts, to_csv
from dashboard.metrics_reader import RunData, read_run
from tests.dashboard.apptest import PAGES, open_page, rendered
from tests.dashboard.conftest import Stores

MARKERS = ("node-7391", "0.123456789", "client_ids", "client_updates")


@pytest.fixture(scope="module")
def leaky_store(stores: Stores, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("leaky") / "metrics.sqlite"
    path.write_bytes(stores.cohort.read_bytes())
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE rounds ADD COLUMN client_ids TEXT")
        conn.execute("UPDATE rounds SET client_ids = 'node-7391,node-7392'")
        conn.execute("CREATE TABLE client_updates (node TEXT, round INTEGER, norm REAL)")
        conn.execute("INSERT INTO client_updates VALUES ('node-7391', 1, 0.123456789)")
        settings = json.loads(conn.execute("SELECT settings FROM run").fetchone()[0])
        settings["client_ids"] = ["node-7391"]
        conn.execute("UPDATE run SET settings = ?", (json.dumps(settings),))
    return path


@pytest.mark.parametrize("page", sorted(PAGES))
def test_no_page_renders_per_client_data(leaky_store: Path, page: str) -> None:
    app = open_page(leaky_store, page, min_cohort=1)

    text = rendered(app)

    assert app.title[0].value
    for marker in MARKERS:
        assert marker not in text, f"{marker!r} rendered on the {page} page"


def test_the_csv_download_holds_no_per_client_data(leaky_store: Path) -> None:
    run = read_run(leaky_store)
    assert isinstance(run, RunData)

    text = to_csv(suppress_small_cohorts(run.rounds, min_cohort=1).rows)

    assert text.count("\n") == 1 + len(run.rounds)
    for marker in MARKERS:
        assert marker not in text
