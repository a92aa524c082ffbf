"""Overview: run status, rounds, participation, model quality over rounds, CSV download."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, shell
from dashboard.budget import format_epsilon
from dashboard.cohort import CohortView, to_csv
from dashboard.metrics_reader import RunData


def _last_shown(view: CohortView, column: str) -> float | None:
    shown = [r[column] for r in view.rows if r[column] is not None]
    return shown[-1] if shown else None


def _heldout_metric(run: RunData, hits: float | None) -> tuple[str, str, str | None]:
    """(label, value, delta) of the quality metric: before -> after on held-out users."""
    if run.heldout_before is not None and run.heldout_after is not None:
        change = run.heldout_after - run.heldout_before
        ci = run.heldout_ci95 or 0.0
        return (
            "Held-out hits@1",
            f"{run.heldout_before:.1f} -> {run.heldout_after:.1f}%",
            f"{change:+.1f} (95% CI +-{ci:.1f})",
        )
    return "Hits@1 (last shown)", "withheld" if hits is None else f"{100 * hits:.1f}%", None


def render(run: RunData, view: CohortView) -> None:
    last = view.rows[-1]
    spent = max(e for e in (last["epsilon_rdp"], last["epsilon_pld"]) if e is not None)
    budget = run.settings.get("epsilon")
    hits = _last_shown(view, "eval_hits_at_1")
    cols = st.columns(4)
    cols[0].metric("Rounds", f"{len(view.rows)} / {run.settings.get('rounds', '?')}")
    cols[1].metric(
        "Epsilon spent",
        format_epsilon(spent),
        help="The larger of the RDP and PLD accountants' epsilon",
    )
    cols[2].metric("Budget", "none" if budget is None else f"{budget:g}")
    cols[3].metric(*_heldout_metric(run, hits))
    shell.show_suppression(view)
    left, right = st.columns(2)
    with left:
        st.subheader("Participation")
        st.altair_chart(charts.participation(view.rows), width="stretch")
    with right:
        st.subheader("Model quality")
        series = {"heldout_hits_at_1": "held-out users", "eval_hits_at_1": "own turns (noisy)"}
        shown = {k: v for k, v in series.items() if _last_shown(view, k) is not None}
        if not shown:
            st.info("No round had a large enough cohort to show hits@1.")
        else:
            chart = charts.lines(view.rows, shown, y_title="hits@1")
            st.altair_chart(chart, width="stretch")
            st.caption(
                "Held-out users never take part: the global head is scored on them by the "
                "server each round. The devices' own later turns come as a noised statistic."
            )
    st.download_button(
        "Download aggregate metrics (CSV)",
        to_csv(view.rows),
        file_name=f"{run.name}-aggregate-metrics.csv",
        mime="text/csv",
        icon=":material/download:",
    )


shell.page("Overview", render)
