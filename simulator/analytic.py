"""The analytic engine: closed forms for every tier and node, answering in milliseconds.

Hit ratios come from `tiers.solve_tiers` (TTL/Che closed forms per key). Staleness follows the
cycle argument of `closedform` (a copy filled right after an invalidation may come from a
lagging replica and then lives a whole TTL). The DB nodes are M/M/c queues (Erlang C), Redis an
M/M/1 queue, and the request latency quantiles come from the mixture of the paths (L1 hit, L2
hit, DB on node k) built from those closed-form laws; the mixture's quantiles are read from a
fixed-seed sample of it, the only numerical step.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .model import Lag, Scenario, ServiceTime
from .queueing import erlang_c, sample_service
from .result import (
    HitRatios,
    LatencyMs,
    NodeLoad,
    SimulationResult,
    StaleReads,
    TypeStats,
    judge,
    node_load,
    node_names,
    other_overloaded,
)
from .tiers import solve_tiers

__all__ = ["run_analytic"]

_LATENCY_SAMPLES = 200_000


def _lag_survival(rate: np.ndarray, lag: Lag) -> np.ndarray:
    """E[e^{-rate·D}] for the replica lag D."""
    m = lag.mean_ms / 1000.0
    if m == 0:
        return np.ones_like(rate)
    if lag.dist == "const":
        return np.exp(-rate * m)
    if lag.dist == "exp":
        return 1.0 / (1.0 + rate * m)
    sigma2 = math.log1p(lag.cv**2)
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    d = np.exp(math.log(m) - sigma2 / 2 + math.sqrt(sigma2) * nodes)
    return (np.exp(-np.outer(rate, d)) * weights).sum(axis=1) / weights.sum()


def _wait_sample(rng: np.random.Generator, size: int, servers: int, rate: float, law: ServiceTime) -> np.ndarray:
    """M/M/c waiting times: 0 w.p. 1 - C, else Exp(c·mu - lambda); inf when overloaded.

    For non-exponential service the waits are scaled by (1 + cs²)/2 (Allen-Cunneen's M/G/c
    correction; cs² = 0 constant, 1 exponential, cv² lognormal).
    """
    mean = law.mean_ms / 1000.0
    if rate <= 0 or mean <= 0 or size == 0:
        return np.zeros(size)
    offered = rate * mean
    if offered >= servers:
        return np.full(size, math.inf)
    pw = erlang_c(servers, offered)
    cs2 = {"exp": 1.0, "const": 0.0, "lognormal": law.cv**2}[law.dist]
    waits = rng.exponential((1 + cs2) / 2 / (servers / mean - rate), size)
    waits[rng.random(size) >= pw] = 0.0
    return waits


def _mean_wait(servers: int, rate: float, mean_s: float) -> float:
    offered = rate * mean_s
    if rate <= 0 or mean_s <= 0:
        return 0.0
    if offered >= servers:
        return math.inf
    return erlang_c(servers, offered) / (servers / mean_s - rate)


def _latency(values: np.ndarray) -> LatencyMs:
    ms = values * 1000.0
    p50, p95, p99 = np.quantile(ms, [0.5, 0.95, 0.99], method="inverted_cdf")
    return LatencyMs(mean=float(ms.mean()), p50=float(p50), p95=float(p95), p99=float(p99))


def run_analytic(sc: Scenario) -> SimulationResult:
    """Answer a scenario with the closed forms."""
    started = time.perf_counter()
    sol = solve_tiers(sc)
    names, shares, ranks = sol.names, sol.shares, sol.ranks
    lam2, mu, mu2, ttl2, h1, h2 = sol.lam2, sol.mu, sol.mu2, sol.ttl2, sol.h1, sol.h2
    tc1, tc2, l1_inv_share = sol.tc1, sol.tc2, sol.l1_inv_share
    n_inst = sc.app.instances
    inv = sc.invalidation.enabled
    # staleness (see module docstring of closedform for the cycle argument)
    reps = sc.db.replicas
    by_type: dict[str, TypeStats] = {}
    tot = {"reads": 0.0, "l1": 0.0, "l2look": 0.0, "l2": 0.0, "db": 0.0, "s1": 0.0, "s2": 0.0, "sdb": 0.0}
    for n in names:
        rk, share = ranks[n], shares[n]
        s_db = 1 - _lag_survival(mu[n], sc.db.lag) if reps else np.zeros_like(mu[n])
        inv_end2 = -np.expm1(-mu2[n] * ttl2[n])
        # the first L2 lookup after an invalidation: the usual L1 misses plus the reads of the
        # instances whose L1 copy the write dropped (all of them, the writer's, or none)
        first = lam2[n] + sol.lam[n] * h1[n] * l1_inv_share
        s_after_inv = 1 - _lag_survival(first, sc.db.lag) if reps else np.zeros_like(mu[n])
        s_fill2 = inv_end2 * s_after_inv + (1 - inv_end2) * s_db if sc.l2.enabled else s_db
        age2 = _vlife(mu[n], ttl2[n]) / _vlife(mu2[n], ttl2[n])
        s_l2 = 1 - (1 - s_fill2) * age2 if sc.l2.enabled else np.zeros_like(mu[n])
        s_fill1 = h2[n] * s_l2 + (1 - h2[n]) * s_fill2
        age1 = _vlife(mu[n], sc.l1.ttl_s) / _vlife(mu[n] * l1_inv_share, sc.l1.ttl_s)
        s_l1 = 1 - (1 - s_fill1) * age1
        m1 = 1 - h1[n]
        l1_share = float(rk.mass @ h1[n])
        look = float(rk.mass @ m1)
        l2_share = float(rk.mass @ (m1 * h2[n]))
        db_share = float(rk.mass @ (m1 * (1 - h2[n])))
        st1 = float(rk.mass @ (h1[n] * s_l1))
        st2 = float(rk.mass @ (m1 * h2[n] * s_l2))
        stdb = float(rk.mass @ (m1 * (1 - h2[n]) * s_fill2))
        reads = sc.read_rate * share
        by_type[n] = TypeStats(
            reads_per_s=reads,
            hit_ratio=HitRatios(l1=_p(l1_share), l2=_p(l2_share / look) if look > 0 else 0.0, overall=_p(1 - db_share)),
            db_reads_per_s=reads * db_share,
            stale_read_probability=_p(st1 + st2 + stdb),
        )
        for k, v in (("reads", reads), ("l1", reads * l1_share), ("l2look", reads * look),
                     ("l2", reads * l2_share), ("db", reads * db_share), ("s1", reads * st1),
                     ("s2", reads * st2), ("sdb", reads * stdb)):
            tot[k] += v

    writes = sum(sc.data_types[n].writes_per_s for n in names)
    reads = tot["reads"]
    hit = HitRatios(l1=_p(tot["l1"] / reads), l2=_p(tot["l2"] / tot["l2look"]) if tot["l2look"] > 0 else 0.0,
                    overall=_p(1 - tot["db"] / reads))

    # nodes
    servers = sc.db.servers(n_inst)
    db_reads = tot["db"]
    node_rates = []
    for i, (nm, role) in enumerate(node_names(reps)):
        r = (db_reads / reps if i > 0 else 0.0) if reps else db_reads
        w = writes if i == 0 else 0.0
        node_rates.append((nm, role, r, w))
    nodes: list[NodeLoad] = []
    node_mean_s = []
    for nm, role, r, w in node_rates:
        busy = r * sc.db.read.mean_ms / 1000 + w * sc.db.write.mean_ms / 1000
        mean_s = busy / (r + w) if r + w > 0 else sc.db.read.mean_ms / 1000
        node_mean_s.append(mean_s)
        cs2 = {"exp": 1.0, "const": 0.0, "lognormal": sc.db.read.cv**2}[sc.db.read.dist]
        wait = _mean_wait(servers, r + w, mean_s) * (1 + cs2) / 2
        nodes.append(node_load(nm, role, busy_per_s=busy, servers=servers, cores=sc.db.cores_per_node,
                               cpu_fraction=sc.db.cpu_fraction, mean_wait_s=wait,
                               queries_per_s=r + w * sc.db.queries_per_write, reads_per_s=r, writes_per_s=w))
    l2_rate = (tot["l2look"] + db_reads + (writes if inv else 0.0)) if sc.l2.enabled else 0.0
    l2_mean = sc.l2.service.mean_ms / 1000
    l2_node = None
    if sc.l2.enabled:
        l2_node = node_load("redis", "l2", busy_per_s=l2_rate * l2_mean, servers=1, cores=1, cpu_fraction=1.0,
                            mean_wait_s=_mean_wait(1, l2_rate, l2_mean), queries_per_s=l2_rate)

    # latency: mixture over the paths, each from its closed-form laws
    rng = np.random.default_rng(sc.seed + 104729)
    size = _LATENCY_SAMPLES
    u = rng.random(size)
    p_l1, p_l2 = tot["l1"] / reads, tot["l2"] / reads
    miss1 = u >= p_l1
    lat = sample_service(rng, sc.app.service, size) + sc.app.rtt_ms / 1000
    hit_law = sc.app.hit_service
    if hit_law is not None:
        lat[~miss1] = sample_service(rng, hit_law, int((~miss1).sum())) + sc.app.rtt_ms / 1000
    app_overloaded = False
    if sc.app.workers:
        app_law = _app_law(sc, p_l1)
        app_overloaded = sc.read_rate / n_inst * app_law.mean_ms / 1000 >= sc.app.workers
        lat += _wait_sample(rng, size, sc.app.workers, sc.read_rate / n_inst, app_law)
    to_db = u >= p_l1 + p_l2
    redis_law = sc.l2.service
    if sc.l2.enabled:
        lat[miss1] += sc.l2.rtt_ms / 1000 + _wait_sample(rng, int(miss1.sum()), 1, l2_rate, redis_law) \
            + sample_service(rng, redis_law, int(miss1.sum()))
    n_db = int(to_db.sum())
    node_of = rng.integers(1, reps + 1, n_db) if reps else np.zeros(n_db, dtype=np.int64)
    db_part = np.empty(n_db)
    for i, (_nm, _role, r, w) in enumerate(node_rates):
        sel = node_of == i
        k = int(sel.sum())
        law = ServiceTime(mean_ms=node_mean_s[i] * 1000, dist=sc.db.read.dist, cv=sc.db.read.cv)
        db_part[sel] = _wait_sample(rng, k, servers, r + w, law) + sample_service(rng, sc.db.read, k)
    db_part += sc.db.rtt_ms / 1000
    if sc.l2.enabled:
        db_part += sc.l2.rtt_ms / 1000 + _wait_sample(rng, n_db, 1, l2_rate, redis_law) \
            + sample_service(rng, redis_law, n_db)
    lat[to_db] += db_part
    latency = _latency(lat)

    write_latency = None
    if writes > 0:
        wl = sample_service(rng, sc.app.service, size) + (sc.app.rtt_ms + sc.db.rtt_ms) / 1000 \
            + _wait_sample(rng, size, servers, node_rates[0][2] + writes,
                           ServiceTime(mean_ms=node_mean_s[0] * 1000)) + sample_service(rng, sc.db.write, size)
        if inv and sc.l2.enabled:
            wl += sc.l2.rtt_ms / 1000 + _wait_sample(rng, size, 1, l2_rate, redis_law) \
                + sample_service(rng, redis_law, size)
        write_latency = _latency(wl)

    stale = StaleReads(total=_p((tot["s1"] + tot["s2"] + tot["sdb"]) / reads), from_l1=_p(tot["s1"] / reads),
                       from_l2=_p(tot["s2"] / reads), from_db=_p(tot["sdb"] / reads))
    notes = [f"L1 Che time: {'none (fits)' if math.isinf(tc1) else f'{tc1:.3g} s'}; "
             f"L2 Che time: {'none (fits)' if math.isinf(tc2) else f'{tc2:.3g} s'}",
             "queues as M/M/c (Erlang C), waits scaled by (1 + cs^2)/2 for non-exponential service"]
    return SimulationResult(
        engine="analytic", scenario=sc.name, reads_per_s=reads, writes_per_s=writes, simulated_requests=0,
        hit_ratio=hit, by_type=by_type, db_nodes=nodes, db_queries_per_s=db_reads + writes * sc.db.queries_per_write,
        l2_node=l2_node,
        latency_ms=latency, write_latency_ms=write_latency, stale_read_probability=stale,
        app_overloaded=app_overloaded,
        verdict=judge(sc, hit.overall, latency.p99, nodes, other_overloaded(l2_node, app_overloaded)),
        runtime_s=time.perf_counter() - started, notes=notes,
    )


def _moments(law: ServiceTime) -> tuple[float, float]:
    m = law.mean_ms
    cs2 = {"exp": 1.0, "const": 0.0, "lognormal": law.cv**2}[law.dist]
    return m, m * m * (1 + cs2)


def _app_law(sc: Scenario, p_hit: float) -> ServiceTime:
    """The app's service law seen by its queue: a mix of fast-path L1 hits and the rest."""
    if sc.app.hit_service is None:
        return sc.app.service
    m1, s1 = _moments(sc.app.hit_service)
    m2, s2 = _moments(sc.app.service)
    mean = p_hit * m1 + (1 - p_hit) * m2
    second = p_hit * s1 + (1 - p_hit) * s2
    if mean <= 0:
        return sc.app.service
    cv = math.sqrt(max(second / mean**2 - 1, 1e-6))
    return ServiceTime(mean_ms=mean, dist="lognormal", cv=cv)


def _p(x: float) -> float:
    """A probability, with rounding residue clipped."""
    return float(min(1.0, max(0.0, x)))


def _vlife(mu: np.ndarray, ttl: float) -> np.ndarray:
    """`closedform._ttl_life` over an array: (1 - e^{-μT})/μ, its series where μT is tiny."""
    mu = np.asarray(mu, dtype=np.float64)
    x = mu * ttl
    small = x < 1e-9
    safe = np.where(small, 1.0, mu)
    return np.where(small, ttl * (1.0 - 0.5 * x), -np.expm1(-np.where(small, 0.0, x)) / safe)
