"""What every page shares: the dashboard's options, the chosen run, problems, live refresh.

Options come from the command line after ``--`` (``streamlit run app.py -- --store PATH``)
and are kept in the session, where tests may also put them before the first run. Any page
may be the first script a session runs (Streamlit runs ``pages/training.py`` itself when a
fresh server's first visitor opens ``/training``), so every page reads them the same way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from dashboard.cohort import CohortView, reasons_summary
from dashboard.cohort import suppress_small_cohorts as _suppress
from dashboard.metrics_reader import RunData, StoreProblem, find_stores, read_run
from dashboard.options import Options, parse_options

CONFIG_KEY = "dashboard_options"
RUN_KEY = "dashboard_run"
STATE_LABELS = {
    "running": "running",
    "completed": "completed",
    "budget_exhausted": "stopped: privacy budget spent",
    "devices_exhausted": "stopped: every device reached its participation cap",
    "failed": "failed",
}


def options() -> Options:
    """The session's options, parsed from the command line on the session's first run."""
    opts = st.session_state.get(CONFIG_KEY)
    if not isinstance(opts, Options):
        opts = parse_options(sys.argv[1:])
        st.session_state[CONFIG_KEY] = opts
    return opts


def choose_run(opts: Options) -> Path:
    """The store to show: the only one under ``--store``, or the operator's pick in the sidebar."""
    st.sidebar.markdown("**fedpersona** · operator dashboard")
    stores = find_stores(opts.store)
    if len(stores) <= 1:
        chosen = stores[0] if stores else opts.store
    else:
        # The pick lives in our own session key: a widget's own state does not follow the
        # operator from page to page.
        previous = st.session_state.get(RUN_KEY)
        chosen = st.sidebar.selectbox(
            "Run",
            stores,
            index=stores.index(previous) if previous in stores else 0,
            format_func=lambda p: p.parent.name,
        )
    st.session_state[RUN_KEY] = chosen
    st.sidebar.caption(f"Store: `{chosen}` (opened read-only)")
    st.sidebar.caption(f"Minimum cohort: {opts.min_cohort} clients")
    return chosen


def current_path() -> Path:
    chosen = st.session_state.get(RUN_KEY)
    return chosen if isinstance(chosen, Path) else options().store


def show_problem(problem: StoreProblem) -> None:
    titles = {
        "missing": "No metrics store",
        "empty": "Nothing recorded yet",
        "older_schema": "A store from another version",
        "unreadable": "The store cannot be read",
        "not_metrics": "Not a metrics store",
    }
    st.warning(f"**{titles[problem.kind]}.** {problem.message}")


def show_state(run: RunData) -> None:
    label = STATE_LABELS.get(run.state, run.state)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.updated_at or 0))
    line = f"Run **{run.name}**: {label} ({run.detail or 'no detail'}); last update {when}."
    if run.state == "running":
        st.info(line + f" Refreshing every {options().refresh_seconds:g} s.")
    elif run.state == "failed":
        st.error(line)
    else:
        st.caption(line)


def page(
    title: str, render: Callable[[RunData, CohortView], None], *, needs_rounds: bool = True
) -> None:
    """Title, then the chosen run rendered (live while it runs), or why it cannot be."""
    st.title(title)
    first = read_run(choose_run(options()))
    if isinstance(first, StoreProblem):
        show_problem(first)
        return
    live = first.state == "running" and options().refresh_seconds > 0

    @st.fragment(run_every=options().refresh_seconds if live else None)
    def body() -> None:
        run = first if not live else read_run(current_path())
        if isinstance(run, StoreProblem):
            show_problem(run)
            return
        show_state(run)
        if needs_rounds and not run.rounds:
            st.info("No rounds yet: this run has recorded its settings but no round so far.")
            return
        render(run, _suppress(run.rounds, options().min_cohort))

    body()


def show_suppression(view: CohortView) -> None:
    """The minimum-cohort rule's visible reason, when it withheld anything."""
    text = reasons_summary(view)
    if text:
        st.warning(text, icon=":material/visibility_off:")
