"""Targets of a run: kind, collection time and duration, status, snapshot hash, and why an area is empty."""

from __future__ import annotations

import streamlit as st

from dashboard.state import framework_or_stop, pick_run, store_or_stop
from scaleready import targets_view

store = store_or_stop()
framework = framework_or_stop()
st.title("Targets")

run_id = pick_run(store)
if run_id is None:
    st.info("No runs yet: run checks first (page **Run checks**, or the demo on the scorecard).")
    frame = None
else:
    frame = targets_view.targets_frame(store, run_id)
    failed = frame[frame["status"] == "error"]
    cols = st.columns(3)
    cols[0].metric("Targets", len(frame))
    cols[1].metric("Collected", len(frame) - len(failed))
    cols[2].metric("Could not collect", len(failed))
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config={"reason": st.column_config.TextColumn("reason", width="large"),
                                "snapshot sha256": st.column_config.TextColumn("snapshot sha256", width="medium")})
    st.caption("What is stored about a target is its name, kind, environment and whether active probes were "
               "allowed — never its keys, which may hold secrets. The snapshot hash lets an auditor verify the "
               "stored evidence (`scaleready report --run … -f json`).")

st.subheader("Which areas need which targets")
kinds = targets_view.collected_kinds(frame) if frame is not None else set()
needs = targets_view.area_needs(framework, kinds)
for need in needs:
    if need.blocked_items:
        st.warning(f"**{need.title}**: {need.explanation}.")
st.dataframe(targets_view.needs_frame(needs), hide_index=True, width="stretch",
             column_config={"explanation": st.column_config.TextColumn("explanation", width="large")})
