"""Roadmap and checklist: every framework item with its live evidence, and manual ticks (who, when, why)."""

from __future__ import annotations

import streamlit as st

from dashboard.auth import current
from dashboard.state import flash, framework_or_stop, pick_run, project_of, run_or_stop, show_flash, store_or_stop
from scaleready import views
from scaleready.runner import rescore

store = store_or_stop()
st.title("Roadmap and checklist")
show_flash()
framework = framework_or_stop()

run_id = pick_run(store, "Evidence from run")
if run_id is None:
    run = None
    st.info("No run yet: items show only their manual ticks until checks have run.")
else:
    run = rescore(run_or_stop(store, run_id), framework, store)

if run is not None:
    st.caption(f"Evidence from run {run.id[:8]} ({run.started_at:%Y-%m-%d %H:%M} UTC), ticks as of now. "
               f"Readiness level {run.score.level}: a phase counts when all its items pass.")
    st.plotly_chart(views.phase_figure(run), width="stretch")

states = store.item_states(framework.id, **project_of(run))
frame = views.checklist_frame(framework, run, states)

identity = current()
if not identity.can("tick"):
    st.info(f"You are a viewer ({identity.label()}): you can browse and export; editors tick items.")
else:
    with st.form("tick", clear_on_submit=False):
        st.subheader("Tick an item")
        ids = [i.id for i in framework.items]
        titles = {i.id: f"{i.section} · {i.title} ({i.kind})" for i in framework.items}
        cols = st.columns([3, 1.2, 1.2])
        focus = st.session_state.get("roadmap_items") or []
        item_id = cols[0].selectbox("Item", ids, index=ids.index(focus[0]) if focus and focus[0] in ids else 0,
                                    format_func=titles.__getitem__)
        state = cols[1].selectbox("State", ["done", "not_done", "not_applicable"])
        if identity.signed_in:  # the audit log names the signed-in person, not a typed name
            actor = str(identity.actor)
            cols[2].text_input("Who", value=actor, disabled=True)
        else:
            actor = cols[2].text_input("Who", value=st.session_state.get("actor", ""), placeholder="your name")
        note = st.text_input("Why (evidence, ticket, link)", placeholder="e.g. pentest report PT-2026-Q4")
        if st.form_submit_button("Save tick", type="primary"):
            if not actor.strip():
                st.error("Say who is ticking the item.")
            else:
                st.session_state["actor"] = actor
                store.set_item_state(framework.id, item_id, state, actor.strip(), note.strip(), **project_of(run))
                flash(f"{item_id}: {state} by {actor.strip()}")
                st.rerun()

focus = [i for i in st.session_state.get("roadmap_items") or [] if i in set(frame["item"])]
if focus:
    st.subheader("Items of the finding you came from")
    st.dataframe(frame[frame["item"].isin(focus)], width="stretch", hide_index=True)

phase_tab, all_tab = st.tabs(["Roadmap phases", "All items"])
with phase_tab:
    for phase in framework.phases:
        rows = frame[frame["phase"] == phase.number]
        done = int((rows["status"] == "pass").sum())
        with st.expander(f"Phase {phase.number}: {phase.title} ({phase.weeks}) — {done}/{len(rows)} done",
                         expanded=done < len(rows)):
            st.dataframe(rows.drop(columns=["phase"]), width="stretch", hide_index=True)
with all_tab:
    area_titles = {a.id: a.title for a in framework.areas}
    area = st.selectbox("Area", ["all", *area_titles], format_func=lambda a: area_titles.get(a, "All areas"))
    shown = frame if area == "all" else frame[frame["item"].isin([i.id for i in framework.items_in(area)])]
    st.dataframe(shown, width="stretch", hide_index=True)
