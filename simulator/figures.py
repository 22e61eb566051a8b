"""Plotly figures of simulation results and sweeps, for the dashboard's simulator page.

Kept beside the simulator (not in the dashboard) so the pictures are built by code that tests
can call, and the page only lays them out.
"""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from .result import SimulationResult

LEGEND_ABOVE = {"orientation": "h", "y": 1.0, "yanchor": "bottom"}
TIER_COLOURS = {"L1": "#1565c0", "L2": "#2e7d32", "DB": "#c62828"}


def served_by_figure(results: dict[str, SimulationResult]) -> go.Figure:
    """Where reads are served (L1, L2, database) per data type, one group of bars per engine."""
    fig = go.Figure()
    for engine, res in results.items():
        types = list(res.by_type)
        l1 = [res.by_type[t].hit_ratio.l1 * 100 for t in types]
        l2 = [(1 - res.by_type[t].hit_ratio.l1) * res.by_type[t].hit_ratio.l2 * 100 for t in types]
        db = [100 - a - b for a, b in zip(l1, l2, strict=True)]
        x = [[engine] * len(types), types] if len(results) > 1 else types
        for tier, values in (("L1", l1), ("L2", l2), ("DB", db)):
            fig.add_bar(x=x, y=values, name=tier, marker_color=TIER_COLOURS[tier], legendgroup=tier,
                        showlegend=engine == next(iter(results)))
    fig.update_layout(barmode="stack", yaxis={"title": "% of reads", "range": [0, 100]}, height=330,
                      margin={"l": 10, "r": 10, "t": 60, "b": 30}, legend=LEGEND_ABOVE,
                      title={"text": "Reads served by tier", "x": 0, "font": {"size": 14}})
    return fig


def db_load_figure(result: SimulationResult, cpu_target: float) -> go.Figure:
    """Queries/s and CPU per database node, with the guide's CPU target as a legend entry (not an
    annotation that can sit on a bar). An overloaded node's bar is red and its hover says the
    offered load; its CPU point sits at 100 %, the most a CPU can show."""
    names = [n.name for n in result.db_nodes]
    fig = go.Figure()
    fig.add_bar(x=names, y=[n.queries_per_s for n in result.db_nodes], name="queries/s", yaxis="y",
                marker_color=["#c62828" if n.overloaded else "#6d4c41" for n in result.db_nodes],
                customdata=[f"overloaded: offered load {n.offered_load * 100:,.0f} % of its CPUs" if n.overloaded
                            else f"CPU {n.cpu * 100:.0f} %" for n in result.db_nodes],
                hovertemplate="%{x}: %{y:,.0f} queries/s<br>%{customdata}<extra></extra>")
    fig.add_scatter(x=names, y=[n.cpu * 100 for n in result.db_nodes], name="CPU %", mode="markers+lines",
                    marker={"size": 10, "color": "#ef6c00"}, yaxis="y2", hovertemplate="%{y:.0f} %<extra></extra>")
    target_line = {"dash": "dot", "color": "#ef6c00"}
    fig.add_shape(type="line", xref="paper", x0=0, x1=1, yref="y2", y0=cpu_target * 100, y1=cpu_target * 100,
                  line=target_line)  # across the whole plot, one node or many
    fig.add_scatter(x=[None], y=[None], name=f"CPU target {cpu_target * 100:g} %", mode="lines",
                    line=target_line, yaxis="y2", hoverinfo="skip")  # its legend entry
    fig.update_layout(yaxis={"title": "queries/s", "rangemode": "tozero", "tickformat": ",.0f"},
                      yaxis2={"title": "CPU %", "overlaying": "y", "side": "right", "range": [0, 105],
                              "tickmode": "array", "tickvals": [0, 25, 50, 75, 100], "showgrid": False},
                      height=330, margin={"l": 10, "r": 10, "t": 60, "b": 30}, legend=LEGEND_ABOVE,
                      title={"text": "Database load per node", "x": 0, "font": {"size": 14}})
    return fig


def sweep_figure(rows: list[dict[str, Any]], p99_target: float) -> go.Figure:
    """Every configuration of a sweep: cost against P99, passing ones green, the target a legend entry.

    A configuration with an overloaded queue has no P99; it is drawn as a cross on a band above
    the others, labelled "overloaded", never at a made-up latency.
    """
    finite = [r["p99_ms"] for r in rows if r["p99_ms"] is not None]
    top = max([*finite, p99_target]) * 3
    fig = go.Figure()
    groups = (
        ("meets targets", "#2e7d32", "circle", [r for r in rows if r["passed"]]),
        ("misses a target", "#c62828", "circle", [r for r in rows if not r["passed"] and r["p99_ms"] is not None]),
        ("overloaded (P99 unbounded)", "#757575", "x", [r for r in rows if r["p99_ms"] is None]),
    )
    for label, colour, symbol, pts in groups:
        if not pts:
            continue
        fig.add_scatter(
            x=[r["cost"] for r in pts], y=[top if r["p99_ms"] is None else r["p99_ms"] for r in pts],
            mode="markers", name=label, marker={"color": colour, "size": 9, "opacity": 0.8, "symbol": symbol},
            text=[_point_label(r) for r in pts], hovertemplate="%{text}<extra></extra>",
        )
    costs = [r["cost"] for r in rows]
    fig.add_scatter(x=[min(costs), max(costs)], y=[p99_target, p99_target], mode="lines", hoverinfo="skip",
                    name=f"P99 target {p99_target:g} ms", line={"dash": "dot", "color": "#424242"})
    band = top if len(finite) < len(rows) else None
    fig.update_layout(xaxis={"title": "relative monthly cost"},
                      yaxis={"title": "P99", "type": "log", **_log_ticks(min([*finite, p99_target]), top / 3, band)},
                      height=400,
                      margin={"l": 10, "r": 10, "t": 60, "b": 40}, legend=LEGEND_ABOVE,
                      title={"text": "Configurations: cost against P99", "x": 0, "font": {"size": 14}})
    return fig


def _log_ticks(low: float, high: float, band: float | None = None) -> dict[str, Any]:
    """1-2-5 ticks labelled in ms/s between low and high (plotly's own log ticks label every minor
    step and the labels run into each other), and the overloaded band labelled as such: it is a
    place on the chart, not a latency."""
    from .summary import fmt_ms

    low = max(low, 1e-3)
    values = [m * 10.0**e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
              for m in (1, 2, 5) if low / 2 <= m * 10.0**e <= high * 1.5]
    text = [fmt_ms(v) for v in values]
    if band is not None:
        values.append(band)
        text.append("overloaded")
    top = band if band is not None else high
    return {"tickmode": "array", "tickvals": values, "ticktext": text,
            "range": [math.log10(low / 1.5), math.log10(top * 1.6)]}


def _point_label(row: dict[str, Any]) -> str:
    from .summary import fmt_ms, fmt_pct, fmt_value

    knobs = ", ".join(f"{k} = {fmt_value(k, row[k])}" for k in row if "." in k)
    return (f"{knobs}<br>cost {row['cost']:g}, hit ratio {fmt_pct(row['hit_overall'])}, "
            f"P99 {fmt_ms(row['p99_ms'])}")
