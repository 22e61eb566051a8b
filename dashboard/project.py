"""The project picker the audit pages share: one store, several products."""

from __future__ import annotations

import streamlit as st

from scaleready.projects import resolve_project
from scaleready.store import Store


def pick_project(store: Store) -> str:
    """A sidebar choice of the store's projects, the configured one preselected; kept across pages."""
    known = store.projects()
    preferred = st.session_state.get("project") or resolve_project()
    if preferred not in known:
        known.append(preferred)
    project = st.sidebar.selectbox("Project", known, index=known.index(preferred), key="project_picker",
                                   help="Ticks, waivers and milestones belong to a project.")
    st.session_state["project"] = project
    return project
