"""Audit: the run's settings and what the server can see, for an auditor to check."""

from __future__ import annotations

import streamlit as st

from dashboard import shell
from dashboard.audit_facts import audit_rows, what_the_server_sees
from dashboard.cohort import CohortView
from dashboard.metrics_reader import RunData


def render(run: RunData, view: CohortView) -> None:
    st.markdown(what_the_server_sees(run.settings))
    rows = audit_rows(run, min_cohort=view.min_cohort)
    st.table({"setting": [r[0] for r in rows], "value": [r[1] for r in rows]})


shell.page("Audit", render, needs_rounds=False)
