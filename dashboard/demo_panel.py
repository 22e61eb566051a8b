"""The demo's buttons, shared by the scorecard (first start) and the runs page (any time)."""

from __future__ import annotations

import streamlit as st

from scaleready.demo import delete_demo_runs, items_with_evidence, run_demo
from scaleready.store import Store


def demo_button(store: Store, key: str = "demo") -> None:
    """Run the demo now; say what it covered, or why it could not."""
    if st.button("Run the demo checks", type="primary", key=key):
        with st.spinner("Starting the reference service and running the demo checks…"):
            try:
                run = run_demo(store)
            except Exception as exc:  # shown as one line: the page stays usable
                st.error(f"The demo could not run: {exc}")
                return
        proven, total = items_with_evidence(run)
        st.session_state["run_id"] = run.id
        st.session_state["flash"] = f"Demo run {run.id[:8]}: {proven} of {total} items have live evidence."
        st.rerun()


def delete_demo_button(store: Store) -> None:
    if st.button("Delete the demo runs", key="demo-delete"):
        removed = delete_demo_runs(store)
        st.session_state.pop("run_id", None)
        st.session_state["flash"] = f"Deleted {removed} demo run(s)."
        st.rerun()
