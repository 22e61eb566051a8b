"""Live metrics: the guide's four signals from the configured Prometheus, against their thresholds."""

from __future__ import annotations

import streamlit as st

from scaleready import live

st.title("Live metrics")
st.caption("P99 latency, error rate, database CPU and cache hit ratio, read from Prometheus with the same "
           "queries as the checks (and the target's overrides), plotted against the guide's targets (1.2).")

found, why = live.sources()
left, middle, right = st.columns([1.5, 2.3, 0.8])
if found:
    names = [s.name for s in found]
    picked = left.selectbox("Prometheus", names, format_func=lambda n: f"{n} ({found[names.index(n)].shown})")
    source = found[names.index(picked)]
else:
    url = left.text_input("Prometheus URL", placeholder="http://127.0.0.1:9090", help=why)
    if not url:
        st.info(f"No Prometheus configured: {why}.")
        st.stop()
    source = live.source_for_url(url)
span = middle.segmented_control("Time range", list(live.RANGES), default="1 hour", required=True)
refresh = right.selectbox("Refresh", ["every 10 s", "every 30 s", "every 60 s", "off"], index=1)
every = None if refresh == "off" else float(refresh.split()[1])


@st.fragment(run_every=every)
def charts() -> None:
    """Re-reads Prometheus and redraws in place; the rest of the page does not rerun."""
    data = live.signal_series(source, live.RANGES[span or "1 hour"])
    cells = st.columns(2) + st.columns(2)
    for cell, entry in zip(cells, data.values(), strict=True):
        sig = entry.signal
        with cell.container(border=True):
            if entry.current is None:
                st.metric(sig.title, "—", help=entry.reason)
                st.warning(f"{sig.title}: {entry.reason}")
                continue
            shown = f"{entry.current * 1000:.0f} ms" if sig.unit == "seconds" else f"{entry.current * 100:.2f} %"
            st.metric(sig.title, shown)
            if entry.breached:
                st.badge("outside the guide's target", icon=":material/error:", color="red")
            else:
                st.badge("within the guide's target", icon=":material/check_circle:", color="green")
            st.plotly_chart(live.figure(entry), key=f"chart-{sig.key}")
    st.caption(f"{source.shown} · window {source.options.window} · refreshed {refresh}")


charts()
