"""Plotly figures of simulation results and sweeps, for the dashboard's simulator page.

Kept beside the simulator (not in the dashboard) so the pictures are built by code that tests
can call, and the page only lays them out.
"""

from __future__ import annotations

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
    """Queries/s and CPU per database node, with the guide's CPU line."""
    names = [n.name for n in result.db_nodes]
    fig = go.Figure()
    fig.add_bar(x=names, y=[n.queries_per_s for n in result.db_nodes], name="queries/s", marker_color="#6d4c41",
                yaxis="y")
    fig.add_scatter(x=names, y=[n.cpu * 100 for n in result.db_nodes], name="CPU %", mode="markers+lines",
                    marker={"size": 10, "color": "#c62828"}, yaxis="y2")
    fig.add_hline(y=cpu_target * 100, line_dash="dot", line_color="#c62828", yref="y2",
                  annotation_text=f"CPU target {cpu_target:.0%}")
    fig.update_layout(yaxis={"title": "queries/s"},
                      yaxis2={"title": "CPU %", "overlaying": "y", "side": "right", "range": [0, 100]},
                      height=330, margin={"l": 10, "r": 10, "t": 60, "b": 30}, legend=LEGEND_ABOVE,
                      title={"text": "Database load per node", "x": 0, "font": {"size": 14}})
    return fig


def sweep_figure(rows: list[dict[str, Any]], p99_target: float) -> go.Figure:
    """Every configuration of a sweep: cost against P99, passing ones green, the target as a line."""
    fig = go.Figure()
    for passed, colour, label in ((True, "#2e7d32", "meets targets"), (False, "#c62828", "misses a target")):
        pts = [r for r in rows if r["passed"] is passed]
        fig.add_scatter(
            x=[r["cost"] for r in pts], y=[min(r["p99_ms"] or 1e4, 1e4) for r in pts], mode="markers", name=label,
            marker={"color": colour, "size": 9, "opacity": 0.8},
            text=[", ".join(f"{k}={r[k]}" for k in r if "." in k) for r in pts], hovertemplate="%{text}<extra></extra>",
        )
    fig.add_hline(y=p99_target, line_dash="dot", annotation_text=f"P99 target {p99_target:g} ms")
    fig.update_layout(xaxis={"title": "relative monthly cost"}, yaxis={"title": "P99 ms", "type": "log"}, height=380,
                      margin={"l": 10, "r": 10, "t": 30, "b": 40}, legend={"orientation": "h", "y": 1.1})
    return fig
