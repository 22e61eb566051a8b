"""Calibrate the simulator's service times from a running reference service.

A scenario's latency answer is only as good as its service times. Rather than guessing them,
``calibrate_service(url)`` drives the reference service (``scaleready refservice``) with the
open-loop load generator and reads what it cost, from the service's own ``/metrics``:

* CPU per request from ``process_cpu_seconds_total``, split into the L1-hit fast path (a run
  on one hot key, every request an L1 hit) and everything else (a run over the key space);
* statements per write from ``db_queries_total`` (the primary's count, its reads taken out);
* optionally the Redis round trip and a PostgreSQL primary-key read, timed directly when their
  URLs are given (``redis_url``, ``database_url``); without them the scenario keeps its own
  values (right for the embedded default, whose SQLite reads and in-process L2 are already
  inside the CPU per request);
* the spread of the service time (lognormal cv) and the client overhead: the two values that
  make the simulator reproduce the calibration run's own P50 and P99.

The result becomes scenario overrides (`Calibration.overrides`) that ``scaleready simulate
--calibration FILE`` merges into any scenario. bench/validate_simulator.py shows how close the
calibrated simulator comes to the service at other loads.

Calibration sends writes (``PUT /products/{id}``) when ``write_ratio`` > 0: point it at the
reference service, never at a production system.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from .model import Scenario, ScenarioError, load_scenario
from .result import SimulationResult

__all__ = ["Calibration", "apply_calibration", "calibrate_service", "expected_cpu_ms", "fit_latency",
           "refservice_scenario"]

_METRICS = ("process_cpu_seconds_total", "cache_hits_total", "db_queries_total", "http_requests_total",
            "python_gc_pause_seconds_count", "python_gc_pause_seconds_sum", "python_gc_promoted_objects_total",
            "python_gc_long_lived_objects")
Metrics = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Calibration:
    """Service times measured on the reference service, in the scenario's units (ms)."""

    rate: float
    app_hit_cpu_ms: float
    app_cpu_ms: float
    statements_per_write: float
    redis_rtt_ms: float | None = None  # None: not timed; the scenario keeps its own
    pg_read_ms: float | None = None
    app_rtt_ms: float = 0.0
    app_cpu_cv: float = 1.0
    cal_p50_ms: float = 0.0
    cal_p99_ms: float = 0.0
    fit_p99_ms: float = 0.0  # the fitted model's own P99 on the calibration traces (0: not fitted)

    @property
    def fit_reproduces(self) -> bool:
        """Whether the fit reproduces the calibration run's P99 within 1.5x. A run with a stall the
        spread cannot explain (the cv search ends at its bound) does not: say so rather than pass."""
        return self.fit_p99_ms > 0 and self.cal_p99_ms > 0 and 1 / 1.5 <= self.fit_p99_ms / self.cal_p99_ms <= 1.5

    def overrides(self) -> dict[str, Any]:
        """The scenario fragment these numbers stand for (merged over a scenario's own values)."""
        cv = self.app_cpu_cv
        out: dict[str, Any] = {
            "app": {"rtt_ms": self.app_rtt_ms,
                    "service": {"mean_ms": self.app_cpu_ms, "dist": "lognormal", "cv": cv},
                    "hit_service": {"mean_ms": self.app_hit_cpu_ms, "dist": "lognormal", "cv": cv}},
            "db": {"queries_per_write": self.statements_per_write},
        }
        if self.redis_rtt_ms is not None:
            out["l2"] = {"rtt_ms": self.redis_rtt_ms}
        if self.pg_read_ms is not None:
            out["db"]["read"] = {"mean_ms": self.pg_read_ms, "dist": "exp"}
            out["db"]["write"] = {"mean_ms": self.pg_read_ms * self.statements_per_write, "dist": "exp"}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"calibration": asdict(self), "overrides": self.overrides()}


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` laid over ``base`` key by key (nested dicts merged, anything else replaced)."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def apply_calibration(scenario: Scenario, doc: Any) -> Scenario:
    """``scenario`` with a calibration document's ``overrides`` laid over it (what ``scaleready
    calibrate`` writes); `ScenarioError` when ``doc`` is not one or the result is not a valid scenario."""
    if not isinstance(doc, dict) or not isinstance(doc.get("overrides"), dict):
        raise ScenarioError("not a calibration file (no 'overrides' mapping); make one with scaleready calibrate")
    return load_scenario(merge(scenario.model_dump(), doc["overrides"]))


def refservice_scenario(cal: Calibration, *, rate: float, duration_s: float, keys: int, write_ratio: float,
                        replicas: int = 0, l1_ttl_s: float = 5.0, product_ttl_s: float = 3600.0, zipf: float = 1.0,
                        seed: int = 7, cpu_scale: float = 1.0) -> Scenario:
    """The reference service under the load generator's workload (GET /products/{id}, Zipf keys,
    a share of PUT writes), one instance, caches starting empty as a fresh service's do.
    ``cpu_scale`` stretches the CPU times for a run in which the host ran slower (or faster)."""
    scaled = replace(cal, app_cpu_ms=cal.app_cpu_ms * cpu_scale, app_hit_cpu_ms=cal.app_hit_cpu_ms * cpu_scale)
    base = {
        "name": f"refservice-{rate:g}rps-{replicas}rep", "users": rate * (1 - write_ratio), "requests_per_user_s": 1.0,
        "duration_s": duration_s, "warmup_s": 0, "seed": seed, "warm_start": False,
        "data_types": {"product": {"keys": keys, "zipf": zipf, "l2_ttl_s": product_ttl_s,
                                   "writes_per_s": rate * write_ratio, "write_skew": "same", "value_bytes": 400}},
        "endpoints": [{"name": "GET /products/{id}", "weight": 1, "data_type": "product"}],
        "app": {"instances": 1, "workers": 1},
        "l1": {"ttl_s": l1_ttl_s, "max_entries": 10_000},
        # Redis and database times not timed directly are inside the CPU per request (the embedded
        # default's in-process L2 and SQLite): zero here, replaced by the measurements when there are.
        "l2": {"memory_bytes": 1e12, "rtt_ms": 0.0, "service": {"mean_ms": 0.01, "dist": "exp"}},
        "invalidation": {"enabled": True, "l1": "local"},
        "db": {"replicas": replicas, "cores_per_node": 2, "pool_per_instance": 8, "rtt_ms": 0.0,
               "read": {"mean_ms": 0.0, "dist": "exp"}, "write": {"mean_ms": 0.0, "dist": "exp"},
               "lag": {"mean_ms": 1.0, "dist": "exp"}},
    }
    return load_scenario(merge(base, scaled.overrides()))


def expected_cpu_ms(cal: Calibration, hit_l1: float, write_ratio: float) -> float:
    """CPU per request the calibration implies at this L1 hit ratio: reads answered from L1 take the
    fast path, other reads and all writes the full one (as the calibration split them)."""
    reads = (1 - write_ratio) * (hit_l1 * cal.app_hit_cpu_ms + (1 - hit_l1) * cal.app_cpu_ms)
    return reads + write_ratio * cal.app_cpu_ms


def realisations(sc: Scenario, seeds: int) -> list[SimulationResult]:
    """``seeds`` trace runs of one scenario (seeds 1000 apart): one short trace is as noisy as one
    measured run, so predictions and fits average several."""
    from . import simulate

    return [simulate(sc.model_copy(update={"seed": sc.seed + 1000 * i}), engine="trace") for i in range(seeds)]


def read_hits(before: Metrics, after: Metrics, *, writes: int, duration_s: float,
              l1_ttl_s: float) -> tuple[float, float]:
    """The reads' own L1 and L2 hits between two scrapes. Every write first looks its session up
    through the same cache (an L1 hit, except about once per L1 TTL when it comes from L2): those
    lookups are taken out."""
    session_l2 = min(writes, math.ceil(duration_s / l1_ttl_s) + 1) if writes else 0
    return (delta(before, after, "cache_hits_total", tier="l1") - (writes - session_l2),
            delta(before, after, "cache_hits_total", tier="l2") - session_l2)


def full_path_cpu_ms(total_cpu_ms: float, requests: int, read_l1_hits: float, hit_cpu_ms: float) -> float:
    """CPU per request of everything but the L1 fast path: the total, less the L1 hits at the fast
    path's cost (measured apart), shared by the other requests."""
    return max(hit_cpu_ms, (total_cpu_ms - read_l1_hits * hit_cpu_ms) / max(1.0, requests - read_l1_hits))


def fit_latency(cal: Calibration, p50_ms: float, p99_ms: float, build: Callable[[Calibration], Scenario],
                seeds: int = 3) -> Calibration:
    """Choose the service-time cv (0.1 .. 3.0) and client overhead with which the simulator reproduces
    a measured P50 and P99: the overhead closes the P50 gap, the cv the remaining P99 gap."""
    best: tuple[float, float, float, float] | None = None
    for cv in np.round(np.arange(0.1, 3.01, 0.1), 2):
        runs = realisations(build(replace(cal, app_cpu_cv=float(cv), app_rtt_ms=0.0)), seeds)
        sim_p50 = float(np.mean([r.latency_ms.p50 for r in runs]))
        sim_p99 = float(np.mean([r.latency_ms.p99 for r in runs]))
        rtt = max(0.0, p50_ms - sim_p50)
        err = abs(sim_p99 + rtt - p99_ms)
        if best is None or err < best[0]:
            best = (err, float(cv), rtt, sim_p99 + rtt)
    assert best is not None
    return replace(cal, app_cpu_cv=best[1], app_rtt_ms=best[2], cal_p50_ms=p50_ms, cal_p99_ms=p99_ms,
                   fit_p99_ms=best[3])


def scrape(url: str) -> Metrics:
    """The counters calibration reads, keyed by (name, sorted labels)."""
    text = httpx.get(url.rstrip("/") + "/metrics", timeout=10).text
    out: Metrics = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in _METRICS:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    if ("process_cpu_seconds_total", ()) not in out:
        raise ValueError(f"{url}/metrics has no process_cpu_seconds_total: is it the reference service?")
    return out


def delta(before: Metrics, after: Metrics, name: str, **labels: str) -> float:
    """How much the counters named ``name`` (with these labels) grew between two scrapes."""
    total = 0.0
    for (n, lab), value in after.items():
        if n == name and all(dict(lab).get(k) == v for k, v in labels.items()):
            total += value - before.get((n, lab), 0.0)
    return total


def redis_rtt_ms(redis_url: str, n: int = 2000) -> float:
    """Mean round trip of a GET on a missing key: the L2 lookup's fixed cost."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.get("scaleready:calibrate:warm")
    started = time.perf_counter()
    for i in range(n):
        client.get(f"scaleready:calibrate:missing:{i % 50}")
    return (time.perf_counter() - started) / n * 1000


def pg_read_ms(database_url: str, keys: int, n: int = 2000) -> float:
    """Mean time of the service's product read by primary key (read-only)."""
    import psycopg

    async def go() -> float:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            ids = np.random.default_rng(3).integers(1, keys + 1, n)
            query = "SELECT * FROM products WHERE id = %s AND deleted_at IS NULL"
            await conn.execute(query, (1,))
            started = time.perf_counter()
            for pid in ids:
                await (await conn.execute(query, (int(pid),))).fetchone()
            return (time.perf_counter() - started) / n * 1000

    return asyncio.run(go())


def calibrate_service(url: str, *, rate: float = 200.0, duration_s: float = 20.0, keys: int = 1000,
                      write_ratio: float = 0.02, zipf: float = 1.0, l1_ttl_s: float = 5.0,
                      product_ttl_s: float = 3600.0, redis_url: str | None = None, database_url: str | None = None,
                      seed: int = 1) -> Calibration:
    """Drive the reference service at ``url`` and return its calibrated service times.

    ``keys``, ``l1_ttl_s`` and ``product_ttl_s`` must match the service (its seeded products and
    cache settings; the defaults are ``scaleready refservice``'s) for the fit to be meaningful, and
    the service must not rate-limit the load generator (``--no-rate-limit``). Takes about
    1.5 x ``duration_s``; a run with more than 1 % errors raises `ValueError`.
    """
    from refservice.loadgen import LoadSpec, run

    base = url.rstrip("/")
    m0 = scrape(base)
    hot = run(LoadSpec(url=base, rate=rate, duration_s=duration_s / 2, distribution="poisson", mix="get_product=1",
                       n_keys=1, write_ratio=0.0, seed=seed, drain_s=10))
    m1 = scrape(base)
    hot_requests = max(1, int(hot["completed"]))
    hit_cpu_ms = delta(m0, m1, "process_cpu_seconds_total") / hot_requests * 1000
    res = run(LoadSpec(url=base, rate=rate, duration_s=duration_s, distribution="poisson", mix="get_product=1",
                       n_keys=keys, zipf_exponent=zipf, write_ratio=write_ratio, seed=seed + 1, drain_s=10))
    m2 = scrape(base)
    endpoints = res["endpoints"]
    reads = int(endpoints["get_product"]["count"])
    writes = int(endpoints.get("update_product", {}).get("count", 0))
    if reads == 0 or res["errors"] > 0.01 * max(1, reads + writes):
        raise ValueError(f"calibration run at {rate:g} req/s failed: {res['errors']} errors of {reads + writes}")
    read_l1_hits, read_l2_hits = read_hits(m1, m2, writes=writes, duration_s=duration_s, l1_ttl_s=l1_ttl_s)
    cpu_ms = delta(m1, m2, "process_cpu_seconds_total") * 1000
    nodes = {dict(lab).get("node") for (n, lab) in m2 if n == "db_queries_total"}
    primary_reads = reads - read_l1_hits - read_l2_hits if nodes <= {"primary"} else 0.0
    primary = delta(m1, m2, "db_queries_total", node="primary")
    cal = Calibration(
        rate=rate, app_hit_cpu_ms=hit_cpu_ms,
        app_cpu_ms=full_path_cpu_ms(cpu_ms, reads + writes, read_l1_hits, hit_cpu_ms),
        statements_per_write=max(1.0, (primary - primary_reads) / writes) if writes else 1.0,
        redis_rtt_ms=redis_rtt_ms(redis_url) if redis_url else None,
        pg_read_ms=pg_read_ms(database_url, keys) if database_url else None,
    )
    latency = endpoints["get_product"]["latency_ms"]
    replicas = len(nodes - {"primary", None})
    return fit_latency(cal, float(latency["p50"]), float(latency["p99"]), lambda c: refservice_scenario(
        c, rate=rate, duration_s=duration_s, keys=keys, write_ratio=write_ratio, replicas=replicas,
        l1_ttl_s=l1_ttl_s, product_ttl_s=product_ttl_s, zipf=zipf, seed=99))
