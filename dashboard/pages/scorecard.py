"""Scorecard of a run: overall score, coverage, level, areas, what changed, roadmap phases and findings."""

from __future__ import annotations

import streamlit as st

from dashboard.auth import current
from dashboard.demo_panel import demo_button
from dashboard.state import (
    changes_since_previous,
    pick_run,
    run_or_stop,
    show_flash,
    store_or_stop,
    stored_findings_frame,
)
from scaleready import views
from scaleready.shard_store import shard_status

store = store_or_stop()
st.title("Readiness scorecard")
show_flash()

run_id = pick_run(store)
if run_id is None:
    st.info("No runs yet. Run checks against your systems (page **Run checks**, or `scaleready check`), or "
            "start with the demo: real checks over the bundled sample application (Kubernetes manifests and a "
            "repository) and a reference service started on this machine, no external service needed.")
    if current().can("run"):
        demo_button(store)
    else:
        st.caption("An editor can run the demo checks.")
    st.stop()
run = run_or_stop(store, run_id)
shards = shard_status(store, run.id)
if shards is not None and not shards.complete:  # a sharded run some Job has not reported to (yet)
    st.warning(f"Incomplete sharded run: {shards.describe()}. Their items stay unknown.")
card = run.score
counts = views.status_counts(run)
left, middle, right = st.columns([1.2, 1.2, 2])
left.plotly_chart(views.gauge_figure(card.overall, "Overall score"), width="stretch")
middle.plotly_chart(views.gauge_figure(100 * card.coverage, "Coverage %"), width="stretch")
with right:
    st.metric("Readiness level", f"{card.level} / {len(card.phases) or 4}",
              help="Phase 1 of the roadmap done = level 1, and so on.")
    cols = st.columns(len(counts))
    for col, (status, n) in zip(cols, counts.items(), strict=True):
        col.metric(status, f"{n:,}")
    environment = f" · environment {run.environment}" if run.environment else ""
    st.caption(f"Framework {run.framework.get('title')} {run.framework.get('version')} · run {run.id[:8]}"
               f"{environment} · {run.started_at:%Y-%m-%d %H:%M:%S} UTC · unknown items score 0 and lower coverage")

changes = changes_since_previous(store, run.id)
with st.expander(f"What changed since the previous run — {changes.summary}", expanded=False):
    if changes.diff is not None:
        rows = views.change_rows(changes.diff)
        if rows.empty:
            st.success("No finding changed.")
        else:
            st.dataframe(rows, hide_index=True, width="stretch")

st.subheader("Areas")
st.plotly_chart(views.areas_figure(run), width="stretch")
empty = [a for a in card.areas if a.coverage == 0]
if empty:
    st.caption(f"{len(empty)} area(s) without evidence in this run ({', '.join(a.title for a in empty)}): "
               "the **Targets** page says which target kind each one needs.")

if card.phases:
    st.subheader("Roadmap")
    for col, phase in zip(st.columns(len(card.phases)), card.phases, strict=True):
        col.progress(phase.done / phase.total if phase.total else 0.0,
                     text=f"Phase {phase.number}: {phase.title} ({phase.done}/{phase.total})")

st.subheader("Findings")
frame = stored_findings_frame(store, run.id)
filters = st.columns(3)
status_pick = filters[0].multiselect("Status", views.STATUS_ORDER, default=["fail", "warn", "error"])
severity_pick = filters[1].multiselect("Severity", ["danger", "warning", "info"])
text = filters[2].text_input("Search", placeholder="check, target or message")
shown = views.filter_findings(frame, status_pick, severity_pick, text)
st.caption(f"{len(shown):,} of {len(frame):,} findings · select a row to open its detail (full message, "
           "evidence, history, waive)")
picked = st.dataframe(shown, width="stretch", hide_index=True, column_order=views.SHOWN_FINDING_COLUMNS,
                      on_select="rerun", selection_mode="single-row", key="findings-table")
rows = picked.selection.rows if picked is not None else []
if rows:
    st.session_state["finding"] = (run.id, str(shown.iloc[rows[0]]["fingerprint"]))
    st.switch_page("pages/finding.py")

with st.expander("Items of the framework and how each was decided"):
    st.dataframe(views.items_frame(run), width="stretch", hide_index=True)
