"""Sweeps: a grid of configurations, each simulated, and the cheapest one that meets the targets.

The grid is a mapping of dotted scenario paths to value lists (``{"l1.ttl_s": [1, 5, 15],
"db.replicas": [0, 1, 2]}``); the special key ``l2.ttl_scale`` multiplies every data type's L2 TTL.
Every combination becomes one row of a plot-ready table (list of dicts, or a pandas DataFrame)
with its hit ratios, DB load, P99, verdict and relative cost; the recommendation is the
cheapest passing row (ties: fewer stale reads, then lower P99). The analytic engine makes a 100-point grid instant; the
trace engine can confirm the winner (``verify=True``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

from .model import Scenario, ScenarioError, load_scenario
from .result import SimulationResult

__all__ = ["DEFAULT_GRID", "SweepResult", "config_cost", "sweep"]

DEFAULT_GRID: dict[str, list[Any]] = {
    "l1.ttl_s": [1, 5, 15],
    "l2.ttl_scale": [0.5, 1, 2],
    "db.replicas": [0, 1, 2, 4],
    "app.instances": [2, 4, 8, 16],
}


def config_cost(sc: Scenario) -> float:
    """Relative monthly cost: app instances, DB nodes and L2 memory, in the scenario's cost units."""
    c = sc.costs
    return sc.app.instances * c.instance + (1 + sc.db.replicas) * c.db_node + sc.l2.memory_bytes / 1e9 * c.l2_gb


def _apply(sc: Scenario, point: dict[str, Any]) -> Scenario:
    changes = {k: v for k, v in point.items() if k != "l2.ttl_scale"}
    if "l2.ttl_scale" in point:
        scale = float(point["l2.ttl_scale"])
        for name, dt in sc.data_types.items():
            changes[f"data_types.{name}.l2_ttl_s"] = dt.l2_ttl_s * scale
    return sc.with_changes(**changes)


@dataclass
class SweepResult:
    """All grid points as rows, the recommended one, and (optionally) its trace confirmation."""

    rows: list[dict[str, Any]]
    recommended: dict[str, Any] | None
    grid: dict[str, list[Any]]
    engine: str
    verification: SimulationResult | None = None
    notes: list[str] = field(default_factory=list)

    def to_frame(self):  # -> pandas.DataFrame
        import pandas as pd

        return pd.DataFrame(self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "grid": self.grid,
            "recommended": self.recommended,
            "verification": self.verification.to_dict() if self.verification else None,
            "rows": self.rows,
            "notes": self.notes,
        }


def _row(point: dict[str, Any], sc: Scenario, res: SimulationResult) -> dict[str, Any]:
    row: dict[str, Any] = dict(point)
    row.update({
        "cost": round(config_cost(sc), 4),
        "hit_l1": res.hit_ratio.l1,
        "hit_l2": res.hit_ratio.l2,
        "hit_overall": res.hit_ratio.overall,
        "db_qps": res.db_queries_per_s,
        "db_cpu_max": res.max_db_cpu,
        "p50_ms": res.latency_ms.p50,
        "p99_ms": res.latency_ms.p99,
        "stale": res.stale_read_probability.total,
        "passed": res.verdict.passed,
        "reasons": "; ".join(res.verdict.reasons),
    })
    return row


def sweep(scenario: Scenario | dict[str, Any] | str, grid: dict[str, list[Any]] | None = None,
          engine: Literal["analytic", "trace"] = "analytic", verify: bool = False,
          max_points: int = 2000) -> SweepResult:
    """Simulate every grid point and recommend the cheapest configuration meeting the targets."""
    from . import simulate

    base = load_scenario(scenario)
    grid = {k: list(v) for k, v in (grid or DEFAULT_GRID).items()}
    if not grid or any(not v for v in grid.values()):
        raise ScenarioError("sweep grid: every key needs at least one value")
    size = 1
    for values in grid.values():
        size *= len(values)
    if size > max_points:
        raise ScenarioError(f"sweep grid has {size} points; the limit is {max_points}")
    rows = []
    for combo in itertools.product(*grid.values()):
        point = dict(zip(grid.keys(), combo, strict=True))
        sc = _apply(base, point)
        rows.append(_row(point, sc, simulate(sc, engine=engine)))
    passing = [r for r in rows if r["passed"]]
    best = min(passing, key=lambda r: (r["cost"], r["stale"], r["p99_ms"])) if passing else None
    notes = [] if best else ["no configuration in the grid meets all targets"]
    verification = None
    if best is not None and verify and engine != "trace":
        point = {k: best[k] for k in grid}
        verification = simulate(_apply(base, point), engine="trace")
        if not verification.verdict.passed:
            notes.append("the trace engine does not confirm the recommendation: "
                         + "; ".join(verification.verdict.reasons))
    return SweepResult(rows=rows, recommended=best, grid=grid, engine=engine, verification=verification,
                       notes=notes)
