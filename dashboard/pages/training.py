"""Training: loss and hits@1 over rounds, and the update-norm quantiles against clipping."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, shell
from dashboard.cohort import CohortView
from dashboard.store_reader import RunData

NO_NORM_QUANTILES = (
    "No norm quantiles: under secure aggregation the server never sees one client's update, "
    "only their sum. The fraction of clients clipped is on the Privacy budget page."
)


def render(run: RunData, view: CohortView) -> None:
    shell.show_suppression(view)
    if not any(r["train_loss"] is not None for r in view.rows):
        st.info("Every round's cohort was below the minimum: no training statistic is shown.")
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Training loss")
        chart = charts.lines(view.rows, {"train_loss": "mean local loss"}, y_title="loss")
        st.altair_chart(chart, width="stretch")
    with right:
        st.subheader("Hits@1 on clients' later turns")
        chart = charts.lines(view.rows, {"eval_hits_at_1": "hits@1"}, y_title="hits@1")
        st.altair_chart(chart, width="stretch")
    st.subheader("Update norms before clipping (10%, median, 90%) and the clipping norm")
    if not any(r["update_norm_p50"] is not None for r in view.rows):
        st.info(NO_NORM_QUANTILES)
    clipping = [{"round": r["round"], "clipping_norm": r["clipping_norm"]} for r in view.rows]
    st.altair_chart(charts.norm_band(view.rows, clipping), width="stretch")
    st.caption(f"Run {run.name}: statistics over the clients that completed each round.")


shell.page("Training", render)
