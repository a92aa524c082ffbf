"""Privacy budget: epsilon over rounds (RDP, PLD) against the budget, and what is left."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import charts, shell
from dashboard.budget import BudgetStatus, budget_status, format_epsilon
from dashboard.cohort import CohortView
from dashboard.metrics_reader import RunData
from privacy.ledger import explain_delta


@st.cache_data(show_spinner="Projecting the rounds left in the budget...")
def _status(
    settings: dict[str, Any], rounds: tuple[dict[str, Any], ...], state: str
) -> BudgetStatus:
    return budget_status(settings, rounds, state)


def _rounds_left(status: BudgetStatus) -> str:
    if status.rounds_left is None:
        return "no limit" if status.budget is None else "n/a"
    if status.rounds_left_capped and status.participation_cap is not None:
        return "no limit"  # each device's k rounds already fit: more rounds add nothing
    return f"{status.rounds_left}+" if status.rounds_left_capped else str(status.rounds_left)


def render(run: RunData, view: CohortView) -> None:
    status = _status(run.settings, run.rounds, run.state)
    last = view.rows[-1]
    if status.exhausted:
        st.error(f"**The privacy budget stopped training.** {run.detail}.", icon=":material/block:")
    if status.budget is None:
        st.error("**No privacy.** This run trained without noise: epsilon is infinite.")
    else:
        _show_assumption(status)
    top = st.columns(4)
    top[0].metric("Epsilon spent (RDP)", format_epsilon(status.epsilon_rdp))
    top[1].metric("Epsilon spent (PLD)", format_epsilon(status.epsilon_pld))
    top[2].metric("Budget", "none" if status.budget is None else f"{status.budget:g}")
    top[3].metric("Rounds left in budget", _rounds_left(status))
    fraction = status.fraction_spent
    if fraction is not None:
        st.progress(fraction, text=f"{100 * fraction:.0f}% of the budget spent")
    low = st.columns(4)
    low[0].metric("Delta", "n/a" if status.delta is None else f"{status.delta:.2e}")
    low[1].metric("Noise multiplier", f"{status.noise_multiplier or 0:.3f}")
    low[2].metric("Clipping norm", f"{last['clipping_norm']:.3g}")
    clipped = last["fraction_clipped"]
    low[3].metric(
        "Clipped (last round)", "withheld" if clipped is None else f"{100 * clipped:.0f}%"
    )
    population = run.settings.get("clients")
    if status.delta is not None and isinstance(population, int) and population > 0:
        st.caption(explain_delta(status.delta, population) + ".")
    st.subheader("Epsilon over rounds")
    series = {"epsilon_rdp": "RDP", "epsilon_pld": "PLD"}
    label = "" if status.budget is None else f"budget {status.budget:g}"
    st.altair_chart(
        charts.lines(view.rows, series, y_title="epsilon", rule=status.budget, rule_label=label),
        width="stretch",
    )
    st.caption(
        "Rounds left: recomputed with the ledger's accountants (privacy.calibration."
        "compute_epsilon) for this run's sampling, continuing at its noise multiplier, until "
        "one more round would take any accountant past the budget: the server's own stop. "
        "PLD is n/a where dp-accounting has no PLD for the sampling (fixed-size)."
    )
    if status.participation_cap is not None:
        st.caption(
            f"Without amplification a device's epsilon grows only with the rounds it joins, "
            f"at most {status.participation_cap}: once those fit the budget, further rounds "
            "(of other devices) spend nothing more of it."
        )
    shell.show_suppression(view)
    if any(r["fraction_clipped"] is not None for r in view.rows):
        st.subheader("Fraction of updates clipped")
        st.altair_chart(
            charts.lines(view.rows, {"fraction_clipped": "clipped"}, y_title="fraction"),
            width="stretch",
        )


def _show_assumption(status: BudgetStatus) -> None:
    """What the epsilon above rests on: a warning when it credits the sampling."""
    text = f"**This epsilon rests on:** {status.assumption}."
    if status.amplified:
        st.warning(
            text + " In a deployment devices join when online and willing, so this figure "
            "may not hold there; deployed runs use unamplified accounting "
            '(docs/privacy.md, "What each epsilon rests on").',
            icon=":material/warning:",
        )
    else:
        st.info(text, icon=":material/verified_user:")


shell.page("Privacy budget", render)
