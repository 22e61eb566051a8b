"""The trace-driven engine: sample the workload, replay it through the caches, queue it at the nodes.

Steps: `workload.build_trace` draws every request and write (numpy); `cachesim.run_cache` decides
for each one where it is served and whether the value is stale (numba); then every node is a
FCFS queue replayed with `queueing.fcfs_waits` (the Lindley recursion) — the app instances (when
``workers`` is set), the Redis node (lookups, fills and invalidation deletes) and each database
node — and a request's latency is the sum of its path. Statistics skip ``warmup_s``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .cachesim import SERVED_DB, SERVED_L1, SERVED_L2, SERVED_WRITE, run_cache
from .model import Scenario
from .queueing import fcfs_waits, sample_service
from .result import (
    HitRatios,
    LatencyMs,
    SimulationResult,
    StaleReads,
    TypeStats,
    judge,
    node_load,
    node_names,
    other_overloaded,
)
from .tiers import l2_hold_probability, solve_tiers
from .uncertainty import (
    BATCHES,
    MIN_STALE_EPISODES,
    MIN_STALE_EVENTS,
    effective_episodes,
    p99_batch_interval,
    proportion_batch_interval,
)
from .workload import READ, build_trace

__all__ = ["run_trace"]


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def _latency(seconds: np.ndarray) -> LatencyMs:
    if seconds.size == 0:
        return LatencyMs(mean=0.0, p50=0.0, p95=0.0, p99=0.0)
    ms = seconds * 1000.0
    p50, p95, p99 = np.quantile(ms, [0.5, 0.95, 0.99], method="inverted_cdf")
    return LatencyMs(mean=float(ms.mean()), p50=float(p50), p95=float(p95), p99=float(p99))


def _lag_sample(rng: np.random.Generator, sc: Scenario, size: int) -> np.ndarray:
    lag = sc.db.lag
    m = lag.mean_ms / 1000.0
    if m == 0:
        return np.zeros(size)
    if lag.dist == "const":
        return np.full(size, m)
    if lag.dist == "exp":
        return rng.exponential(m, size)
    s2 = math.log1p(lag.cv**2)
    return rng.lognormal(math.log(m) - s2 / 2, math.sqrt(s2), size)


def _warm_l2(sc: Scenario, space, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """L2 contents at time 0: each key held with its steady-state probability (closed form),
    with a remaining TTL uniform over the type's TTL, as in a cache that has been running."""
    sol = solve_tiers(sc)
    keys, exp = [], []
    for d, name in enumerate(space.names):
        dt = sc.data_types[name]
        hold = l2_hold_probability(sol, name, dt.keys)
        idx = np.flatnonzero(rng.random(dt.keys) < hold)
        keys.append(idx + space.offsets[d])
        exp.append(rng.random(idx.size) * dt.l2_ttl_s)
    return np.concatenate(keys), np.concatenate(exp)


def _notes(sc: Scenario, n: int) -> list[str]:
    notes = [f"{n} events replayed; statistics after warm-up {sc.warmup_s:g} s"]
    if sc.warm_start and sc.l2.enabled:
        notes.append("L2 started in its steady state (warm_start)")
    else:
        notes.append("caches started empty (cold start)")
        longest = max(dt.l2_ttl_s for dt in sc.data_types.values())
        if sc.l2.enabled and longest > sc.duration_s - sc.warmup_s:
            notes.append(f"an L2 TTL ({longest:g} s) outlasts the measured window: hit ratios are those of a "
                         "cache still filling, below the steady state the analytic engine gives")
    return notes


def run_trace(sc: Scenario) -> SimulationResult:
    """Simulate a scenario event by event."""
    started = time.perf_counter()
    tr = build_trace(sc)
    space = tr.space
    rng = np.random.default_rng(sc.seed + 7919)
    n = len(tr)
    reps = sc.db.replicas
    lag = _lag_sample(rng, sc, n) if reps else np.zeros(0)
    l2_ttl = np.array([sc.data_types[nm].l2_ttl_s for nm in space.names])
    inv = sc.invalidation.enabled
    warm_keys, warm_exp = _warm_l2(sc, space, rng) if sc.warm_start and sc.l2.enabled else (None, None)
    out = run_cache(tr.t, tr.op, tr.key, tr.inst, lag, space.key_type, space.key_bytes, l2_ttl,
                    l1_ttl=sc.l1.ttl_s, l1_entries=sc.l1.max_entries, l2_bytes=sc.l2.memory_bytes,
                    n_inst=sc.app.instances, use_l1=sc.l1.enabled, use_l2=sc.l2.enabled,
                    invalidate_l2=inv, invalidate_l1=sc.invalidation.l1 if inv else "none", replicas=reps,
                    warm_keys=warm_keys, warm_exp=warm_exp)
    del lag
    served, stale, node = out.served, out.stale, out.node
    window = sc.duration_s - sc.warmup_s
    in_win = tr.t >= sc.warmup_s
    is_read = tr.op == READ
    rd = is_read & in_win
    n_reads = int(rd.sum())
    n_writes = int((~is_read & in_win).sum())
    ktype = space.key_type[tr.key]

    # hit ratios, overall and per type: counts by (type, served)
    n_types = len(space.names)
    counts = np.bincount(ktype[rd].astype(np.int64) * 4 + served[rd], minlength=n_types * 4).reshape(n_types, 4)
    stale_counts = np.bincount(ktype[rd & stale].astype(np.int64) * 4 + served[rd & stale],
                               minlength=n_types * 4).reshape(n_types, 4)
    by_type = {}
    for d, nm in enumerate(space.names):
        c, s = counts[d], stale_counts[d]
        reads_d = c[:3].sum()
        by_type[nm] = TypeStats(
            reads_per_s=reads_d / window,
            hit_ratio=HitRatios(l1=_ratio(c[SERVED_L1], reads_d), l2=_ratio(c[SERVED_L2], reads_d - c[SERVED_L1]),
                                overall=_ratio(c[SERVED_L1] + c[SERVED_L2], reads_d)),
            db_reads_per_s=c[SERVED_DB] / window,
            stale_read_probability=_ratio(s[:3].sum(), reads_d),
        )
    c, s = counts.sum(axis=0), stale_counts.sum(axis=0)
    hit = HitRatios(l1=_ratio(c[SERVED_L1], n_reads), l2=_ratio(c[SERVED_L2], n_reads - c[SERVED_L1]),
                    overall=_ratio(c[SERVED_L1] + c[SERVED_L2], n_reads))
    stale_p = StaleReads(total=_ratio(s[:3].sum(), n_reads), from_l1=_ratio(s[SERVED_L1], n_reads),
                         from_l2=_ratio(s[SERVED_L2], n_reads), from_db=_ratio(s[SERVED_DB], n_reads))

    # --- latency: queue every node with the exact FCFS recursion ---
    app_svc = sample_service(rng, sc.app.service, n)
    if sc.app.hit_service is not None:  # requests answered from L1 take the fast path
        fast = np.flatnonzero(served == SERVED_L1)
        app_svc[fast] = sample_service(rng, sc.app.hit_service, fast.size)
    start = tr.t.copy()
    app_overloaded = False
    if sc.app.workers:
        for i in range(sc.app.instances):
            sel = np.flatnonzero(tr.inst == i)
            start[sel] += fcfs_waits(tr.t[sel], app_svc[sel], sc.app.workers)
        app_overloaded = app_svc[in_win].sum() / (sc.app.instances * sc.app.workers * window) >= 1.0
    latency = start - tr.t + app_svc + sc.app.rtt_ms / 1000.0
    if app_overloaded:  # the waits only grow with the run's length: no finite figure is honest
        latency[:] = np.inf
    is_db = served == SERVED_DB
    is_write = served == SERVED_WRITE
    l2_rtt = sc.l2.rtt_ms / 1000.0
    db_rtt = sc.db.rtt_ms / 1000.0
    l2_node = None
    set_offset = l2_rtt + db_rtt + sc.db.read.mean_ms / 1000.0
    if sc.l2.enabled:
        lookups = np.flatnonzero(is_read & (served != SERVED_L1))
        sets = np.flatnonzero(is_db)
        dels = np.flatnonzero(is_write) if inv else np.empty(0, dtype=np.int64)
        arrivals = np.concatenate([start[lookups], start[sets] + set_offset, start[dels] + db_rtt])
        svc = sample_service(rng, sc.l2.service, arrivals.size)
        waits = fcfs_waits(arrivals, svc, 1)
        a, b = lookups.size, lookups.size + sets.size
        latency[lookups] += l2_rtt + waits[:a] + svc[:a]
        latency[sets] += l2_rtt + waits[a:b] + svc[a:b]
        latency[dels] += l2_rtt + waits[b:] + svc[b:]
        in_arr = np.concatenate([in_win[lookups], in_win[sets], in_win[dels]])
        l2_node = node_load("redis", "l2", busy_per_s=svc[in_arr].sum() / window, servers=1, cores=1,
                            cpu_fraction=1.0, mean_wait_s=float(waits[in_arr].mean()) if in_arr.any() else 0.0,
                            queries_per_s=in_arr.sum() / window)
        if l2_node.overloaded:
            latency[np.concatenate([lookups, sets, dels])] = np.inf
    servers = sc.db.servers(sc.app.instances)
    nodes = []
    for i, (nm, role) in enumerate(node_names(reps)):
        jobs = np.flatnonzero(node == i)
        writes_here = is_write[jobs]
        svc = np.where(writes_here, sample_service(rng, sc.db.write, jobs.size),
                       sample_service(rng, sc.db.read, jobs.size))
        arrive = start[jobs] + np.where(writes_here, 0.0, l2_rtt if sc.l2.enabled else 0.0) + db_rtt / 2
        waits = fcfs_waits(arrive, svc, servers)
        latency[jobs] += db_rtt + waits + svc
        w = in_win[jobs]
        node_ = node_load(
            nm, role, busy_per_s=svc[w].sum() / window, servers=servers, cores=sc.db.cores_per_node,
            cpu_fraction=sc.db.cpu_fraction, mean_wait_s=float(waits[w].mean()) if w.any() else 0.0,
            queries_per_s=((w & ~writes_here).sum() + (w & writes_here).sum() * sc.db.queries_per_write) / window,
            reads_per_s=(w & ~writes_here).sum() / window, writes_per_s=(w & writes_here).sum() / window)
        if node_.overloaded:
            latency[jobs] = np.inf
        nodes.append(node_)
    read_lat = _latency(latency[rd])
    batch = _batch_of(tr.t[rd], sc)
    p99_interval = p99_batch_interval(latency[rd], batch)
    stale_interval, stale_source, stale_note = None, "trace", None
    n_stale = int(s[:3].sum())
    wr = ~is_read
    episodes = effective_episodes(tr.key[rd & stale], tr.t[rd & stale], tr.key[wr], tr.t[wr])
    if n_stale >= MIN_STALE_EVENTS and episodes >= MIN_STALE_EPISODES:
        stale_interval = proportion_batch_interval(stale[rd], batch)
    elif n_reads:
        from .analytic import run_analytic

        trace_figure = stale_p.total
        stale_p = run_analytic(sc).stale_read_probability
        stale_source = "analytic"
        why = (f"only {n_stale} in {n_reads:,} reads" if n_stale < MIN_STALE_EVENTS else
               f"{n_stale:,} in {n_reads:,} reads, but from about {episodes:.0f} independent episodes (writes to "
               f"popular keys), so the figure swings between runs")
        stale_note = (f"stale reads: the trace saw {why} ({trace_figure:.3%}); too few to estimate, the figure "
                      "shown is the analytic engine's expectation")
    write_lat = _latency(latency[~is_read & in_win]) if n_writes else None
    db_qps = sum(nd.queries_per_s for nd in nodes)
    return SimulationResult(
        engine="trace", scenario=sc.name, reads_per_s=n_reads / window, writes_per_s=n_writes / window,
        simulated_requests=n, hit_ratio=hit, by_type=by_type, db_nodes=nodes, db_queries_per_s=db_qps,
        l2_node=l2_node, latency_ms=read_lat, write_latency_ms=write_lat, stale_read_probability=stale_p,
        stale_read_interval=stale_interval, stale_read_source=stale_source, p99_interval_ms=p99_interval,
        evictions={"l1": out.l1_evictions, "l2": out.l2_evictions}, app_overloaded=app_overloaded,
        verdict=judge(sc, hit.overall, read_lat.p99, nodes, other_overloaded(l2_node, app_overloaded)),
        runtime_s=time.perf_counter() - started,
        notes=_notes(sc, n) + ([stale_note] if stale_note else []),
    )


def _batch_of(t: np.ndarray, sc: Scenario) -> np.ndarray:
    """Batch index (0..BATCHES-1) of each event: the measured window cut into equal time slices."""
    window = sc.duration_s - sc.warmup_s
    return np.clip(((t - sc.warmup_s) / window * BATCHES).astype(np.int64), 0, BATCHES - 1)
