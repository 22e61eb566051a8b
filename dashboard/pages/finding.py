"""One finding in full: message, readable evidence, remediation, the guide's text, history, waive."""

from __future__ import annotations

from datetime import UTC, datetime, time

import plotly.graph_objects as go
import streamlit as st

from dashboard.state import framework_or_stop, pick_run, project_of, run_or_stop, store_or_stop
from scaleready import finding_detail, history

store = store_or_stop()
framework = framework_or_stop()
st.title("Finding detail")

wanted_run, wanted_fp = st.session_state.get("finding", (None, None))
if wanted_run:
    st.session_state["run_id"] = wanted_run
run_id = pick_run(store)
if run_id is None:
    st.info("No runs yet: run checks first (page **Run checks**, or the demo on the scorecard).")
    st.stop()
run = run_or_stop(store, run_id)
if not run.findings:
    st.info("This run has no findings.")
    st.stop()

by_fp = {f.fingerprint: f for f in run.findings}
statuses = st.multiselect("Statuses to choose from", ["fail", "warn", "error", "pass", "skip"],
                          default=["fail", "warn", "error"], help="A run can hold thousands of findings.")
ordered = sorted((f for f in run.findings if f.status.value in statuses or f.fingerprint == wanted_fp),
                 key=lambda f: (["fail", "warn", "error", "pass", "skip"].index(f.status.value),
                                f.check, f.target, f.subject or ""))
if not ordered:
    st.info("No finding of these statuses in this run.")
    st.stop()
keys = [f.fingerprint for f in ordered]
index = keys.index(wanted_fp) if wanted_fp in keys else 0
fp = st.selectbox("Finding", keys, index=index, format_func=lambda k: finding_detail.finding_label(by_fp[k]))
st.session_state["finding"] = (run.id, fp)
finding = by_fp[fp]

colour = {"pass": "green", "warn": "orange", "fail": "red", "error": "violet", "skip": "gray"}[finding.status.value]
st.subheader(f":{colour}-badge[{finding.status.value}] {finding.title or finding.check}")
st.markdown(f"**{finding.status.value}**{' (waived: ' + (finding.waiver_reason or '') + ')' if finding.waived else ''}"
            f" · severity **{finding.severity.value}** · check `{finding.check}` · target `{finding.target}`"
            + (f" · subject `{finding.subject}`" if finding.subject else "")
            + (f" · at `{finding.location}`" if finding.location else ""))
st.write(finding.message)
if finding.remediation:
    st.info(f"**Remediation.** {finding.remediation}")

evidence = finding_detail.split_evidence(finding.evidence)
st.markdown("#### Evidence")
if evidence.facts:  # a list, not a table: long values wrap instead of being cut off
    st.markdown("\n".join(f"- **{label}**: {value}" for label, value in evidence.facts))
for name, value in evidence.nested.items():
    with st.expander(name):
        st.json(value)
for name, table in evidence.tables.items():
    st.caption(name)
    st.dataframe(table, hide_index=True, width="stretch")
for name, series in evidence.series.items():
    fig = go.Figure(go.Scatter(x=series["x"], y=series["value"], mode="lines+markers", name=name))
    fig.update_layout(title=name, height=260, margin={"l": 10, "r": 10, "t": 40, "b": 30})
    st.plotly_chart(fig, width="stretch")
if evidence.pointer or evidence.snapshot:
    st.caption(f"Read from snapshot `{evidence.snapshot or '–'}` at `{evidence.pointer or '(whole snapshot)'}` "
               "(the stored snapshot hashes to this sha256).")

context = finding_detail.context(framework, finding)
st.markdown("#### What the guide says")
if context.items:
    for item in context.items:
        st.markdown(f"**{item.section} · {item.title}** (`{item.id}`, {item.kind})")
        if item.description:
            st.write(item.description)
        if item.remediation:
            st.caption(f"Remediation: {item.remediation}")
else:
    st.caption("No framework item names this check.")
others = [i for i in context.section_items if i not in context.items]
if others:
    with st.expander(f"Other items of section {others[0].section}"):
        for item in others:
            st.markdown(f"- **{item.title}** (`{item.id}`): {item.description}")
if context.items and st.button("Open these items in the roadmap & checklist"):
    st.session_state["roadmap_items"] = [i.id for i in context.items]
    st.switch_page("pages/roadmap.py")

st.markdown("#### History across runs")
past = history.finding_history(store, fp)
st.dataframe(past, hide_index=True, width="stretch")

st.markdown("#### Waive")
if finding.status.value not in ("fail", "warn"):
    st.caption("Only failing or warning findings can be waived.")
else:
    with st.form("waive"):
        reason = st.text_input("Reason (accepted risk, ticket)", placeholder="e.g. RISK-42: accepted until Q2")
        cols = st.columns(3)
        expires = cols[0].date_input("Expires", value=None, help="Leave empty for no expiry")
        actor = cols[1].text_input("Who", value=st.session_state.get("actor", ""))
        scope = cols[2].selectbox("Scope", ["this target and subject", "this check on every target"])
        if st.form_submit_button("Waive", type="primary"):
            if not reason.strip() or not actor.strip():
                st.error("A waiver needs a reason and the name of who grants it.")
            else:
                st.session_state["actor"] = actor.strip()
                narrow = scope.startswith("this target")
                waiver_id = store.add_waiver(
                    finding.check, reason.strip(), actor.strip(),
                    target=finding.target if narrow else "*",
                    subject=(finding.subject or "*") if narrow else "*",
                    expires=datetime.combine(expires, time.max, tzinfo=UTC) if expires else None,
                    **project_of(run))
                st.success(f"Waiver {waiver_id} recorded: it applies from the next run (stored runs stay as "
                           "they were checked).")
