"""One trace of the knee model: Poisson arrivals with common random numbers, each request's loop, path
and CPU, full garbage collections, the caches a warm-up leaves, replayed under the configuration's
discipline (`rounds` round by round; processor sharing or FCFS with the pool as a FCFS queue)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import rounds
from .knee_params import KneeParams, Paths
from .queueing import fcfs_waits
from .sharing import ps_sojourn

__all__ = ["Trace", "loop_count", "loops_of", "stalls", "trace"]


def _cpu_sojourn(arrival: np.ndarray, work: np.ndarray, servers: float, params: KneeParams,
                 loop: np.ndarray | None = None, cap: int = 0) -> np.ndarray:
    wake = params.wake_ms / 1000.0
    if params.discipline == "ps":
        return ps_sojourn(arrival, work, servers, wake, loop, cap)
    # (a cap on concurrency of at least ``servers`` leaves FCFS unchanged: the queue only moves)
    # FCFS: a request that does not wait found the loop idle and pays the wake-up
    first = fcfs_waits(arrival, work, max(1, int(servers)))
    work = work + np.where(first <= 0, wake, 0.0)
    return fcfs_waits(arrival, work, max(1, int(servers))) + work


def loop_count(params: KneeParams) -> int:
    """Event loops of the deployment: ``cores / instances`` per instance when it has cores to spare, else one."""
    per = max(1, int(params.cores // params.instances)) if params.cores >= params.instances else 1
    return params.instances * per


def loops_of(params: KneeParams, u_inst: np.ndarray) -> tuple[np.ndarray, int, float, int]:
    """Event loops for the round model: each instance runs ``cores / instances`` loops (worker
    processes, each with a core) when it has cores to spare, else one loop, and the loops share the
    cores. Returns each request's loop (its instance's loops in turn at random), the number of
    cores, their speed (a fractional share of a core slows it) and the connections per loop (an
    instance's pool split between its loops)."""
    inst = params.instances
    loops = loop_count(params)
    per = loops // inst
    scaled = u_inst * inst
    instance = np.minimum(scaled.astype(np.int64), inst - 1)
    sub = np.minimum(((scaled - instance) * per).astype(np.int64), per - 1)
    n_cores = loops if params.cores >= loops else max(1, math.ceil(params.cores))
    speed = params.cores / n_cores
    return instance * per + sub, n_cores, speed, max(1, -(-params.pool_per_instance // per))


def _lognormal(rng: np.random.Generator, mean: float, cv: float, size: int) -> np.ndarray:
    if mean <= 0:
        return np.zeros(size)
    sigma2 = math.log1p(cv * cv)
    return rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), size)


@dataclass(frozen=True)
class Trace:
    latency_ms: np.ndarray  # every request's, writes included
    path: np.ndarray
    cpu_s: np.ndarray  # each request's own CPU demand, wake-ups and switches not included
    paid: np.ndarray  # (n, 2): loop wake-ups and preemptions charged to each request (rounds only; zeros otherwise)
    stall_cpu_s: float = 0.0  # the full collections' CPU, and the switches charged to them


def _draws(rng: np.random.Generator, params: KneeParams, rate: float, n: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` requests' arrivals (unit-rate gaps over ``rate``: common random numbers across rates), the
    uniforms that pick each one's path and instance, and its CPU factor (mean 1), in this order."""
    arrival = np.cumsum(rng.exponential(1.0, n)) / rate
    u_path, u_inst = rng.random(n), rng.random(n)
    return arrival, u_path, u_inst, _lognormal(rng, 1.0, params.cpu_cv, n)


def trace(params: KneeParams, paths: Paths, rate: float, duration_s: float, seed: int) -> Trace:
    rng = np.random.default_rng(seed)
    n = max(1, round(rate * duration_s))
    arrival, u_path, u_inst, base = _draws(rng, params, rate, n)
    is_write = u_path < paths.write_ratio
    u_read = (u_path - paths.write_ratio) / max(1e-12, 1 - paths.write_ratio)
    hit1 = ~is_write & (u_read < paths.l1)
    to_db = ~is_write & (u_read >= paths.l1 + paths.l2)
    path = np.where(is_write, rounds.WRITE, np.where(hit1, rounds.HIT, np.where(to_db, rounds.DB, rounds.L2)))
    if params.discipline == "rounds":
        loop, n_cores, speed, pool = loops_of(params, u_inst)
        stmts = max(1, params.statements_per_write)
        setting = dict(cores=n_cores, speed=speed, steps=params.steps, statements_per_write=stmts,
                       io_l2=params.l2_ms / 1000.0, io_db=params.db_ms / 1000.0,
                       io_db_write=params.db_write_ms / stmts / 1000.0, pool=pool,
                       callback=params.callback_ms / 1000.0, wake=params.wake_ms / 1000.0,
                       slice_s=params.slice_ms / 1000.0, switch=params.switch_ms / 1000.0)
        gc_ms = params.gc_ms_per_request  # put back below as the stalls themselves
        hit_s, miss_s = base * (params.cpu_hit_ms - gc_ms) / 1000.0, base * (params.cpu_miss_ms - gc_ms) / 1000.0
        cpu_s = np.where(hit1, hit_s, miss_s)
        at, on = stalls(params, rate, float(arrival[-1]), loop_count(params), seed)
        pause = np.full(at.size, params.gc_pause_ms / 1000.0)
        everything = (np.concatenate([arrival, at]), np.concatenate([loop, on]),
                      np.concatenate([path, np.full(at.size, rounds.STALL)]))
        if params.keys is None:
            done = rounds.replay(*everything, np.concatenate([cpu_s, pause]), **setting)
        else:
            key = np.concatenate([params.keys.of(rng.random(n)), np.full(at.size, -1, np.int64)])
            done = rounds.replay(*everything, np.concatenate([hit_s, pause]), key=key,
                                 miss_cpu=np.concatenate([miss_s, pause]),
                                 cache=_warm_cache(params, paths, rate, seed, setting), **setting)
            path = done.path[:n]
            cpu_s = np.where(path == rounds.HIT, hit_s, miss_s)
        stall_cpu_s = float(pause.sum()) + float(done.paid[n:, 1].sum()) * params.switch_ms / 1000.0
        return Trace(done.latency[:n] * 1000.0 + params.overhead_ms, path, cpu_s, done.paid[:n], stall_cpu_s)
    cpu_s = base * np.where(hit1, params.cpu_hit_ms, params.cpu_miss_ms) / 1000.0
    instance = np.minimum((u_inst * params.instances).astype(np.int64), params.instances - 1)
    if params.cores >= params.instances:  # an event loop per core: per-instance PS, requests spread at random
        cpu = np.empty(n)
        for k in range(params.instances):
            sel = instance == k
            cpu[sel] = _cpu_sojourn(arrival[sel], cpu_s[sel], params.cores / params.instances, params,
                                    cap=-(-params.max_in_service // params.instances))
    else:  # instances share fewer cores: the kernel shares the cores between them; each loop wakes on its own
        cpu = _cpu_sojourn(arrival, cpu_s, params.cores, params, instance, cap=params.max_in_service)
    io = np.where(hit1, 0.0, params.l2_ms / 1000.0)
    db = to_db | is_write
    db_service = np.where(is_write, params.db_write_ms, params.db_ms)[db] / 1000.0
    pool = max(1, min(params.pool_per_instance * params.instances, params.db_cores))
    waits = fcfs_waits(arrival[db] + cpu[db] / 2, db_service, pool)  # the query starts mid-way through the request
    io[db] += waits + db_service
    total = (cpu + io) * 1000.0 + params.overhead_ms
    return Trace(total, path, cpu_s, np.zeros((n, 2), np.int64))


def stalls(params: KneeParams, rate: float, until: float, loops: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """When each loop stops for a full collection, and which loop: every ``gc_every`` of its requests (the
    collector counts allocations, so its collections come at a steady pace per request served), from a
    random phase per loop, or ``gc_served_s`` after the last one."""
    if params.gc_ms_per_request <= 0 or rate <= 0:
        return np.empty(0), np.empty(0, np.int64)
    period = params.gc_every * loops / rate
    if params.gc_served_s is not None:
        phase = np.full(loops, (period - params.gc_served_s) % period)
    else:
        phase = np.random.default_rng(seed + 200_003).random(loops) * period
    times = [np.arange(phase[k], until, period) for k in range(loops)]
    return np.concatenate(times), np.concatenate([np.full(t.size, k, np.int64) for k, t in enumerate(times)])


def _warm_cache(params: KneeParams, paths: Paths, rate: float, seed: int,
                setting: dict[str, Any]) -> rounds.CacheState:
    """The caches after ``keys.warmup_s`` of the same load from empty (own draws), on the window's clock."""
    keys = params.keys
    assert keys is not None
    cache = rounds.CacheState.empty(loop_count(params), keys.count, keys.l1_ttl_s, keys.l2_ttl_s)
    if keys.warmup_s <= 0:
        return cache
    rng = np.random.default_rng(seed + 100_003)
    n = max(1, round(rate * keys.warmup_s))
    arrival, u_path, u_inst, base = _draws(rng, params, rate, n)
    loop = loops_of(params, u_inst)[0]
    path = np.where(u_path < paths.write_ratio, rounds.WRITE, rounds.HIT)
    rounds.replay(arrival, loop, path, base * params.cpu_hit_ms / 1000.0, key=keys.of(rng.random(n)),
                  miss_cpu=base * params.cpu_miss_ms / 1000.0, cache=cache, **setting)
    return cache.shifted(keys.warmup_s + keys.gap_s)
