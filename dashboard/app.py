"""The scaleready dashboard: Streamlit navigation over pages that only lay out `scaleready` data.

Icons are emoji, not Material Symbols names: those are drawn from an icon font, and the
dashboard must look the same on a machine with no internet access.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="scaleready", page_icon="📈", layout="wide")

pages = {
    "Readiness": [
        st.Page("pages/scorecard.py", title="Scorecard", icon="📊", default=True),
        st.Page("pages/finding.py", title="Finding detail", icon="🔎", url_path="finding"),
        st.Page("pages/history.py", title="History & trends", icon="📈"),
        st.Page("pages/roadmap.py", title="Roadmap & checklist", icon="✅"),
    ],
    "Operate": [
        st.Page("pages/run_checks.py", title="Run checks", icon="▶️", url_path="run"),
        st.Page("pages/targets.py", title="Targets", icon="🎯"),
        st.Page("pages/runs.py", title="Runs & reports", icon="🗂️"),
    ],
    "What if": [
        st.Page("pages/simulator.py", title="What-if simulator", icon="🧪"),
    ],
}
st.navigation(pages).run()
