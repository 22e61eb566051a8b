"""The scaleready dashboard: Streamlit navigation over pages that only lay out `scaleready` data."""

from __future__ import annotations

import streamlit as st

from dashboard.auth import sign_in

st.set_page_config(page_title="scaleready", page_icon=":material/speed:", layout="wide")
sign_in()  # who is looking, and in which role; stops at a sign-in screen until known

pages = [
    st.Page("pages/scorecard.py", title="Scorecard", icon=":material/speed:", default=True),
    st.Page("pages/roadmap.py", title="Roadmap & checklist", icon=":material/checklist:"),
    st.Page("pages/runs.py", title="Runs & reports", icon=":material/history:"),
    st.Page("pages/milestones.py", title="Milestones & sign-off", icon=":material/flag:"),
    st.Page("pages/waivers.py", title="Waivers", icon=":material/verified_user:"),
    st.Page("pages/simulator.py", title="What-if simulator", icon=":material/science:"),
    st.Page("pages/live_metrics.py", title="Live metrics", icon=":material/monitoring:"),
    st.Page("pages/playbooks.py", title="Playbooks", icon=":material/emergency:"),
]
st.navigation(pages).run()
