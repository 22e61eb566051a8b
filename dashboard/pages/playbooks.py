"""Emergency playbooks (10): which one live signals say should run now, its steps and switches."""

from __future__ import annotations

import streamlit as st

from dashboard.state import store_or_stop
from scaleready import live
from scaleready.playbooks import Playbook, findings_behind

st.title("Emergency playbooks")
st.caption("Each playbook's triggers judged on live signals from Prometheus; a playbook whose trigger is "
           "crossed is highlighted with the guide's steps and the service's emergency switches.")

found, why = live.sources()
if found:
    names = [s.name for s in found]
    source = found[names.index(st.selectbox("Prometheus", names))]
else:
    url = st.text_input("Prometheus URL", placeholder="http://127.0.0.1:9090", help=why)
    if not url:
        st.info(f"No Prometheus configured: {why}.")
        st.stop()
    source = live.source_for_url(url)


def findings_for(book: Playbook) -> list[dict[str, str]]:
    """The latest stored run's findings behind a playbook (its check and the signals' checks)."""
    store = store_or_stop()
    runs = store.runs(limit=1)
    return findings_behind(book, store.load_run(runs[0].id).findings) if runs else []


@st.fragment(run_every=30)
def board() -> None:
    for state in live.playbook_states(source):
        book = state.playbook
        with st.container(border=True):
            if state.active:
                st.error(f"**{book.section} {book.title}: run it now**", icon=":material/emergency:")
            elif not state.measured:
                st.warning(f"**{book.section} {book.title}**: no trigger could be measured",
                           icon=":material/help:")
            else:
                st.success(f"**{book.section} {book.title}**: not triggered", icon=":material/check_circle:")
            for trigger in state.triggers:
                mark = ":red[crossed]" if trigger.crossed else ("unknown" if trigger.value is None else "ok")
                st.markdown(f"- {trigger.describe()} — {mark}")
            steps, switches = st.columns(2)
            steps.markdown("**Immediately**\n" + "".join(f"\n1. {s}" for s in book.immediately))
            steps.markdown("**Next**\n" + "".join(f"\n1. {s}" for s in book.next))
            seen = state.switches_seen
            lines = [f"- `{name}`: {'**on**' if value else 'off'}" for name, value in sorted(seen.items())]
            missing = state.missing_switches
            switches.markdown("**Switches the service exposes**\n" + ("\n".join(lines) or "\nnone seen"))
            if missing:
                switches.caption(f"Missing: {', '.join(missing)} — {book.switch_hint}")
            rows = findings_for(book)
            with st.expander(f"Findings behind it ({len(rows)})"):
                if rows:
                    st.dataframe(rows, hide_index=True)
                else:
                    st.caption("No stored run yet: run `scaleready check` to record these findings.")
                st.page_link("pages/scorecard.py", label="Open the scorecard", icon=":material/speed:")
    st.caption(f"{source.shown} · re-evaluated every 30 s")


board()
