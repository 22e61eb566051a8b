"""How readiness moved: overall score, coverage, level and per-area scores over runs, per environment."""

from __future__ import annotations

import streamlit as st

from dashboard.state import store_or_stop
from scaleready import history

store = store_or_stop()
st.title("History and trends")

environments = history.environments(store)
if not environments:
    st.info("No runs yet: trends appear after the first run.")
    st.stop()
project = None
if len(projects := history.projects(store)) > 1:
    project = st.selectbox("Project", projects)
labels = {"(all)": "All environments", **{str(e): e or "(no environment)" for e in environments}}
choice = st.selectbox("Environment", list(labels), format_func=labels.__getitem__,
                      help="Runs of one environment compare like with like; demo runs are the environment 'demo'.")
wanted = None if choice == "(all)" else next(e for e in environments if str(e) == choice)
frame = history.trend_frame(store, environment=wanted, project=project)
if choice != "(all)" and wanted is None:
    frame = frame[frame["environment"] == "(none)"]
if frame.empty:
    st.info("No runs for this environment.")
    st.stop()

first, last = frame.iloc[0], frame.iloc[-1]
cols = st.columns(4)
cols[0].metric("Runs", len(frame))
cols[1].metric("Overall score", f"{last['overall']:.1f}", f"{last['overall'] - first['overall']:+.1f} since first")
cols[2].metric("Coverage", f"{last['coverage %']:.0f} %", f"{last['coverage %'] - first['coverage %']:+.0f} pts")
moved = int(last["level"] - first["level"])
cols[3].metric("Level", int(last["level"]), f"{moved:+d}" if moved else None)

st.plotly_chart(history.trend_figure(frame), width="stretch")
st.subheader("Score per area")
st.plotly_chart(history.area_trend_figure(frame), width="stretch")
with st.expander("The figures as a table"):
    st.dataframe(frame.assign(started=frame["started"].dt.strftime("%Y-%m-%d %H:%M"), run=frame["run"].str[:8]),
                 hide_index=True, width="stretch")
