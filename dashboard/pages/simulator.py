"""What-if simulator: cache and replica configurations at your traffic, before touching production."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import yaml

from scaleready.paths import data_dir
from simulator import ScenarioError, load_scenario, simulate, sweep
from simulator.calibrate import apply_calibration
from simulator.capacity import scenario_capacity
from simulator.figures import db_load_figure, served_by_figure, sweep_figure

st.title("What-if simulator")
st.caption("Predicts per-tier hit ratios, database load per node, latency percentiles and stale reads for a "
           "workload and a cache/replica configuration; judged against the guide's targets (P99 < 500 ms, "
           "cache hit ratio > 90 %, DB CPU < 70 %).")

bundled = {p.stem: p for p in sorted((data_dir() / "simulator").glob("*.yaml"))}
source = st.radio("Scenario", ["bundled", "upload"], horizontal=True)
try:
    if source == "upload":
        upload = st.file_uploader("Scenario YAML or JSON", type=["yaml", "yml", "json"])
        if upload is None:
            st.stop()
        base = load_scenario(yaml.safe_load(upload.getvalue()) or {})
    else:
        base = load_scenario(bundled[st.selectbox("Bundled scenario", list(bundled))])
except (ScenarioError, yaml.YAMLError) as exc:
    st.error(f"This scenario cannot be used: {str(exc).splitlines()[0]}")
    st.stop()

with st.expander("Service times measured on the reference service (optional)"):
    st.caption("`scaleready calibrate URL -o cal.yaml` drives a running reference service and writes the CPU "
               "per request, the L1 fast path, statements per write and the latency spread it measured; "
               "upload it to simulate with those service times instead of the scenario's.")
    calibration = st.file_uploader("Calibration YAML", type=["yaml", "yml"], key="calibration")
if calibration is not None:
    try:
        base = apply_calibration(base, yaml.safe_load(calibration.getvalue()))
    except (ScenarioError, yaml.YAMLError) as exc:
        st.error(f"This calibration cannot be used: {str(exc).splitlines()[0]}")
        st.stop()
    st.info(f"Calibrated service times: app CPU {base.app.service.mean_ms:.2f} ms per request "
            f"(L1 fast path {base.app.hit_service.mean_ms if base.app.hit_service else 0:.2f} ms, "
            f"cv {base.app.service.cv:g}), Redis round trip {base.l2.rtt_ms:.2f} ms, "
            f"DB read {base.db.read.mean_ms:.2f} ms, {base.db.queries_per_write:g} statements per write.")

with st.form("knobs"):
    traffic, cache, database = st.columns(3)
    users = traffic.number_input("Concurrent users", 1, 10_000_000, int(base.users), step=10_000)
    rate = traffic.number_input("Requests per user per second", 0.001, 10.0, float(base.requests_per_user_s),
                                format="%.3f")
    instances = traffic.slider("App instances", 1, 64, base.app.instances)
    l1_on = cache.toggle("L1 in-process cache", base.l1.enabled)
    l1_ttl = cache.slider("L1 TTL (s)", 1, 60, int(base.l1.ttl_s))
    l2_on = cache.toggle("L2 Redis cache", base.l2.enabled)
    ttl_scale = cache.select_slider("L2 TTLs × (guide 2.2: product 1 h, session 30 min, listing 5 min)",
                                    [0.1, 0.25, 0.5, 1.0, 2.0, 4.0], value=1.0)
    invalidate = cache.toggle("Invalidate on writes (guide 2.2 triggers)", base.invalidation.enabled)
    replicas = database.slider("Read replicas", 0, 8, base.db.replicas)
    cores = database.slider("Cores per DB node", 1, 64, base.db.cores_per_node)
    engine = database.radio("Engine", ["analytic", "trace", "both"], horizontal=True,
                            help="analytic: closed forms, instant. trace: simulates every request (seconds).")
    submitted = st.form_submit_button("Simulate", type="primary")

try:
    scenario = base.with_changes(**{
        "users": users, "requests_per_user_s": rate, "app.instances": instances, "l1.enabled": l1_on,
        "l1.ttl_s": l1_ttl, "l2.enabled": l2_on, "invalidation.enabled": invalidate, "db.replicas": replicas,
        "db.cores_per_node": cores,
        **{f"data_types.{n}.l2_ttl_s": dt.l2_ttl_s * ttl_scale for n, dt in base.data_types.items()},
    })
except ScenarioError as exc:
    st.error(str(exc))
    st.stop()

engines = ["analytic", "trace"] if engine == "both" else [engine]
with st.spinner(f"Simulating {scenario.read_rate:,.0f} requests/s…"):
    results = {e: simulate(scenario, engine=e) for e in engines}
main = results[engines[-1]]

verdict = main.verdict
(st.success if verdict.passed else st.error)(
    "Meets the guide's targets." if verdict.passed else "Misses: " + "; ".join(verdict.reasons))
first, second = st.columns(4), st.columns(4)
first[0].metric("Cache hit ratio", f"{main.hit_ratio.overall:.1%}", help="reads served by L1 or L2")
first[1].metric("L1 hit ratio", f"{main.hit_ratio.l1:.1%}")
first[2].metric("L2 hit ratio", f"{main.hit_ratio.l2:.1%}", help="of the L1 misses")
first[3].metric("Stale reads", f"{main.stale_read_probability.total:.2%}", help="L1 TTL and replica lag")
second[0].metric("DB queries/s", f"{main.db_queries_per_s:,.0f}")
second[1].metric("Max DB CPU", f"{main.max_db_cpu:.0%}")
second[2].metric("P50 latency", f"{main.latency_ms.p50:.1f} ms")
second[3].metric("P99 latency", f"{main.latency_ms.p99:.1f} ms")

left, right = st.columns(2)
left.plotly_chart(served_by_figure(results), use_container_width=True)
right.plotly_chart(db_load_figure(main, scenario.targets.db_cpu), use_container_width=True)
if len(results) > 1:
    st.dataframe(pd.DataFrame([{"engine": e, "hit overall": r.hit_ratio.overall, "hit L1": r.hit_ratio.l1,
                                "hit L2": r.hit_ratio.l2, "DB q/s": r.db_queries_per_s, "P99 ms": r.latency_ms.p99,
                                "runtime s": r.runtime_s} for e, r in results.items()]), hide_index=True)
for note in main.notes:
    st.caption(note)

st.subheader("Find the cheapest configuration")
st.caption("Grid over L1 TTL × L2 TTL scale × replicas × instances with the analytic engine; the cheapest "
           "configuration meeting all targets is recommended.")
if st.button("Run the sweep"):
    with st.spinner("Sweeping…"):
        result = sweep(scenario, engine="analytic")
    if result.recommended:
        keys = list(result.grid)
        st.success("Recommended: " + ", ".join(f"{k} = {result.recommended[k]}" for k in keys)
                   + f" (cost {result.recommended['cost']:g}, P99 {result.recommended['p99_ms']:.1f} ms)")
    for note in result.notes:
        st.warning(note)
    st.plotly_chart(sweep_figure(result.rows, scenario.targets.p99_ms), use_container_width=True)
    st.dataframe(result.to_frame().sort_values(["passed", "cost"], ascending=[False, True]), hide_index=True,
                 use_container_width=True)

st.subheader("Capacity: the traffic at which P99 crosses the target")
st.caption("The knee model (simulator/capacity.py): each instance's CPU shared as asyncio shares it (processor "
           "sharing), the DB connection pool as a queue, per-instance L1. The interval assumes CPU times known "
           "within ±10 %; bench/results/simulator-knee.md shows how it compares with a measured deployment.")
cap_target = st.number_input("P99 target (ms)", 1.0, 600_000.0, float(scenario.targets.p99_ms))
if st.button("Find the capacity"):
    with st.spinner("Bisecting on the request rate…"):
        cap = scenario_capacity(scenario, cap_target)
    cols = st.columns(3)
    cols[0].metric("Capacity", f"{cap['rate']:,.0f} req/s", help="requests/s at which P99 reaches the target")
    cols[1].metric("Users at capacity", f"{cap['users']:,.0f}", f"{cap['headroom']:.1f}x today's traffic",
                   delta_color="off")
    cols[2].metric("Interval", f"{cap['rate_low']:,.0f} – {cap['rate_high']:,.0f}", help="requests/s")
    st.caption(f"Interval in requests/s: {cap['rate_low']:,.0f} – {cap['rate_high']:,.0f} "
               f"({cap['users_low']:,.0f} – {cap['users_high']:,.0f} users). {cap['model']}.")
    if cap["note"]:
        st.warning(cap["note"])
