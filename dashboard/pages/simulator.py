"""What-if simulator: cache and replica configurations at your traffic, before touching production."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import yaml

from scaleready.paths import data_dir
from simulator import ScenarioError, default_grid, load_scenario, simulate, sweep, sweep_knobs
from simulator.calibrate import apply_calibration
from simulator.capacity import scenario_capacity
from simulator.figures import db_load_figure, served_by_figure, sweep_figure
from simulator.model import parse_document, parse_scenario
from simulator.summary import fmt_bytes, fmt_ms, fmt_pct, fmt_rate, fmt_value, stale_text, sweep_table
from simulator.sweep import parse_values

SCENARIO_SUFFIXES = {".yaml", ".yml", ".json"}

st.title("What-if simulator")
st.caption("Predicts per-tier hit ratios, database load per node, latency percentiles and stale reads for a "
           "workload and a cache/replica configuration; judged against the guide's targets (P99 < 500 ms, "
           "cache hit ratio > 90 %, DB CPU < 70 %).")

bundled = {p.name: p for p in sorted((data_dir() / "simulator").iterdir())
           if p.suffix in SCENARIO_SUFFIXES and not p.name.endswith(".schema.json")}
source = st.radio("Scenario", ["bundled", "upload"], horizontal=True)
try:
    if source == "upload":
        upload = st.file_uploader("Scenario YAML or JSON", type=["yaml", "yml", "json"])
        if upload is None:
            st.stop()
        # The guarded loader: an uploaded alias bomb or NUL byte is one line, not a hung page.
        fmt = "json" if upload.name.lower().endswith(".json") else "yaml"
        base = parse_scenario(upload.getvalue(), upload.name, fmt)
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
        base = apply_calibration(base, parse_document(calibration.getvalue(), calibration.name))
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
    l2_gb = cache.number_input("Redis memory (GB)", 0.01, 1024.0, round(base.l2.memory_bytes / 1e9, 2), step=0.5,
                               format="%.2f")
    ttl_scale = cache.select_slider("L2 TTLs × (guide 2.2: product 1 h, session 30 min, listing 5 min)",
                                    [0.1, 0.25, 0.5, 1.0, 2.0, 4.0], value=1.0)
    invalidate = cache.toggle("Invalidate on writes (guide 2.2 triggers)", base.invalidation.enabled)
    replicas = database.slider("Read replicas", 0, 8, base.db.replicas)
    cores = database.slider("Cores per DB node", 1, 64, base.db.cores_per_node)
    engine = database.radio("Engine", ["analytic", "trace", "both"], horizontal=True,
                            help="analytic: closed forms, instant. trace: simulates every request (seconds), "
                                 "with 95 % intervals for its P99 and stale reads.")
    submitted = st.form_submit_button("Simulate", type="primary")

try:
    scenario = base.with_changes(**{
        "users": users, "requests_per_user_s": rate, "app.instances": instances, "l1.enabled": l1_on,
        "l1.ttl_s": l1_ttl, "l2.enabled": l2_on, "l2.memory_bytes": l2_gb * 1e9,
        "invalidation.enabled": invalidate, "db.replicas": replicas, "db.cores_per_node": cores,
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
if verdict.passed:
    st.success("Meets the guide's targets.")
else:
    st.error("Misses the guide's targets:\n" + "\n".join(f"- {r}" for r in verdict.reasons))
first, second = st.columns(4), st.columns(4)
first[0].metric("Cache hit ratio", fmt_pct(main.hit_ratio.overall), help="reads served by L1 or L2")
first[1].metric("L1 hit ratio", fmt_pct(main.hit_ratio.l1))
first[2].metric("L2 hit ratio", fmt_pct(main.hit_ratio.l2), help="of the L1 misses")
first[3].metric("Stale reads", fmt_pct(main.stale_read_probability.total), help=stale_text(main))
second[0].metric("DB queries/s", f"{main.db_queries_per_s:,.0f}")
worst = max(main.db_nodes, key=lambda n: n.offered_load)
if worst.overloaded:
    second[1].metric("DB offered load", f"{worst.offered_load * 100:,.0f} %",
                     help=f"{worst.name} receives more work than its CPUs can do: it is overloaded and its "
                          "queue grows for as long as the load lasts (this is offered load, not a CPU reading)")
else:
    second[1].metric("Max DB CPU", fmt_pct(worst.cpu, 0))
UNBOUNDED_HELP = "an overloaded queue on the read path: the latency grows for as long as the load lasts"


def latency_metric(value: float) -> str:
    """A latency short enough for a metric tile: 'unbounded' instead of the summary's long form."""
    return "unbounded" if value == float("inf") else fmt_ms(value)


second[2].metric("P50 latency", latency_metric(main.latency_ms.p50),
                 help=UNBOUNDED_HELP if main.latency_ms.p50 == float("inf") else None)
p99_help = (f"95 % interval {fmt_ms(main.p99_interval_ms.low)} – {fmt_ms(main.p99_interval_ms.high)} "
            f"({main.p99_interval_ms.method})" if main.p99_interval_ms
            else UNBOUNDED_HELP if main.latency_ms.p99 == float("inf") else None)
second[3].metric("P99 latency", latency_metric(main.latency_ms.p99), help=p99_help)

left, right = st.columns(2)
left.plotly_chart(served_by_figure(results), width="stretch")
right.plotly_chart(db_load_figure(main, scenario.targets.db_cpu), width="stretch")
if len(results) > 1:
    st.dataframe(pd.DataFrame([{"engine": e, "cache hit ratio": fmt_pct(r.hit_ratio.overall),
                                "L1 hit ratio": fmt_pct(r.hit_ratio.l1), "L2 hit ratio": fmt_pct(r.hit_ratio.l2),
                                "DB queries/s": f"{r.db_queries_per_s:,.0f}", "P99": fmt_ms(r.latency_ms.p99),
                                "stale reads": stale_text(r), "runtime": f"{r.runtime_s:.2f} s"}
                               for e, r in results.items()]), hide_index=True)
for note in main.notes:
    st.caption(note)

st.subheader("Find the cheapest configuration")
st.caption("Every combination of the values below is simulated with the analytic engine; the cheapest "
           "configuration meeting all targets is recommended. Any knob of the scenario can be varied; the "
           "default axes are what capacity is bought with: Redis memory, read replicas and app instances.")
knobs = sweep_knobs(scenario)
suggested = default_grid(scenario)
chosen = st.multiselect("Knobs to vary", list(knobs), default=list(suggested),
                        help="l2.ttl_scale multiplies every data type's L2 TTL")
grid = {}
for knob in chosen:
    start = suggested.get(knob, [knobs[knob]])
    text = st.text_input(f"{knob} values", ", ".join(fmt_value(knob, v).replace("×", "") for v in start),
                         key=f"grid-{base.name}-{knob}",
                         help="comma-separated; memory as 512 MB or 4.5 GB, switches as on/off")
    grid[knob] = parse_values(text)
size = 1
for values in grid.values():
    size *= max(1, len(values))
sweep_key = scenario.model_dump_json() + repr(sorted(grid.items()))  # a stored sweep belongs to its inputs
verify = st.checkbox("Confirm the recommendation with the trace engine (seconds more)")
sweep_key += f"-verify={verify}"
if st.button(f"Run the sweep ({size:,} configurations)", disabled=not grid):
    bar = st.progress(0.0, text="Sweeping…")

    def show_progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"{done:,} of {total:,} configurations simulated")

    try:
        st.session_state["sweep"] = (sweep_key, sweep(scenario, grid=grid, engine="analytic", verify=verify,
                                                      progress=show_progress))
    except ScenarioError as exc:
        st.session_state.pop("sweep", None)
        st.error(f"This sweep cannot run: {str(exc).splitlines()[0]}")
    bar.empty()
stored = st.session_state.get("sweep")
result = stored[1] if stored and stored[0] == sweep_key else None
if result is not None:
    if result.recommended:
        best = result.recommended
        st.success("Recommended: " + ", ".join(f"{k} = {fmt_value(k, best[k])}" for k in result.grid)
                   + f" (cost {best['cost']:g}, cache hit ratio {fmt_pct(best['hit_overall'])}, "
                   f"P99 {fmt_ms(best['p99_ms'])}); {len(result.rows):,} configurations in {result.runtime_s:.1f} s")
    if result.verification is not None and result.verification.verdict.passed:
        check = result.verification
        st.info(f"The trace engine confirms it: cache hit ratio {fmt_pct(check.hit_ratio.overall)}, "
                f"P99 {fmt_ms(check.latency_ms.p99)}, stale reads {stale_text(check)}.")
    for note in result.notes:
        st.warning(note)
    st.plotly_chart(sweep_figure(result.rows, scenario.targets.p99_ms), width="stretch")
    st.dataframe(pd.DataFrame(sweep_table(result.rows, result.grid)), hide_index=True, width="stretch")
    if "l2.memory_bytes" in result.grid:
        data_bytes = sum(dt.keys * dt.value_bytes for dt in scenario.data_types.values())
        st.caption(f"The scenario's cached values add up to {fmt_bytes(data_bytes)}; "
                   f"{fmt_rate(scenario.read_rate)} reads.")

st.subheader("Capacity: the traffic at which P99 crosses the target")
st.caption("The knee model (simulator/capacity.py): each instance's event loop replayed round by round as asyncio "
           "runs it (a request waits a loop round for every await), the DB connection pool as a queue, per-instance "
           "L1. The interval assumes CPU times known within ±10 %; bench/results/simulator-knee.md shows how it "
           "compares with a measured deployment.")
target_col, pause_col, every_col = st.columns(3)
cap_target = target_col.number_input("P99 target (ms)", 1.0, 600_000.0, float(scenario.targets.p99_ms))
gc_pause = pause_col.number_input(
    "Full GC pause (ms)", 0.0, 10_000.0, float(scenario.app.gc_pause_ms),
    help="How long a full garbage collection stops a worker's event loop (Python: "
         "python_gc_pause_seconds{generation=\"2\"} sum / count). 0: none. Near the knee the backlog behind one "
         "stop takes far longer to drain than the stop lasted.")
gc_every = every_col.number_input(
    "Requests per worker between full GCs", 0.0, 1e9, float(scenario.app.gc_every_requests), step=1000.0, format="%.0f",
    help="A worker's requests over its generation-2 collections in the same window.")
if st.button("Find the capacity"):
    try:
        sized = scenario.with_changes(**{"app.gc_pause_ms": gc_pause, "app.gc_every_requests": gc_every})
    except ScenarioError as exc:
        st.error(str(exc))
        st.stop()
    with st.spinner("Bisecting on the request rate…"):
        cap = scenario_capacity(sized, cap_target)
    cols = st.columns(3)
    cols[0].metric("Capacity", f"{cap['rate']:,.0f} req/s", help="requests/s at which P99 reaches the target")
    cols[1].metric("Users at capacity", f"{cap['users']:,.0f}", f"{cap['headroom']:.1f}x today's traffic",
                   delta_color="off")
    cols[2].metric("Interval", f"{cap['rate_low']:,.0f} – {cap['rate_high']:,.0f}", help="requests/s")
    st.caption(f"Interval in requests/s: {cap['rate_low']:,.0f} – {cap['rate_high']:,.0f} "
               f"({cap['users_low']:,.0f} – {cap['users_high']:,.0f} users). {cap['model']}.")
    if cap["note"]:
        st.warning(cap["note"])
    st.info(cap["validation"])
