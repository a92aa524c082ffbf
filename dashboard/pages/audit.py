"""Audit: the run's settings, what the server can see, and the latest empirical privacy audit."""

from __future__ import annotations

import streamlit as st

from dashboard import shell
from dashboard.audit_facts import audit_rows, audit_summary, what_the_server_sees
from dashboard.cohort import CohortView
from dashboard.metrics_reader import RunData
from privacy.ledger import governing_epsilon


def render(run: RunData, view: CohortView) -> None:
    st.markdown(what_the_server_sees(run.settings))
    rows = audit_rows(run, min_cohort=view.min_cohort)
    st.table({"setting": [r[0] for r in rows], "value": [r[1] for r in rows]})
    st.subheader("Empirical privacy audit")
    if run.audit is None:
        st.info("No empirical audit recorded for this run: `fedpersona audit --run RUN_FOLDER`.")
    else:
        st.markdown(audit_summary(run.audit))
        if run.last is not None:
            spent = governing_epsilon(run.last["epsilon_rdp"], run.last["epsilon_pld"])
            st.markdown(
                f"This run's own ledger: epsilon **{spent:.2f}** spent after "
                f"{run.last['round']} rounds. The audit ran its own short simulation of the "
                "same round code; its ledger epsilon is for exactly what it ran."
            )


shell.page("Audit", render, needs_rounds=False)
