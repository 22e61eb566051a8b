"""What-if simulator for tiered caches and read replicas at 100K+ users.

``simulate(scenario, engine="trace"|"analytic")`` answers one scenario (a `Scenario`, a dict or
a YAML/JSON path) with a `SimulationResult`; ``sweep(...)`` grids TTLs x replicas x instances and
recommends the cheapest configuration meeting the guide's targets. Two engines give one answer:
a trace-driven simulation (numpy sampling, a numba cache loop, FCFS queue recursions) and closed
forms (TTL/Che hit ratios, Erlang C); tests hold them within 0.5 points of each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from .model import Scenario, ScenarioError, load_scenario
from .result import SimulationResult
from .sweep import DEFAULT_GRID, SweepResult, sweep

__all__ = ["DEFAULT_GRID", "Scenario", "ScenarioError", "SimulationResult", "SweepResult", "load_scenario",
           "simulate", "sweep"]


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

