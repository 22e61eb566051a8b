"""The demo's buttons, shared by the scorecard (first start) and the runs page (any time)."""

from __future__ import annotations

import streamlit as st

from dashboard.state import flash
from scaleready.demo import DemoBackends, DemoError, delete_demo_runs, items_with_evidence, run_demo_detailed
from scaleready.store import Store


def demo_button(store: Store, key: str = "demo", backends: DemoBackends | None = None) -> None:
    """Run the demo now; say what it covered, or why it could not."""
    if st.button("Run the demo checks", type="primary", key=key):
        with st.spinner("Starting the reference service (and a local PostgreSQL, Redis and Prometheus where "
                        "installed) and running the demo checks…"):
            try:
                outcome = run_demo_detailed(store, backends=backends)
            except (DemoError, RuntimeError, OSError) as exc:  # one line: the page stays usable
                st.error(f"The demo could not run: {exc}")
                return
        run = outcome.run
        proven, total = items_with_evidence(run)
        skipped = "".join(f" Skipped {part}: {reason}." for part, reason in outcome.skipped.items())
        st.session_state["run_id"] = run.id
        flash(f"Demo run {run.id[:8]}: {proven} of {total} items ({proven / total:.0%}) have live evidence.{skipped}")
        st.rerun()


def backends_inputs() -> DemoBackends:
    """Optional local PostgreSQL and Redis for the demo (it writes to them, so only when named)."""
    cols = st.columns(2)
    postgres = cols[0].text_input("PostgreSQL admin DSN (optional)", key="demo-pg",
                                  placeholder="postgresql://postgres@127.0.0.1:5432/postgres",
                                  help="A throw-away database is created for the reference service and dropped "
                                       "afterwards.")
    redis = cols[1].text_input("Redis URL with an unused db number (optional)", key="demo-redis",
                               placeholder="redis://127.0.0.1:6379/11",
                               help="The reference service's keys (rs:*) are removed from it afterwards.")
    return DemoBackends(postgres.strip() or None, redis.strip() or None)


def delete_demo_button(store: Store) -> None:
    if st.button("Delete the demo runs", key="demo-delete"):
        removed = delete_demo_runs(store)
        st.session_state.pop("run_id", None)
        flash(f"Deleted {removed} demo run(s).")
        st.rerun()
