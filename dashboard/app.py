"""The scaleready dashboard: Streamlit navigation over pages that only lay out `scaleready` data.

Offline by construction: the navigation's Material icons come from the font Streamlit bundles,
and the tab icon is a bundled PNG. (A ``:material/...:`` *page icon* would make the browser
fetch an SVG from a Google font host; emoji need a colour-emoji font many servers lack.)
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.auth import sign_in

st.set_page_config(page_title="scaleready", page_icon=str(Path(__file__).parent / "assets" / "icon.png"),
                   layout="wide")
sign_in()  # who is looking, and in which role; stops at a sign-in screen until known

pages = {
    "Readiness": [
        st.Page("pages/scorecard.py", title="Scorecard", icon=":material/speed:", default=True),
        st.Page("pages/finding.py", title="Finding detail", icon=":material/search:", url_path="finding"),
        st.Page("pages/history.py", title="History & trends", icon=":material/show_chart:"),
        st.Page("pages/roadmap.py", title="Roadmap & checklist", icon=":material/checklist:"),
    ],
    "Operate": [
        st.Page("pages/run_checks.py", title="Run checks", icon=":material/play_arrow:", url_path="run"),
        st.Page("pages/targets.py", title="Targets", icon=":material/dns:"),
        st.Page("pages/runs.py", title="Runs & reports", icon=":material/history:"),
    ],
    "Governance": [
        st.Page("pages/milestones.py", title="Milestones & sign-off", icon=":material/flag:"),
        st.Page("pages/waivers.py", title="Waivers", icon=":material/verified_user:"),
    ],
    "Live": [
        st.Page("pages/live_metrics.py", title="Live metrics", icon=":material/monitoring:"),
        st.Page("pages/playbooks.py", title="Playbooks", icon=":material/emergency:"),
    ],
    "What if": [
        st.Page("pages/simulator.py", title="What-if simulator", icon=":material/science:"),
    ],
}
st.navigation(pages).run()
