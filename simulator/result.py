"""What a simulation answers: hit ratios, DB load per node, latency, staleness and a verdict.

Both engines return this one shape, so the CLI, the dashboard and the validation compare like
with like. Hit ratios: ``l1`` = L1 hits / reads; ``l2`` = L2 hits / L2 lookups (the L1 misses);
``overall`` = reads served from any cache / reads (the guide's "cache hit ratio").
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from .model import Scenario

__all__ = ["HitRatios", "LatencyMs", "NodeLoad", "SimulationResult", "StaleReads", "TypeStats", "Verdict"]


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
    """One database node (primary or a replica) or the Redis node."""

    name: str
    role: str
    queries_per_s: float
    reads_per_s: float = 0.0
    writes_per_s: float = 0.0
    servers: int
    utilisation: float
    cpu: float = Field(description="CPU share of the node's cores (DB nodes)")
    mean_wait_ms: float = 0.0


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
    evictions: dict[str, int] = Field(default_factory=dict)
    verdict: Verdict
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


def judge(scenario: Scenario, hit: float, p99_ms: float, db_nodes: list[NodeLoad]) -> Verdict:
    """Compare the outcome with the scenario's targets."""
    t = scenario.targets
    cpu = max((n.cpu for n in db_nodes), default=0.0)
    reasons = []
    p99_ok = p99_ms < t.p99_ms
    hit_ok = hit > t.hit_ratio
    cpu_ok = cpu < t.db_cpu
    overloaded = [n.name for n in db_nodes if n.utilisation >= 1.0]
    if overloaded:
        reasons.append(f"overloaded (utilisation >= 100 %): {', '.join(overloaded)}")
    if not p99_ok:
        reasons.append(f"P99 {p99_ms:.1f} ms is not below {t.p99_ms:g} ms")
    if not hit_ok:
        reasons.append(f"cache hit ratio {hit:.1%} is not above {t.hit_ratio:.0%}")
    if not cpu_ok:
        worst = max(db_nodes, key=lambda n: n.cpu)
        reasons.append(f"DB CPU {cpu:.0%} on {worst.name} is not below {t.db_cpu:.0%}")
    return Verdict(p99_ok=p99_ok, hit_ratio_ok=hit_ok, db_cpu_ok=cpu_ok,
                   passed=p99_ok and hit_ok and cpu_ok, reasons=reasons)


def node_names(replicas: int) -> list[tuple[str, str]]:
    return [("primary", "primary")] + [(f"replica-{i}", "replica") for i in range(1, replicas + 1)]
