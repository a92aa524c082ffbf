"""Personalisation: how filled, deep, justified, corrected and unique the fleet's personas
are, as noisy fleet means with their noise; never one device's value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from dashboard import charts, shell
from dashboard.cohort import PROMPT_METRICS, CohortView
from dashboard.metrics_reader import RunData
from dashboard.monitoring import METRICS, WINDOW, Estimate, pooled, round_noise, with_moving_average

DEFINITIONS = """Each device computes these on its own store; the server sees only their sums,
noised inside the round's one Gaussian mechanism (no privacy budget of their own). All are
in [0, 1]:
- **Attribute coverage**: share of the persona schema's six categories that hold a fact.
- **Evidence depth**: stored memories per persona fact, capped at 3 and divided by 3.
- **Justified prompt items**: of the personal items the device's last prompts used, the
  share backed by a stored memory (over the devices that recorded prompts).
- **Correction rate**: share of those prompts the person then corrected (rated the reply
  wrong, or gave a fact it used a new value).
- **Uniqueness**: share of the persona's facts outside the public reference facts the
  server ships (blank when it shipped none)."""


def _cell(estimate: Estimate | None) -> tuple[str, str]:
    if estimate is None:
        return "withheld", ""
    return f"{estimate.value:.3f}", f"+-{estimate.noise_std:.3f}"


def estimate_table(rows: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Per metric: the last released round and the pooled last rounds, each +- 1 std."""
    header = ("metric", "last round", "+- (1 std)", f"mean of last {WINDOW} rounds", "+- ")
    lines = []
    for column, (label, _) in METRICS.items():
        average = pooled(rows, column)
        pooled_noise = _cell(average)[1] + (f" ({average.rounds} rounds)" if average else "")
        lines.append(
            (label, *_cell(pooled(rows, column, window=1)), _cell(average)[0], pooled_noise)
        )
    return {name: [line[i] for line in lines] for i, name in enumerate(header)}


def render(run: RunData, view: CohortView) -> None:
    shell.show_suppression(view)
    rows = list(view.rows)
    if not any(round_noise(r, c) is not None for r in rows for c in METRICS):
        st.info(
            "No personalisation metric is shown: no round released one over the minimum "
            "cohort (or the run predates them)."
        )
        return
    st.markdown(DEFINITIONS)
    st.table(estimate_table(rows))
    withheld = [r["round"] for r in rows if not r["suppressed"] and r[PROMPT_METRICS[0]] is None]
    if withheld:
        st.info(
            f"Justification and correction are withheld in {len(withheld)} round(s): fewer "
            f"than {view.min_cohort} devices (a noisy count) had recorded prompts."
        )
    labels = {column: label for column, (label, _) in METRICS.items()}
    st.subheader("Per round (noisy)")
    st.altair_chart(charts.lines(rows, labels, y_title="fleet mean"), width="stretch")
    averaged = rows
    for column in METRICS:
        averaged = with_moving_average(averaged, column)
    st.subheader(f"Moving average of {WINDOW} rounds")
    series = {f"{column}_avg": label for column, label in labels.items()}
    st.altair_chart(charts.lines(averaged, series, y_title="fleet mean"), width="stretch")
    st.caption(noise_caption(rows))


def noise_caption(rows: Sequence[dict[str, Any]]) -> str:
    shown = [r for r in rows if round_noise(r, "persona_coverage") is not None]
    if not shown:
        return ""
    last = shown[-1]
    return (
        f"Each round's sum carried Gaussian noise of std {last['statistic_noise_std']:.2f} "
        f"before the server saw it: about +-{round_noise(last, 'persona_coverage'):.3f} on "
        f"a mean over the last round's {last['clients_completed']} devices, and about "
        f"1/sqrt(k) of that on the mean of k rounds (which trails a change)."
    )


shell.page("Personalisation", render)
