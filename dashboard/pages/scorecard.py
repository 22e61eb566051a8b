"""Scorecard of a run: overall score, coverage, level, areas, roadmap phases and findings."""

from __future__ import annotations

import streamlit as st

from dashboard.auth import current
from dashboard.state import store_or_stop
from scaleready import views
from scaleready.demo import run_demo
from scaleready.shard_store import shard_status
from scaleready.store import StoreError

store = store_or_stop()
st.title("Readiness scorecard")

runs = store.runs(limit=100)
if not runs:
    st.info("No runs yet. Run `scaleready check` against your systems, or start with the demo: real checks "
            "over the bundled sample application (Kubernetes manifests and a repository), no service needed.")
    if not current().can("run"):
        st.caption("An editor can run the demo checks.")
    elif st.button("Run the demo checks", type="primary"):
        with st.spinner("Running the demo checks…"):
            run_demo(store)
        st.rerun()
    st.stop()

labels = {r.id: views.run_label(r) for r in runs}
run_id = st.selectbox("Run", list(labels), format_func=labels.__getitem__)
try:
    run = store.load_run(run_id)
except StoreError as exc:
    st.error(str(exc))
    st.stop()
shards = shard_status(store, run.id)
if shards is not None and not shards.complete:  # a sharded run some Job has not reported to (yet)
    st.warning(f"Incomplete sharded run: {shards.describe()}. Their items stay unknown.")

card = run.score
counts = views.status_counts(run)
left, middle, right = st.columns([1.2, 1.2, 2])
left.plotly_chart(views.gauge_figure(card.overall, "Overall score"), use_container_width=True)
middle.plotly_chart(views.gauge_figure(100 * card.coverage, "Coverage %"), use_container_width=True)
with right:
    st.metric("Readiness level", f"{card.level} / {len(card.phases) or 4}",
              help="Phase 1 of the roadmap done = level 1, and so on.")
    cols = st.columns(len(counts))
    for col, (status, n) in zip(cols, counts.items(), strict=True):
        col.metric(status, n)
    st.caption(f"Framework {run.framework.get('title')} {run.framework.get('version')} · run {run.id} · "
               f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC · unknown items score 0 and lower coverage")

st.subheader("Areas")
st.plotly_chart(views.areas_figure(run), use_container_width=True)

if card.phases:
    st.subheader("Roadmap")
    for col, phase in zip(st.columns(len(card.phases)), card.phases, strict=True):
        col.progress(phase.done / phase.total if phase.total else 0.0,
                     text=f"Phase {phase.number}: {phase.title} ({phase.done}/{phase.total})")

st.subheader("Findings")
frame = views.findings_frame(run)
filters = st.columns(3)
status_pick = filters[0].multiselect("Status", views.STATUS_ORDER, default=["fail", "warn", "error"])
severity_pick = filters[1].multiselect("Severity", ["danger", "warning", "info"])
text = filters[2].text_input("Search", placeholder="check, target or message")
shown = frame[frame["status"].str.split(" ").str[0].isin(status_pick)] if status_pick else frame
if severity_pick:
    shown = shown[shown["severity"].isin(severity_pick)]
if text:
    mask = shown[["check", "target", "subject", "message"]].apply(
        lambda col: col.str.contains(text, case=False, regex=False)).any(axis=1)
    shown = shown[mask]
st.dataframe(shown, use_container_width=True, hide_index=True)

with st.expander("Items of the framework and how each was decided"):
    st.dataframe(views.items_frame(run), use_container_width=True, hide_index=True)
