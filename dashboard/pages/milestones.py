"""Milestones: freeze the project's scorecard, compare two, sign off, download the frozen report."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.project import pick_project
from dashboard.state import flash, show_flash, store_or_stop
from scaleready import milestones, reports
from scaleready.store import StoreError

store = store_or_stop()
project = pick_project(store)
st.title("Milestones and sign-off")
show_flash()
st.caption(f"Project **{project}**. A milestone freezes the latest run's scores, findings, ticks, waivers and "
           "snapshot hashes; signing it is an event in the tamper-evident audit log.")

found = milestones.list_all(store, project=project)
if found:
    st.dataframe(pd.DataFrame([{
        "milestone": m.name, "created": f"{m.created_at:%Y-%m-%d %H:%M}", "by": m.actor, "note": m.note,
        "score": m.document["score"]["overall"], "coverage %": round(100 * m.document["score"]["coverage"]),
        "level": m.document["score"]["level"], "signed by": ", ".join(s["by"] for s in m.signatures) or "not signed",
        "sha256": m.sha256[:16] + "…"} for m in found]), width="stretch", hide_index=True)
else:
    st.info("No milestones in this project yet.")

left, right = st.columns(2)
with left.form("create", clear_on_submit=True):
    st.subheader("Create a milestone")
    name = st.text_input("Name", placeholder="Q4 launch readiness")
    actor = st.text_input("Created by")
    note = st.text_area("Note")
    if st.form_submit_button("Freeze the latest run", type="primary"):
        try:
            created = milestones.create(store, name.strip(), actor.strip(), note.strip(), project=project)
        except (ValueError, StoreError) as exc:
            st.error(str(exc))
        else:
            flash(f"Milestone {created.name} frozen from run {created.run_id[:8]}.")
            st.rerun()

names = [m.name for m in found]
with right.form("sign", clear_on_submit=True):
    st.subheader("Sign off")
    to_sign = st.selectbox("Milestone", names, index=max(0, len(names) - 1))
    signer = st.text_input("Signed by")
    why = st.text_area("Statement")
    if st.form_submit_button("Sign", disabled=not names):
        try:
            milestones.sign(store, to_sign, signer.strip(), why.strip(), project=project)
        except (ValueError, StoreError) as exc:
            st.error(str(exc))
        else:
            flash(f"{to_sign} signed by {signer}.")
            st.rerun()

if len(found) > 1:
    st.subheader("Compare two milestones")
    a, b = st.columns(2)
    first = a.selectbox("From", names, index=0)
    second = b.selectbox("To", names, index=len(names) - 1)
    change = milestones.diff(milestones.get(store, first, project=project),
                             milestones.get(store, second, project=project))
    cols = st.columns(3)
    cols[0].metric("Score", change["overall"][1], round(change["overall"][1] - change["overall"][0], 1))
    cols[1].metric("Coverage %", round(100 * change["coverage"][1]),
                   round(100 * (change["coverage"][1] - change["coverage"][0])))
    cols[2].metric("Level", change["level"][1], change["level"][1] - change["level"][0])
    for title, key in (("Item verdicts", "items"), ("Findings", "findings")):
        if change[key]:
            st.markdown(f"**{title} that changed**")
            st.dataframe(pd.DataFrame(change[key]), width="stretch", hide_index=True)
    if change["ticks"]:
        st.markdown("**Manual ticks that changed**")
        st.dataframe(pd.DataFrame([{"item": t["item"],
                                    "from": f"{t['from']['state']} by {t['from']['actor']}" if t["from"] else "",
                                    "to": f"{t['to']['state']} by {t['to']['actor']}" if t["to"] else ""}
                                   for t in change["ticks"]]), width="stretch", hide_index=True)
    st.caption(f"Waivers added: {', '.join(change['waivers']['added']) or 'none'} · "
               f"removed: {', '.join(change['waivers']['removed']) or 'none'}")

if found:
    st.subheader("Download a milestone's report")
    chosen = st.selectbox("Milestone to export", names, index=len(names) - 1, key="export")
    frozen = milestones.as_run(milestones.get(store, chosen, project=project))
    cols = st.columns(3)
    for col, fmt in zip(cols, ("html", "pdf", "json"), strict=True):
        spec = reports.FORMATS[fmt]
        col.download_button(fmt.upper(), data=reports.render(frozen, fmt), mime=spec.media_type,
                            file_name=f"scaleready-{project}-{chosen}.{spec.extension}".replace(" ", "_"),
                            width="stretch")
