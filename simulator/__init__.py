"""What-if simulator for tiered caches and read replicas at 100K+ users.

``simulate(scenario, engine="trace"|"analytic")`` answers one scenario (a `Scenario`, a dict or
a YAML/JSON path) with a `SimulationResult`; ``sweep(...)`` grids any of the scenario's knobs (by
default Redis memory x replicas x instances) and recommends the cheapest configuration meeting
the guide's targets. Two engines give one answer:

* ``trace``: numpy draws every request (Poisson arrivals, endpoint mix, Zipf keys by inverse CDF),
  a numba loop replays them through L1 (per instance) and L2 (TTL, LRU size limit, invalidation,
  replica lag), and every node is a FCFS queue replayed with the Lindley recursion;
* ``analytic``: closed forms - TTL hit ratios with invalidation, Che's approximation for size
  limits (with the L1-miss streams treated as renewal streams, not Poisson), Erlang C queues.

Tests hold the two within 0.5 points per tier on long runs, and bench/validate_simulator.py
compares them with the reference service under the open-loop load generator.

Honest figures: the trace's P99 and stale-read share carry 95 % intervals (`uncertainty`, batch
means); where stale reads come from too few independent episodes the trace reports the analytic
expectation with a note. A node whose offered load reaches its capacity is ``overloaded`` in
both engines: its latency is unbounded (inf in Python, null in JSON), its CPU shows 100 % and
``offered_load`` says by how much it is short. `summary` turns results into readable text (the
CLI's default output) and the dashboard's figures.

Example::

    from simulator import simulate, sweep
    res = simulate("data/simulator/100k-users.yaml", engine="analytic")
    res.hit_ratio.overall, res.db_nodes[1].queries_per_s, res.latency_ms.p99, res.verdict.passed
    print(res.to_json())
    table = sweep("data/simulator/100k-users.yaml", grid={"db.replicas": [0, 1, 2]}).to_frame()

Scenario files: see data/simulator/*.yaml and data/simulator/scenario.schema.json.
Service times can be measured instead of guessed: ``calibrate.calibrate_service(url)`` (the CLI's
``scaleready calibrate URL``) drives a running reference service and returns them as scenario
overrides (``simulate --calibration FILE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from .model import Scenario, ScenarioError, load_scenario
from .result import SimulationResult
from .sweep import SweepResult, default_grid, sweep, sweep_knobs

__all__ = ["Scenario", "ScenarioError", "SimulationResult", "SweepResult", "default_grid", "load_scenario",
           "simulate", "sweep", "sweep_knobs"]


def simulate(scenario: Scenario | dict[str, Any] | str | Path,
             engine: Literal["trace", "analytic"] = "trace") -> SimulationResult:
    """Run one scenario with the chosen engine."""
    sc = load_scenario(scenario)
    if engine == "trace":
        from .trace import run_trace
        return run_trace(sc)
    if engine == "analytic":
        from .analytic import run_analytic
        return run_analytic(sc)
    raise ScenarioError(f"unknown engine {engine!r} (use 'trace' or 'analytic')")
