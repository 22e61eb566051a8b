"""Process-wide resources for the pages: the store, opened once and shared across sessions."""

from __future__ import annotations

import streamlit as st

from dashboard.auth import GuardedStore, current
from scaleready.store import Store, StoreError


@st.cache_resource(show_spinner=False)
def _open_store() -> Store:
    return Store()


def store_or_stop() -> Store:
    """The store as the signed-in person may use it (viewers cannot write; writes name them), or a
    readable error on the page (never a traceback) and stop."""
    try:
        return GuardedStore(_open_store(), current())  # type: ignore[return-value]
    except StoreError as exc:
        st.error(f"The store cannot be opened: {exc}")
        st.stop()
        raise  # unreachable: st.stop() ends the script run


@st.cache_data(show_spinner=False, max_entries=64)
def rendered_report(run_id: str, fmt: str) -> str | bytes:
    """A stored run in one format. Runs never change once stored, so each rendering (the PDF of a
    large run takes seconds) is done once, not on every rerun of the page."""
    from scaleready import reports

    return reports.render(_open_store().load_run(run_id), fmt)
