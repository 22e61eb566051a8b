"""Process-wide resources for the pages: the store, the framework and stored runs, each loaded once.

A stored run never changes, so a run read once (thousands of findings) is kept and shared by
every session and rerun instead of being read and rebuilt on each click; the page only lays
it out. The caches are keyed by the store's URL, so tests with private stores never mix.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.auth import GuardedStore, current
from scaleready import history, views
from scaleready.framework import Framework, FrameworkError
from scaleready.results import RunResult
from scaleready.runner import resolve_framework
from scaleready.store import Store, StoreError, default_url


@st.cache_resource(show_spinner=False)
def _open_store(url: str) -> Store:
    return Store(url)


def store_or_stop() -> Store:
    """The store as the signed-in person may use it (viewers cannot write; writes name them), or a
    readable error on the page (never a traceback) and stop."""
    try:
        return GuardedStore(_open_store(default_url()), current())  # type: ignore[return-value]
    except StoreError as exc:
        st.error(f"The store cannot be opened: {exc}")
        st.stop()
        raise  # unreachable: st.stop() ends the script run


def framework_or_stop() -> Framework:
    try:
        return _framework()
    except FrameworkError as exc:
        st.error(f"The framework cannot be loaded: {exc}")
        st.stop()
        raise


@st.cache_resource(show_spinner=False)
def _framework() -> Framework:
    return resolve_framework(None)


@st.cache_resource(show_spinner=False, max_entries=8)
def _run(url: str, run_id: str) -> RunResult:
    return _open_store(url).load_run(run_id)


@st.cache_resource(show_spinner=False, max_entries=8)
def _findings_frame(url: str, run_id: str) -> pd.DataFrame:
    return views.findings_frame(_run(url, run_id))


@st.cache_resource(show_spinner=False, max_entries=8)
def _changes(url: str, run_id: str) -> history.Changes:
    return history.changes_since_previous(_open_store(url), _run(url, run_id), lambda ref: _outline(url, ref))


@st.cache_resource(show_spinner=False, max_entries=16)
def _outline(url: str, run_id: str) -> RunResult:
    return history.outline_run(_open_store(url), run_id)


def outline_run(store: Store, run_id: str) -> RunResult:
    """A stored run without its evidence, for comparing (read once and shared; read-only)."""
    return _outline(store.url, run_id)


def changes_since_previous(store: Store, run_id: str) -> history.Changes:
    """What changed since the previous run of the same environment (computed once per run)."""
    return _changes(store.url, run_id)


def stored_run(store: Store, run_id: str) -> RunResult:
    """A stored run by full id, read once and shared (treat it as read-only)."""
    return _run(store.url, run_id)


def stored_findings_frame(store: Store, run_id: str) -> pd.DataFrame:
    """The findings table of a stored run, built once (treat it as read-only)."""
    return _findings_frame(store.url, run_id)


def run_or_stop(store: Store, run_id: str) -> RunResult:
    try:
        return stored_run(store, run_id)
    except StoreError as exc:
        st.error(str(exc))
        st.stop()
        raise


def pick_run(store: Store, label: str = "Run", key: str = "run", limit: int = 200) -> str | None:
    """A run chosen by the user (newest first); the choice is shared across pages in the session."""
    runs = store.runs(limit=limit)
    if not runs:
        return None
    labels = {r.id: views.run_label(r) for r in runs}
    ids = list(labels)
    chosen = st.session_state.get("run_id")
    index = ids.index(chosen) if chosen in labels else 0
    run_id = st.selectbox(label, ids, index=index, format_func=labels.__getitem__, key=f"pick-{key}")
    st.session_state["run_id"] = run_id
    return run_id


@st.cache_data(show_spinner=False, max_entries=64)
def rendered_report(url: str, run_id: str, fmt: str) -> str | bytes:
    """A stored run in one format, rendered on request only (the PDF of a large run takes
    seconds) and once: runs never change once stored."""
    from scaleready import reports

    return reports.render(_run(url, run_id), fmt)


def flash(message: str) -> None:
    """Keep an action's outcome for the next script run: a message written just before
    ``st.rerun()`` is wiped by the rerun before the browser ever shows it."""
    st.session_state["flash"] = message


def show_flash() -> None:
    """The one-line outcome of the last action (set before a rerun), shown once."""
    if message := st.session_state.pop("flash", None):
        st.success(message)


def project_of(run: RunResult | None) -> dict[str, str]:
    """``{"project": …}`` for store calls about this run's ticks and waivers, once runs carry a
    project (issue 10); empty before, so the same page works with either store."""
    project = getattr(run, "project", None)
    return {"project": project} if project else {}
