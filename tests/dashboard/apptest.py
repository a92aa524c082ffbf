"""Run the dashboard's pages with Streamlit's AppTest and read back everything rendered."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.metrics_reader import RunData, read_run
from dashboard.options import Options
from dashboard.shell import CONFIG_KEY

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGES = {
    "overview": "pages/overview.py",
    "privacy": "pages/privacy_budget.py",
    "training": "pages/training.py",
    "personalisation": "pages/personalisation.py",
    "audit": "pages/audit.py",
}


def open_page(
    store: Path, page: str = "overview", *, min_cohort: int = 10, refresh_seconds: float = 0.0
) -> AppTest:
    """The app on ``page`` over ``store``, run to completion (options as the CLI passes them)."""
    app = AppTest.from_file(str(APP), default_timeout=90)
    app.session_state[CONFIG_KEY] = Options(store, min_cohort, refresh_seconds)
    app.run()
    if page != "overview":
        app.switch_page(PAGES[page]).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def rendered(app: AppTest) -> str:
    """Every element's full message (text, metric values, chart specs with their data)."""
    nodes = [node for block in (app.main, app.sidebar) for node in block]
    return "\n".join(str(node.proto) for node in nodes if hasattr(node, "proto"))


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def run_of(store: Path) -> RunData:
    run = read_run(store)
    assert isinstance(run, RunData), run
    return run
