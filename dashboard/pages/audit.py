"""Audit: the run's settings and what the server can see, for an auditor to check."""

from __future__ import annotations

import streamlit as st

from dashboard import shell
from dashboard.audit_facts import audit_rows
from dashboard.cohort import CohortView
from dashboard.store_reader import RunData

SERVER_SEES = (
    "**Secure aggregation: off** (not implemented in this version). The server sees each "
    "sampled client's *clipped* update individually and adds the noise itself: this is "
    "**central** differential privacy, which trusts the server to add the noise and to "
    "forget individual updates. It protects users from everyone who sees the released "
    "models (and from this dashboard), not from a server that keeps individual updates. "
    'See docs/privacy.md, "What the server sees".'
)


def render(run: RunData, view: CohortView) -> None:
    st.markdown(SERVER_SEES)
    rows = audit_rows(run, min_cohort=view.min_cohort)
    st.table({"setting": [r[0] for r in rows], "value": [r[1] for r in rows]})


shell.page("Audit", render, needs_rounds=False)
