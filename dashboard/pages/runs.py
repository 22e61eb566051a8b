"""Runs and reports: export a stored run in any format, compare two runs, read the audit log."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboard.state import rendered_report, store_or_stop
from scaleready import reports, views
from scaleready.diff import diff_rows, diff_runs

store = store_or_stop()
st.title("Runs and reports")
runs = store.runs(limit=200)
if not runs:
    st.info("No runs stored yet.")
    st.stop()

st.dataframe(pd.DataFrame([{"started": f"{r.started_at:%Y-%m-%d %H:%M}", "run": r.id, "framework": r.framework_id,
                            "environment": r.environment or "", "score": round(r.overall, 1),
                            "coverage %": round(100 * r.coverage), "level": r.level} for r in runs]),
             use_container_width=True, hide_index=True)

labels = {r.id: views.run_label(r) for r in runs}
st.subheader("Export an audit report")
run_id = st.selectbox("Run to export", list(labels), format_func=labels.__getitem__)
run = store.load_run(run_id)
cols = st.columns(len(reports.FORMATS))
for col, fmt in zip(cols, reports.FORMATS.values(), strict=True):
    try:
        payload = rendered_report(run.id, fmt.name)
    except Exception as exc:  # one broken format must not hide the others
        col.error(f"{fmt.name}: {exc}")
        continue
    col.download_button(fmt.name.upper(), data=payload, file_name=f"scaleready-{run.id[:8]}.{fmt.extension}",
                        mime=fmt.media_type, help=fmt.description, use_container_width=True)

if len(runs) > 1:
    st.subheader("Compare two runs")
    left, right = st.columns(2)
    ids = list(labels)
    before_id = left.selectbox("Before", ids, index=1, format_func=labels.__getitem__)
    after_id = right.selectbox("After", ids, index=0, format_func=labels.__getitem__)
    after = store.load_run(after_id)
    change = diff_runs(store.load_run(before_id), after)
    metrics = st.columns(4)
    metrics[0].metric("Score", f"{after.score.overall:.1f}", f"{change.score_delta:+.1f}")
    metrics[1].metric("Coverage", f"{100 * after.score.coverage:.0f} %", f"{100 * change.coverage_delta:+.0f} pts")
    metrics[2].metric("Regressions", change.regressions)
    metrics[3].metric("Improvements", len(change.better))
    rows = diff_rows(change)
    if rows:
        st.dataframe(pd.DataFrame(rows), use_container_width=True, hide_index=True)
    else:
        st.success("No finding changed between these runs.")

with st.expander("Audit log (append-only)"):
    st.dataframe(pd.DataFrame([{"at": f"{e.at:%Y-%m-%d %H:%M:%S}", "actor": e.actor, "action": e.action,
                                "subject": e.subject, "details": json.loads(e.details_json)}
                               for e in store.audit_log(500)]), use_container_width=True, hide_index=True)
