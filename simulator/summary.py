"""Readable figures and text summaries of simulation results, for the CLI and the dashboard.

One place decides how a number reads: percentages with sensible digits, latencies that say
"unbounded (overloaded)" instead of "inf ms", loads above 100 % named as offered load, byte
sizes in MB/GB, and a trace estimate with its 95 % interval. The CLI prints `result_text` and
`sweep_text`; the dashboard page uses the ``fmt_*`` helpers for its metrics and tables.
"""

from __future__ import annotations

import math
from typing import Any

from .result import Interval, NodeLoad, SimulationResult

__all__ = ["fmt_bytes", "fmt_ms", "fmt_node", "fmt_pct", "fmt_rate", "fmt_value", "result_text", "stale_text",
           "sweep_table", "sweep_text"]

UNBOUNDED = "unbounded (overloaded)"


def fmt_pct(x: float | None, digits: int | None = None) -> str:
    """A share as a percentage: 1 decimal by default, more for small shares (0.012 %)."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if digits is None:
        digits = 1 if abs(x) >= 0.01 or x == 0 else 3 if abs(x) >= 1e-4 else 4
    return f"{x * 100:.{digits}f} %"


def fmt_ms(x: float | None) -> str:
    """A latency: 'unbounded (overloaded)' for an infinite or missing one, else 3 significant digits."""
    if x is None or not math.isfinite(x):
        return UNBOUNDED
    if x >= 1000:
        return f"{x / 1000:.3g} s"
    return f"{x:.3g} ms" if x < 100 else f"{x:.0f} ms"


def fmt_rate(x: float) -> str:
    """Events per second, with thousands separators and no false precision."""
    return f"{x:,.0f}/s" if x >= 10 else f"{x:.2g}/s"


def fmt_bytes(x: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if x >= size:
            return f"{x / size:.3g} {unit}"
    return f"{x:.0f} B"


def fmt_value(knob: str, value: Any) -> str:
    """A sweep axis value the way a person writes it (memory in GB, TTL scale as x2)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if knob.endswith("_bytes") and isinstance(value, int | float):
        return fmt_bytes(float(value))
    if knob == "l2.ttl_scale":
        return f"×{value:g}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def fmt_node(node: NodeLoad) -> str:
    """One node's load: CPU while it keeps up, offered load once more arrives than it can do."""
    if node.overloaded:
        return f"offered load {node.offered_load * 100:,.0f} % of its CPUs: overloaded, the queue grows without bound"
    wait = "" if node.mean_wait_ms is None else f", mean wait {fmt_ms(node.mean_wait_ms)}"
    return f"CPU {fmt_pct(node.cpu, 0)}{wait}"


def _interval(iv: Interval | None, fmt) -> str:
    return f" (95 % interval {fmt(iv.low)} – {fmt(iv.high)})" if iv else ""


def stale_text(res: SimulationResult) -> str:
    """The stale-read figure with its interval, or the note that it is the analytic engine's."""
    text = fmt_pct(res.stale_read_probability.total) + _interval(res.stale_read_interval, fmt_pct)
    if res.stale_read_source == "analytic":
        text += " (the analytic expectation: the trace saw too few independent stale episodes to estimate it)"
    return text


def result_text(res: SimulationResult) -> str:
    """A person's summary of one simulation: verdict first, then where the figures come from."""
    v = res.verdict
    lines = [f"{res.scenario}: {res.engine} engine"
             + (f", {res.simulated_requests:,} events" if res.simulated_requests else "")
             + f", {res.runtime_s:.1f} s",
             "verdict: meets the guide's targets" if v.passed else "verdict: MISSES the guide's targets"]
    lines += [f"  - {r}" for r in v.reasons]
    h = res.hit_ratio
    lines.append(f"traffic: {fmt_rate(res.reads_per_s)} reads, {fmt_rate(res.writes_per_s)} writes")
    lines.append(f"cache hit ratio {fmt_pct(h.overall)} (L1 {fmt_pct(h.l1)}, L2 {fmt_pct(h.l2)} of the L1 misses)")
    for node in res.db_nodes:
        lines.append(f"db {node.name}: {fmt_rate(node.queries_per_s)} queries, {fmt_node(node)}")
    if res.l2_node is not None:
        lines.append(f"redis: {fmt_rate(res.l2_node.queries_per_s)} operations, {fmt_node(res.l2_node)}")
    if res.app_overloaded:
        lines.append("app instances: overloaded (more work than their workers can do)")
    lat = res.latency_ms
    lines.append(f"read latency: P50 {fmt_ms(lat.p50)}, P95 {fmt_ms(lat.p95)}, P99 {fmt_ms(lat.p99)}"
                 + _interval(res.p99_interval_ms, fmt_ms))
    lines.append(f"stale reads: {stale_text(res)}")
    lines += [f"note: {n}" for n in res.notes]
    return "\n".join(lines)


def sweep_text(doc: dict[str, Any]) -> str:
    """A person's summary of a sweep (its `SweepResult.to_dict()`): the grid and the recommendation."""
    rows, best = doc["rows"], doc["recommended"]
    passing = sum(1 for r in rows if r["passed"])
    axes = ", ".join(f"{k} = {' / '.join(fmt_value(k, v) for v in vals)}" for k, vals in doc["grid"].items())
    lines = [f"sweep: {len(rows)} configurations ({doc['engine']} engine, {doc.get('runtime_s', 0):.1f} s), "
             f"{passing} meet the guide's targets", f"grid: {axes}"]
    if best:
        knobs = ", ".join(f"{k} = {fmt_value(k, best[k])}" for k in doc["grid"])
        lines.append(f"recommended (cheapest passing): {knobs}")
        lines.append(f"  cost {best['cost']:g}, cache hit ratio {fmt_pct(best['hit_overall'])}, "
                     f"max DB CPU {fmt_pct(best['db_cpu_max'], 0)}, P99 {fmt_ms(best['p99_ms'])}, "
                     f"stale reads {fmt_pct(best['stale'])}")
    ver = doc.get("verification")
    if ver:
        lines.append("trace engine check of the recommendation: "
                     + ("meets the targets" if ver["verdict"]["passed"] else "misses the targets"))
    lines += [f"note: {n}" for n in doc["notes"]]
    return "\n".join(lines)


def sweep_table(rows: list[dict[str, Any]], grid: dict[str, list[Any]]) -> list[dict[str, str]]:
    """The sweep's rows as a person reads them: passing first, then by cost; every figure formatted."""
    ordered = sorted(rows, key=lambda r: (not r["passed"], r["cost"]))
    table = []
    for r in ordered:
        row = {"meets targets": "yes" if r["passed"] else "no"}
        row.update({k: fmt_value(k, r[k]) for k in grid})
        row.update({
            "cost": f"{r['cost']:g}",
            "cache hit ratio": fmt_pct(r["hit_overall"]),
            "DB queries/s": f"{r['db_qps']:,.0f}",
            "max DB CPU": (f"{r['db_offered_load_max'] * 100:,.0f} % offered (overloaded)"
                           if r["db_offered_load_max"] >= 1 and r["overloaded"] else fmt_pct(r["db_cpu_max"], 0)),
            "P99": fmt_ms(r["p99_ms"]),
            "stale reads": fmt_pct(r["stale"]),
            "why not": r["reasons"],
        })
        table.append(row)
    return table
