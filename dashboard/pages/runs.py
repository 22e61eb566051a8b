"""Runs and reports: the stored runs, the demo, audit-report export, comparing two runs, the audit log.

A report is rendered only when asked for (the PDF of a 6,000-finding run takes seconds), and
once per run and format: the page itself opens at once whatever the store holds.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboard.demo_panel import backends_inputs, delete_demo_button, demo_button
from dashboard.state import outline_run, rendered_report, show_flash, store_or_stop
from scaleready import reports, views
from scaleready.demo import DEMO_ENVIRONMENT
from scaleready.diff import diff_runs

store = store_or_stop()
st.title("Runs and reports")
show_flash()
runs = store.runs(limit=200)

with st.expander("Demo", expanded=not runs):
    st.caption("Real checks over the bundled sample application and a reference service started on this machine. "
               "Name a local PostgreSQL and Redis to run the service on them and check them too (about 60 % of "
               "the guide instead of about 30 %). "
               f"Demo runs are stored as the environment '{DEMO_ENVIRONMENT}' and can be deleted at any time.")
    backends = backends_inputs()
    left, right = st.columns(2)
    with left:
        demo_button(store, key="demo-runs-page", backends=backends)
    with right:
        if any(r.environment == DEMO_ENVIRONMENT for r in runs):
            delete_demo_button(store)
if not runs:
    st.info("No runs stored yet.")
    st.stop()

st.dataframe(pd.DataFrame([{"started": f"{r.started_at:%Y-%m-%d %H:%M}", "run": r.id[:8],
                            "environment": r.environment or "", "framework": r.framework_id,
                            "score": f"{r.overall:.1f}", "coverage": f"{r.coverage:.0%}", "level": r.level}
                           for r in runs]), width="stretch", hide_index=True)

labels = {r.id: views.run_label(r) for r in runs}
st.subheader("Export an audit report")
cols = st.columns([3, 1.2, 1.2])
run_id = cols[0].selectbox("Run to export", list(labels), format_func=labels.__getitem__)
formats = list(reports.FORMATS.values())
names = [f.name for f in formats]
fmt = cols[1].selectbox("Format", names, index=names.index("html") if "html" in names else 0,
                        format_func=lambda name: f"{name.upper()} — {reports.FORMATS[name].description}")
chosen = next(f for f in formats if f.name == fmt)
with cols[2]:
    st.write("")
    prepared = st.session_state.get("prepared") == (run_id, fmt)
    if not prepared and st.button("Prepare the report", width="stretch"):
        st.session_state["prepared"] = (run_id, fmt)
        prepared = True
    if prepared:
        try:
            with st.spinner(f"Rendering {fmt.upper()}…"):
                payload = rendered_report(store.url, run_id, fmt)
        except Exception as exc:  # a broken format is one readable line, the page stays usable
            st.error(f"{fmt}: {exc}")
        else:
            st.download_button(f"Download {fmt.upper()}", data=payload, type="primary",
                               file_name=f"scaleready-{run_id[:8]}.{chosen.extension}", mime=chosen.media_type,
                               help=chosen.description, width="stretch")

if len(runs) > 1:
    st.subheader("Compare two runs")
    left, right = st.columns(2)
    ids = list(labels)
    before_id = left.selectbox("Before", ids, index=1, format_func=labels.__getitem__)
    after_id = right.selectbox("After", ids, index=0, format_func=labels.__getitem__)
    after = outline_run(store, after_id)
    change = diff_runs(outline_run(store, before_id), after)
    metrics = st.columns(4)
    metrics[0].metric("Score", f"{after.score.overall:.1f}", f"{change.score_delta:+.1f}")
    metrics[1].metric("Coverage", f"{100 * after.score.coverage:.0f} %", f"{100 * change.coverage_delta:+.0f} pts")
    metrics[2].metric("Regressions", change.regressions)
    metrics[3].metric("Improvements", len(change.better))
    rows = views.change_rows(change)
    if rows.empty:
        st.success("No finding changed between these runs.")
    else:
        st.dataframe(rows, width="stretch", hide_index=True)

with st.expander("Audit log (append-only)"):
    st.dataframe(pd.DataFrame([{"at": f"{e.at:%Y-%m-%d %H:%M:%S}", "actor": e.actor, "action": e.action,
                                "subject": e.subject, "details": json.dumps(json.loads(e.details_json))}
                               for e in store.audit_log(500)]), width="stretch", hide_index=True)
