"""Sweeps: a grid of configurations, each simulated, and the cheapest one that meets the targets.

The grid is a mapping of dotted scenario paths to value lists (``{"l2.memory_bytes": [1e9, 4e9],
"db.replicas": [0, 1, 2]}``); any numeric or on/off field of the scenario can be an axis
(`sweep_knobs` lists them), and the special key ``l2.ttl_scale`` multiplies every data type's L2
TTL. Every combination becomes one row of a plot-ready table with its hit ratios, DB load, P99,
verdict and relative cost; the recommendation is the cheapest passing row (ties: fewer stale
reads, then lower P99). Without a grid, `default_grid` varies what capacity is bought with:
Redis memory (up to the whole data set), read replicas and app instances.

Speed: the analytic engine's cost is solving the cache tiers, and most axes (replicas, cores,
service times, targets) leave the tiers alone; `tiers.solve_tiers` keeps solved tier setups, so
a grid costs one tier solve per distinct cache setup, not per point (bench/bench_sweep.py).
The trace engine can confirm the winner (``verify=True``).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .model import Scenario, ScenarioError, load_scenario
from .result import SimulationResult

__all__ = ["SweepResult", "config_cost", "default_grid", "parse_values", "sweep", "sweep_knobs"]

TTL_SCALE = "l2.ttl_scale"
_NOT_KNOBS = {"name", "seed", "warm_start"}

Progress = Callable[[int, int], None]
"""called as ``progress(done, total)`` after each grid point"""


def sweep_knobs(sc: Scenario) -> dict[str, Any]:
    """Every field a sweep can vary, as dotted path -> current value: numbers, on/off switches,
    choices (a service-time law's ``dist``, ``invalidation.l1``), the laws' parameters; plus
    ``l2.ttl_scale`` (1.0). Not the name, the seed or the endpoint list."""
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else key, value)
        elif isinstance(node, bool | int | float | str) and prefix.split(".")[0] not in _NOT_KNOBS:
            out[prefix] = node

    walk("", sc.model_dump(exclude={"endpoints"}))
    out[TTL_SCALE] = 1.0
    return out


_UNITS = {"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}
_UNIT_VALUE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(kb|mb|gb|tb)\s*$", re.IGNORECASE)


def parse_values(text: str) -> list[Any]:
    """An axis's values from "V1, V2, ...": JSON numbers and true/false, on/off, memory sizes
    such as "512 MB" or "4.5GB"; anything else stays a string (the scenario's validation then
    names it)."""
    values: list[Any] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        unit = _UNIT_VALUE.match(item)
        if unit:
            values.append(float(unit.group(1)) * _UNITS[unit.group(2).lower()])
        elif item.lower() in {"on", "off"}:
            values.append(item.lower() == "on")
        else:
            try:
                values.append(json.loads(item))
            except json.JSONDecodeError:
                values.append(item)
    return values


def _round_bytes(value: float) -> float:
    """A memory size rounded to what one would buy: 10 MB steps below 1 GB, 100 MB above."""
    step = 1e7 if value < 1e9 else 1e8
    return max(step, round(value / step) * step)


def default_grid(sc: Scenario) -> dict[str, list[Any]]:
    """Capacity axes around the scenario: a cache tier that is off is tried on, Redis memory from
    its own size up to the whole data set (a quarter, half and all of the values), 0/1/2/4 read
    replicas, half/same/double instances."""
    data_bytes = sum(dt.keys * dt.value_bytes for dt in sc.data_types.values())
    memory = {_round_bytes(data_bytes * f) for f in (0.25, 0.5, 1.0)}
    if sc.l2.enabled:
        memory.add(_round_bytes(sc.l2.memory_bytes))
    instances = {max(1, sc.app.instances // 2), sc.app.instances, min(1000, sc.app.instances * 2)}
    grid: dict[str, list[Any]] = {}
    if not sc.l1.enabled:
        grid["l1.enabled"] = [False, True]
    if not sc.l2.enabled:
        grid["l2.enabled"] = [False, True]
    grid["l2.memory_bytes"] = sorted(memory)
    grid["db.replicas"] = sorted({0, 1, 2, 4, sc.db.replicas})
    grid["app.instances"] = sorted(instances)
    return grid


def config_cost(sc: Scenario) -> float:
    """Relative monthly cost: app instances, DB nodes and L2 memory, in the scenario's cost units."""
    c = sc.costs
    l2_gb = sc.l2.memory_bytes / 1e9 if sc.l2.enabled else 0.0
    return sc.app.instances * c.instance + (1 + sc.db.replicas) * c.db_node + l2_gb * c.l2_gb


def _apply(sc: Scenario, point: dict[str, Any]) -> Scenario:
    changes = {k: v for k, v in point.items() if k != TTL_SCALE}
    if TTL_SCALE in point:
        scale = float(point[TTL_SCALE])
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
    runtime_s: float = 0.0

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
            "runtime_s": self.runtime_s,
        }


def _finite(x: float) -> float | None:
    """JSON-safe: an unbounded figure (an overloaded queue) is None, never a stand-in number."""
    return None if x != x or x in (float("inf"), float("-inf")) else x


def _row(point: dict[str, Any], sc: Scenario, res: SimulationResult) -> dict[str, Any]:
    row: dict[str, Any] = dict(point)
    row.update({
        "cost": round(config_cost(sc), 4),
        "hit_l1": res.hit_ratio.l1,
        "hit_l2": res.hit_ratio.l2,
        "hit_overall": res.hit_ratio.overall,
        "db_qps": res.db_queries_per_s,
        "db_cpu_max": res.max_db_cpu,
        "db_offered_load_max": max((n.offered_load for n in res.db_nodes), default=0.0),
        "overloaded": ", ".join(res.overloaded_nodes),
        "p50_ms": _finite(res.latency_ms.p50),
        "p99_ms": _finite(res.latency_ms.p99),
        "stale": res.stale_read_probability.total,
        "passed": res.verdict.passed,
        "reasons": "; ".join(res.verdict.reasons),
    })
    return row


def _check_knobs(sc: Scenario, grid: dict[str, list[Any]]) -> None:
    """An axis that is not a knob of the scenario: one line naming the closest knob and all of them."""
    import difflib

    knobs = sweep_knobs(sc)
    for key in grid:
        if key not in knobs:
            close = difflib.get_close_matches(key, list(knobs), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ScenarioError(f"unknown scenario field {key!r} for a sweep; {hint}knobs: {', '.join(knobs)}")


def _grid_size(grid: dict[str, list[Any]]) -> int:
    size = 1
    for values in grid.values():
        size *= len(values)
    return size


def _rank(row: dict[str, Any]) -> tuple[float, float, float]:
    return row["cost"], row["stale"], row["p99_ms"] if row["p99_ms"] is not None else float("inf")


def sweep(scenario: Scenario | dict[str, Any] | str, grid: dict[str, list[Any]] | None = None,
          engine: Literal["analytic", "trace"] = "analytic", verify: bool = False,
          max_points: int = 2000, progress: Progress | None = None) -> SweepResult:
    """Simulate every grid point and recommend the cheapest configuration meeting the targets.

    ``progress(done, total)`` is called after each point (the dashboard turns it into a bar).
    """
    import time

    from . import simulate

    started = time.perf_counter()
    base = load_scenario(scenario)
    grid = {k: list(v) for k, v in (grid or default_grid(base)).items()}
    if not grid or any(not v for v in grid.values()):
        raise ScenarioError("sweep grid: every key needs at least one value")
    _check_knobs(base, grid)
    size = _grid_size(grid)
    if size > max_points:
        raise ScenarioError(f"sweep grid has {size} points; the limit is {max_points}")
    points = [dict(zip(grid.keys(), combo, strict=True)) for combo in itertools.product(*grid.values())]
    scenarios = [_apply(base, point) for point in points]  # every point validated before any runs
    rows = []
    for done, (point, sc) in enumerate(zip(points, scenarios, strict=True), start=1):
        rows.append(_row(point, sc, simulate(sc, engine=engine)))
        if progress is not None:
            progress(done, size)
    passing = [r for r in rows if r["passed"]]
    best = min(passing, key=_rank) if passing else None
    notes = [] if best else ["no configuration in the grid meets all targets"]
    verification = None
    if best is not None and verify and engine != "trace":
        verification = simulate(_apply(base, {k: best[k] for k in grid}), engine="trace")
        if not verification.verdict.passed:
            notes.append("the trace engine does not confirm the recommendation: "
                         + "; ".join(verification.verdict.reasons))
    return SweepResult(rows=rows, recommended=best, grid=grid, engine=engine, verification=verification,
                       notes=notes, runtime_s=time.perf_counter() - started)
