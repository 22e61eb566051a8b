"""What a simulation answers: hit ratios, DB load per node, latency, staleness and a verdict.

Both engines return this one shape, so the CLI, the dashboard and the validation compare like
with like. Hit ratios: ``l1`` = L1 hits / reads; ``l2`` = L2 hits / L2 lookups (the L1 misses);
``overall`` = reads served from any cache / reads (the guide's "cache hit ratio").
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel, Field

from .model import Scenario

__all__ = ["HitRatios", "Interval", "LatencyMs", "NodeLoad", "SimulationResult", "StaleReads", "TypeStats", "Verdict",
           "judge", "node_load", "other_overloaded"]


class HitRatios(BaseModel):
    l1: float
    l2: float
    overall: float


class TypeStats(BaseModel):
    """Per data type: its read rate, hit ratios, the DB reads it causes and its stale reads."""

    reads_per_s: float
    hit_ratio: HitRatios
    db_reads_per_s: float
    stale_read_probability: float


class NodeLoad(BaseModel):
    """One database node (primary or a replica) or the Redis node.

    ``utilisation`` and ``offered_load`` are what *arrives*, so they can exceed 1; a node whose
    utilisation reaches 1 is ``overloaded``: its queue grows for as long as the load lasts, so it
    has no mean wait (None) and its CPU is pinned at 100 %, while ``offered_load`` says by how
    much the work exceeds the cores.
    """

    name: str
    role: str
    queries_per_s: float
    reads_per_s: float = 0.0
    writes_per_s: float = 0.0
    servers: int
    utilisation: float = Field(description="offered load per server (busy time per second / servers)")
    cpu: float = Field(description="CPU share of the node's cores the node would show, at most 1")
    offered_load: float = Field(default=0.0, description="CPU work arriving per second / cores; may exceed 1")
    overloaded: bool = False
    mean_wait_ms: float | None = Field(default=0.0, description="None when overloaded: the wait has no mean")


def node_load(name: str, role: str, *, busy_per_s: float, servers: int, cores: int, cpu_fraction: float,
              mean_wait_s: float, **rates: float) -> NodeLoad:
    """A `NodeLoad` from the busy time arriving per second; both engines build nodes with this."""
    utilisation = busy_per_s / servers
    offered = busy_per_s * cpu_fraction / cores
    overloaded = utilisation >= 1.0
    wait = None if overloaded or not math.isfinite(mean_wait_s) else mean_wait_s * 1000.0
    return NodeLoad(name=name, role=role, servers=servers, utilisation=utilisation, cpu=min(offered, 1.0),
                    offered_load=offered, overloaded=overloaded, mean_wait_ms=wait, **rates)


class Interval(BaseModel):
    """A confidence interval of a trace estimate."""

    low: float
    high: float
    level: float = 0.95
    method: str


class LatencyMs(BaseModel):
    mean: float
    p50: float
    p95: float
    p99: float


class StaleReads(BaseModel):
    """Probability that a read returns a value older than the latest write, and by where it came from."""

    total: float
    from_l1: float
    from_l2: float
    from_db: float


class Verdict(BaseModel):
    """The guide's section 1.2 targets: P99 < 500 ms, cache hit ratio > 90 %, DB CPU < 70 %."""

    p99_ok: bool
    hit_ratio_ok: bool
    db_cpu_ok: bool
    passed: bool
    reasons: list[str]


class SimulationResult(BaseModel):
    engine: str
    scenario: str
    reads_per_s: float
    writes_per_s: float
    simulated_requests: int = Field(description="events the trace engine replayed (0 for analytic)")
    hit_ratio: HitRatios
    by_type: dict[str, TypeStats]
    db_nodes: list[NodeLoad]
    db_queries_per_s: float
    l2_node: NodeLoad | None
    latency_ms: LatencyMs
    write_latency_ms: LatencyMs | None
    stale_read_probability: StaleReads
    stale_read_interval: Interval | None = Field(
        default=None, description="trace: 95 % interval of stale_read_probability.total (batch means)")
    stale_read_source: str = Field(
        default="", description="'trace', or 'analytic' when the trace saw too few stale reads to estimate")
    p99_interval_ms: Interval | None = Field(default=None, description="trace: 95 % interval of the read P99")
    evictions: dict[str, int] = Field(default_factory=dict)
    verdict: Verdict
    app_overloaded: bool = Field(default=False, description="the app instances' workers cannot keep up")
    runtime_s: float
    notes: list[str] = Field(default_factory=list)

    def to_json(self, indent: int | None = 2) -> str:
        """Strict JSON; an overloaded node's infinite latency is written as null."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())

    @property
    def max_db_cpu(self) -> float:
        return max((n.cpu for n in self.db_nodes), default=0.0)

    @property
    def overloaded_nodes(self) -> list[str]:
        """Names of the nodes (DB, Redis, app) whose offered load reaches their capacity."""
        nodes = [*self.db_nodes, *([self.l2_node] if self.l2_node else [])]
        return [n.name for n in nodes if n.overloaded] + (["app instances"] if self.app_overloaded else [])


def other_overloaded(l2_node: NodeLoad | None, app_overloaded: bool) -> list[str]:
    """The overloaded nodes besides the database, as the verdict names them."""
    out = []
    if l2_node is not None and l2_node.overloaded:
        out.append(f"redis (offered load {l2_node.utilisation * 100:,.0f} %)")
    return out + (["app instances (more work than their workers can do)"] if app_overloaded else [])


def judge(scenario: Scenario, hit: float, p99_ms: float, db_nodes: list[NodeLoad],
          other_overloaded: list[str] | None = None) -> Verdict:
    """Compare the outcome with the scenario's targets.

    An overloaded node is named with its offered load ("offered load 554 %"), never as a CPU
    figure above 100 %, and an unbounded P99 is said in words.
    """
    t = scenario.targets
    cpu = max((n.cpu for n in db_nodes), default=0.0)
    reasons = []
    p99_ok = p99_ms < t.p99_ms
    hit_ok = hit > t.hit_ratio
    cpu_ok = cpu < t.db_cpu
    overloaded = [f"{n.name} (offered load {n.offered_load * 100:,.0f} % of its CPUs)"
                  for n in db_nodes if n.overloaded]
    overloaded += other_overloaded or []
    if overloaded:
        reasons.append(f"overloaded, the queue grows without bound: {', '.join(overloaded)}")
    if not p99_ok:
        reasons.append("P99 unbounded: reads queue at an overloaded node" if math.isinf(p99_ms)
                       else f"P99 {p99_ms:,.1f} ms is not below {t.p99_ms:g} ms")
    if not hit_ok:
        reasons.append(f"cache hit ratio {hit * 100:.1f} % is not above {t.hit_ratio * 100:g} %")
    if not cpu_ok:
        worst = max(db_nodes, key=lambda n: n.offered_load)
        if not worst.overloaded:
            reasons.append(f"DB CPU {worst.cpu * 100:.0f} % on {worst.name} is not below {t.db_cpu * 100:g} %")
    return Verdict(p99_ok=p99_ok, hit_ratio_ok=hit_ok, db_cpu_ok=cpu_ok,
                   passed=p99_ok and hit_ok and cpu_ok, reasons=reasons)


def node_names(replicas: int) -> list[tuple[str, str]]:
    return [("primary", "primary")] + [(f"replica-{i}", "replica") for i in range(1, replicas + 1)]
