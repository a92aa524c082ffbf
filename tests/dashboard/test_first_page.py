"""Issue 12: whichever page a fresh session opens first, it shows the store of --store.

A fresh Streamlit server runs ``pages/training.py`` itself (not ``app.py``) when its first
visitor opens ``/training``: the options that ``app.py`` puts in the session are then not
there, and the page must read ``--store`` from the command line on its own.
"""

from __future__ import annotations

import sys

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.apptest import APP, PAGES, rendered
from tests.dashboard.conftest import Stores


@pytest.mark.parametrize("page", ["training", "privacy"])
def test_a_sub_page_opened_first_reads_the_store_from_the_command_line(
    stores: Stores, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    monkeypatch.setattr(
        sys, "argv", [str(APP), "--store", str(stores.cohort), "--min-cohort", "10"]
    )
    app = AppTest.from_file(str(APP.parent / PAGES[page]), default_timeout=90)

    app.run()

    assert not app.exception, [e.value for e in app.exception]
    shown = rendered(app)
    assert "No metrics store" not in shown
    assert "cohort" in shown  # the run's name, from the store given on the command line
