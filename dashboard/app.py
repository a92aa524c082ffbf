"""The operator's privacy dashboard: ``streamlit run dashboard/app.py -- --store runs``.

Reads metrics stores only (read-only), and shows only aggregates over at least the
minimum cohort. ``fedpersona dashboard`` starts it on 127.0.0.1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

from dashboard import shell
from dashboard.options import Options, parse_options

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="fedpersona privacy dashboard", page_icon=":material/shield:")
if not isinstance(st.session_state.get(shell.CONFIG_KEY), Options):
    st.session_state[shell.CONFIG_KEY] = parse_options(sys.argv[1:])
navigation = st.navigation(
    [
        st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page(PAGES / "privacy_budget.py", title="Privacy budget", icon=":material/shield:"),
        st.Page(PAGES / "training.py", title="Training", icon=":material/show_chart:"),
        st.Page(PAGES / "personalisation.py", title="Personalisation", icon=":material/person:"),
        st.Page(PAGES / "audit.py", title="Audit", icon=":material/fact_check:"),
    ]
)
navigation.run()
