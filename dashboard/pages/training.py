"""Training: noisy loss and hits@1 over rounds, and the clipping norm."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, shell
from dashboard.cohort import CohortView
from dashboard.metrics_reader import RunData

NO_NORM_QUANTILES = (
    "No quantiles of update norms: a quantile of a few devices' norms is one device's value, "
    "so devices release only whether their update was within the bound, inside the noised "
    "sum. The (noisy) fraction of clients clipped is on the Privacy budget page."
)


def render(run: RunData, view: CohortView) -> None:
    shell.show_suppression(view)
    # Each noisy mean is withheld on its own (its noisy count may fall below one device).
    if not any(r["train_loss"] is not None or r["eval_hits_at_1"] is not None for r in view.rows):
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
    st.caption(noise_caption(view))
    st.subheader("Clipping norm")
    st.info(NO_NORM_QUANTILES)
    chart = charts.lines(view.rows, {"clipping_norm": "clipping norm"}, y_title="L2 norm")
    st.altair_chart(chart, width="stretch")
    st.caption(f"Run {run.name}: statistics over the clients that completed each round.")


def noise_caption(view: CohortView) -> str:
    """How noisy the charted means are: the last round's noise, spread over its devices."""
    shown = [r for r in view.rows if r.get("statistic_noise_std") is not None]
    if not shown:
        return "Statistics without noise (a run without a privacy budget)."
    last = shown[-1]
    spread = last["statistic_noise_std"] / max(int(last["clients_completed"]), 1)
    return (
        f"Every statistic is a noisy mean: the devices' values were summed with Gaussian noise "
        f"of std {last['statistic_noise_std']:.2f} (in the statistic's own units) before the "
        f"server saw them, about +-{spread:.2f} on the last round's mean."
    )


shell.page("Training", render)
