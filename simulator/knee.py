"""The service near saturation: where requests really queue, as a trace you can replay.

The light-load simulator (`trace`, `analytic`) treats an instance's CPU as a FCFS queue and is
validated where queues are short. At the knee the queueing discipline decides P99, so this module
models what an asyncio service does with its CPU:

* **CPU as the event loop runs it** (``discipline="rounds"``, the default; `rounds`). One event
  loop runs the ready callbacks in FIFO order, each until its next ``await``, and a request that
  awaits I/O gets the core back only when the loop comes round to it again, so its latency is its
  number of awaits times the length of a round. The knee bench's own timings inside the workers
  (bench/knee_tail.py) show the tail is made there: by database reads waiting rounds for Redis and
  PostgreSQL replies and holding pooled connections through them, which neither processor
  sharing (``"ps"``: the limit of a round-robin of CPU bursts, each request stretched by the same
  factor) nor FCFS (``"fcfs"``: one wait for all) has; both are kept to compare, and
  bench/validate_knee.py reports all three. When several worker processes share fewer cores, the
  kernel's fair scheduler shares the cores between their loops (`rounds` replays that too; PS
  takes ``min(1, cores / n_active)`` of a core per job).
* **Switching costs CPU.** An event loop with nothing ready sleeps in epoll, and whatever wakes it
  pays the return and the context switch back; two loops sharing a core are switched out when
  their slice is used up and start again with cold caches. At light load the arrival and most
  awaits find the loop asleep (the knee bench counts 2.3 voluntary switches per request in the
  workers at 25 % load, 0 in overload), while preemptions rise from 0.5 to 1.4 per request, so the
  CPU per request falls with load and stops falling well before overload (3.3 ms at 25 %, 2.8 ms
  from 80 % on, one session). Under rounds the replay charges ``wake_ms`` to every callback that
  finds its loop asleep and ``switch_ms`` to the first callback after a preemption, and counts both
  (`load_profile`: switches and CPU per request at any rate, to set against the workers' own
  counts); bench/knee_cpu.py calibrates them at light load by regressing CPU per request on the
  workers' switches over runs whose arrivals are Poisson or bunched. PS and FCFS charge
  ``wake_ms`` to requests that find their loop empty.
* **I/O does not queue on the CPU.** Redis and PostgreSQL round trips add latency while the
  request is parked (under PS they add to its sojourn; under rounds it also waits its turn back).
* **The connection pool is a queue.** Under rounds, each loop's ``pool_per_instance`` connections
  are held from the query until the request's next step has run, waiters FIFO. Under PS and FCFS,
  database reads and writes wait FCFS for one of the ``pool_per_instance x instances`` connections
  of a node (capped by the node's cores), replayed with the Lindley recursion of
  `queueing.fcfs_waits`.
* **The clients' connections cap the concurrency** (PS and FCFS). A request is only at the service
  once a client connection carries it; with ``max_in_service`` = C, at most C requests share the CPU
  and the rest wait FCFS in front, charged from their intended send time (PS with a FCFS queue
  ahead of it: C = 1 is FCFS M/G/1, a C the load never reaches is plain PS). The knee bench opens
  connections on demand up to 1,024, which only overload reaches.
* **Per-instance L1, filled when the fill finishes.** With `Keys` (rounds only) each read carries a
  key and the replay finds its path when its lookup runs: the worker's own L1, then Redis, then a
  fill (one per key per worker at a time; later reads of that key wait for it). A fill lands in L1
  and Redis only when its last step runs, so once a backlog forms fills land late, more reads miss
  L1 and queue on Redis and the pool, and the backlog feeds itself: the collapse the knee bench's
  workers showed (L1 share 0.50 -> 0.34, reads waiting seconds on fills stuck in the pool queue).
  Without keys the path mix is drawn from the cache simulator's (``app.instances = instances``), as
  if every read were answered at its arrival. The stale reads come from the cache simulator either way.

Everything above is replayed on a Poisson trace with common random numbers: the same seed gives
the same unit-rate arrivals scaled by ``1 / rate`` and the same service draws, so the predicted P99
grows with the rate (compressing arrivals only ever adds work in the system; the wake-up work
shrinks as queues grow, but by less than the queueing adds: tests check the P99 stays monotone,
within 2 % for rounds, whose round boundaries move with the arrivals), which is what `capacity`
relies on to find the crossing of a P99 target.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

from . import rounds
from .model import Scenario
from .queueing import fcfs_waits
from .sharing import ps_sojourn

__all__ = [
    "Keys",
    "KneeParams",
    "KneePrediction",
    "LoadProfile",
    "Paths",
    "fit_light_load",
    "latencies_by_path",
    "latencies_ms",
    "load_profile",
    "paths_from_result",
    "predict",
    "ps_sojourn",
]

Discipline = Literal["rounds", "ps", "fcfs"]


@dataclass(frozen=True)
class Paths:
    """Where reads are answered (shares of reads) and how many reads are stale, from the cache model."""

    l1: float
    l2: float
    db: float
    stale: float = 0.0
    write_ratio: float = 0.0  # writes / all requests


@dataclass(frozen=True)
class Keys:
    """Which keys the requests ask for and how long the caches keep them. Given, the round replay finds
    every read's path as the service does, at the moment its lookup runs (`rounds.replay`, keyed), so
    fills that land late near the knee, and reads waiting on another's fill, change the path mix; without
    it, paths are drawn from the cache model's mix (`Paths`), answered as if at arrival."""

    count: int
    zipf: float = 1.0  # P(k) ~ k^-zipf over keys 1..count, reads and writes alike
    l1_ttl_s: float = 5.0
    l2_ttl_s: float = 20.0
    warmup_s: float = 5.0  # the same load replayed first, from empty caches, and left out
    gap_s: float = 0.0  # between the warm-up and the measured window (caches age, queues are gone)

    def of(self, u: np.ndarray) -> np.ndarray:
        """Keys (0-based) for uniform draws ``u`` by the inverse CDF, as the load generator draws them."""
        cdf = np.cumsum(np.arange(1, self.count + 1, dtype=np.float64) ** -self.zipf)
        return np.minimum(np.searchsorted(cdf / cdf[-1], u, side="right"), self.count - 1).astype(np.int64)


@dataclass(frozen=True)
class KneeParams:
    """Service demands of one configuration (ms), as calibrated at light load."""

    instances: int
    cores: float
    cpu_hit_ms: float
    cpu_miss_ms: float
    cpu_cv: float = 1.0
    l2_ms: float = 0.1
    db_ms: float = 0.2
    db_write_ms: float = 0.4
    pool_per_instance: int = 8
    db_cores: int = 2
    overhead_ms: float = 0.0
    wake_ms: float = 0.0
    discipline: Discipline = "rounds"
    # the event-loop round model (`rounds`): task steps of application work before the cache lookup
    # (awaits between computations), CPU of a flush / reader callback, the kernel's time slice when
    # loops share a core, and how many statements a write's transaction sends
    steps: int = 1
    callback_ms: float = 0.02
    slice_ms: float = 1.5
    statements_per_write: int = 1
    # CPU of an involuntary context switch between loops sharing a core (rounds; calibrated beside wake_ms)
    switch_ms: float = 0.0
    # requests in service at once (the clients' connections; 0: unbounded). Beyond it requests wait
    # FCFS at the client, charged from their intended send time as the load generator charges them.
    max_in_service: int = 0
    # the keys and cache TTLs (rounds only): the replay then finds each read's path itself
    keys: Keys | None = None

    def __post_init__(self) -> None:
        if isinstance(self.keys, dict):  # as stored by `dataclasses.asdict`
            object.__setattr__(self, "keys", Keys(**self.keys))

    def scaled(self, cpu_scale: float) -> KneeParams:
        """The same configuration on a host that runs the CPU work ``cpu_scale`` times slower."""
        return replace(self, cpu_hit_ms=self.cpu_hit_ms * cpu_scale, cpu_miss_ms=self.cpu_miss_ms * cpu_scale,
                       wake_ms=self.wake_ms * cpu_scale, switch_ms=self.switch_ms * cpu_scale,
                       callback_ms=self.callback_ms * cpu_scale)

    def mean_cpu_ms(self, paths: Paths) -> float:
        """CPU per request: L1 hits on the fast path, everything else (writes included) on the full one."""
        reads = 1 - paths.write_ratio
        return reads * (paths.l1 * self.cpu_hit_ms + (1 - paths.l1) * self.cpu_miss_ms) \
            + paths.write_ratio * self.cpu_miss_ms

    def saturation_rate(self, paths: Paths) -> float:
        """Requests/s at which the service's cores are 100 % busy (no request then finds a loop idle)."""
        return self.cores * 1000.0 / self.mean_cpu_ms(paths)

    def utilisation(self, rate: float, paths: Paths) -> float:
        """Busy share of the cores at ``rate``: rho = lambda (c + w (1 - rho)) / cores, taking the share
        of requests that find their loop idle (and pay ``wake_ms``) as 1 - rho (PASTA; exact for one
        loop per core and one wake-up per request, as PS and FCFS charge it). Under rounds, where every
        await can find the loop asleep, `load_profile` counts the replay's own wake-ups instead."""
        lam = rate / 1000.0 / self.cores
        return lam * (self.mean_cpu_ms(paths) + self.wake_ms) / (1 + lam * self.wake_ms)

    @classmethod
    def from_scenario(cls, sc: Scenario, cores: float | None = None) -> KneeParams:
        """A scenario's service times. Unless ``cores`` says otherwise, each instance runs ``app.workers``
        event loops (one when 0, "unlimited", which has no CPU queue in the other engines), each on a core."""
        hit = sc.app.hit_service or sc.app.service
        cv = {"exp": 1.0, "const": 1e-3, "lognormal": sc.app.service.cv}[sc.app.service.dist]
        cores = cores or sc.app.instances * max(1, sc.app.workers)
        return cls(instances=sc.app.instances, cores=float(cores), cpu_hit_ms=hit.mean_ms,
                   cpu_miss_ms=sc.app.service.mean_ms, cpu_cv=cv,
                   l2_ms=(sc.l2.rtt_ms + sc.l2.service.mean_ms) if sc.l2.enabled else 0.0,
                   db_ms=sc.db.rtt_ms + sc.db.read.mean_ms,
                   db_write_ms=sc.db.rtt_ms + sc.db.write.mean_ms * sc.db.queries_per_write,
                   pool_per_instance=sc.db.pool_per_instance, db_cores=sc.db.cores_per_node,
                   overhead_ms=sc.app.rtt_ms)


def paths_from_result(res: object) -> Paths:
    """The path mix of a `SimulationResult` (either engine)."""
    hit = res.hit_ratio  # type: ignore[attr-defined]
    reads, writes = res.reads_per_s, res.writes_per_s  # type: ignore[attr-defined]
    miss1 = 1 - hit.l1
    return Paths(l1=hit.l1, l2=miss1 * hit.l2, db=miss1 * (1 - hit.l2),
                 stale=res.stale_read_probability.total,  # type: ignore[attr-defined]
                 write_ratio=writes / (reads + writes) if reads + writes > 0 else 0.0)


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


def _loop_count(params: KneeParams) -> int:
    """Event loops of the deployment: ``cores / instances`` per instance when it has cores to spare, else one."""
    per = max(1, int(params.cores // params.instances)) if params.cores >= params.instances else 1
    return params.instances * per


def _loops(params: KneeParams, u_inst: np.ndarray) -> tuple[np.ndarray, int, float, int]:
    """Event loops for the round model: each instance runs ``cores / instances`` loops (worker
    processes, each with a core) when it has cores to spare, else one loop, and the loops share the
    cores. Returns each request's loop (its instance's loops in turn at random), the number of
    cores, their speed (a fractional share of a core slows it) and the connections per loop (an
    instance's pool split between its loops)."""
    inst = params.instances
    loops = _loop_count(params)
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


def latencies_ms(params: KneeParams, paths: Paths, rate: float, duration_s: float = 60.0,
                 seed: int = 1) -> np.ndarray:
    """Latency (ms) of every read of a ``duration_s`` Poisson trace at ``rate`` requests/s.

    The random draws depend on ``seed`` and the number of requests only, so two rates with the
    same seed share them (common random numbers): arrivals are unit-rate gaps divided by ``rate``.
    """
    return latencies_by_path(params, paths, rate, duration_s, seed)[0]


def latencies_by_path(params: KneeParams, paths: Paths, rate: float, duration_s: float = 60.0,
                      seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """`latencies_ms` with each read's path (`rounds.HIT`, `rounds.L2`, `rounds.DB`, or with keys also
    `rounds.WAIT`) beside it, to set against per-path measurements."""
    trace = _trace(params, paths, rate, duration_s, seed)
    reads = trace.path != rounds.WRITE
    return trace.latency_ms[reads], trace.path[reads]


@dataclass(frozen=True)
class LoadProfile:
    """What the replay says the service's CPU does at one rate: per request (reads and writes)."""

    rate: float
    cpu_ms: float  # CPU per request, wake-ups and switches included (the workers' /proc CPU over requests served)
    wakes: float  # loop wake-ups per request (the workers' voluntary context switches); NaN if not replayed
    switches: float  # preemptions per request (the workers' involuntary context switches); NaN if not replayed
    utilisation: float  # busy share of the cores

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def load_profile(params: KneeParams, paths: Paths, rate: float, duration_s: float = 60.0,
                 seed: int = 1) -> LoadProfile:
    """CPU and loop wake-ups per request at ``rate``: under rounds counted in the replay (the wake-ups a
    request causes fall as the loops stay busy), otherwise the first-order `KneeParams.utilisation`."""
    if params.discipline != "rounds":
        u = params.utilisation(rate, paths)
        return LoadProfile(rate=rate, cpu_ms=u * params.cores * 1000.0 / rate, wakes=math.nan, switches=math.nan,
                           utilisation=u)
    return _profile(params, _trace(params, paths, rate, duration_s, seed), rate)


def _profile(params: KneeParams, trace: _Trace, rate: float) -> LoadProfile:
    n = max(1, trace.path.size)
    wakes, switches = (float(x) for x in trace.paid.sum(axis=0))
    cpu_ms = (float(trace.cpu_s.sum()) * 1000.0 + wakes * params.wake_ms + switches * params.switch_ms) / n
    return LoadProfile(rate=rate, cpu_ms=cpu_ms, wakes=wakes / n, switches=switches / n,
                       utilisation=rate * cpu_ms / 1000.0 / params.cores)


@dataclass(frozen=True)
class _Trace:
    latency_ms: np.ndarray  # every request's, writes included
    path: np.ndarray
    cpu_s: np.ndarray  # each request's own CPU demand, wake-ups and switches not included
    paid: np.ndarray  # (n, 2): loop wake-ups and preemptions charged to each request (rounds only; zeros otherwise)


def _trace(params: KneeParams, paths: Paths, rate: float, duration_s: float, seed: int) -> _Trace:
    rng = np.random.default_rng(seed)
    n = max(1, round(rate * duration_s))
    gaps = rng.exponential(1.0, n)
    u_path, u_inst = rng.random(n), rng.random(n)
    base = _lognormal(rng, 1.0, params.cpu_cv, n)
    arrival = np.cumsum(gaps) / rate
    is_write = u_path < paths.write_ratio
    u_read = (u_path - paths.write_ratio) / max(1e-12, 1 - paths.write_ratio)
    hit1 = ~is_write & (u_read < paths.l1)
    to_db = ~is_write & (u_read >= paths.l1 + paths.l2)
    cpu_s = base * np.where(hit1, params.cpu_hit_ms, params.cpu_miss_ms) / 1000.0
    instance = np.minimum((u_inst * params.instances).astype(np.int64), params.instances - 1)
    path = np.where(is_write, rounds.WRITE, np.where(hit1, rounds.HIT, np.where(to_db, rounds.DB, rounds.L2)))
    if params.discipline == "rounds":
        loop, n_cores, speed, pool = _loops(params, u_inst)
        stmts = max(1, params.statements_per_write)
        setting = dict(cores=n_cores, speed=speed, steps=params.steps, statements_per_write=stmts,
                       io_l2=params.l2_ms / 1000.0, io_db=params.db_ms / 1000.0,
                       io_db_write=params.db_write_ms / stmts / 1000.0, pool=pool,
                       callback=params.callback_ms / 1000.0, wake=params.wake_ms / 1000.0,
                       slice_s=params.slice_ms / 1000.0, switch=params.switch_ms / 1000.0)
        if params.keys is None:
            done = rounds.replay(arrival, loop, path, cpu_s, **setting)
        else:
            key = params.keys.of(rng.random(n))
            done = rounds.replay(arrival, loop, path, base * params.cpu_hit_ms / 1000.0, key=key,
                                 miss_cpu=base * params.cpu_miss_ms / 1000.0,
                                 cache=_warm_cache(params, paths, rate, seed, setting), **setting)
            path = done.path
            cpu_s = base * np.where(path == rounds.HIT, params.cpu_hit_ms, params.cpu_miss_ms) / 1000.0
        return _Trace(done.latency * 1000.0 + params.overhead_ms, path, cpu_s, done.paid)
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
    return _Trace(total, path, cpu_s, np.zeros((n, 2), np.int64))


def _warm_cache(params: KneeParams, paths: Paths, rate: float, seed: int,
                setting: dict[str, Any]) -> rounds.CacheState:
    """The caches after ``keys.warmup_s`` of the same load from empty (own draws), on the window's clock."""
    keys = params.keys
    assert keys is not None
    cache = rounds.CacheState.empty(_loop_count(params), keys.count, keys.l1_ttl_s, keys.l2_ttl_s)
    if keys.warmup_s <= 0:
        return cache
    rng = np.random.default_rng(seed + 100_003)
    n = max(1, round(rate * keys.warmup_s))
    arrival = np.cumsum(rng.exponential(1.0, n)) / rate
    u_path, u_inst = rng.random(n), rng.random(n)
    base = _lognormal(rng, 1.0, params.cpu_cv, n)
    loop = _loops(params, u_inst)[0]
    path = np.where(u_path < paths.write_ratio, rounds.WRITE, rounds.HIT)
    rounds.replay(arrival, loop, path, base * params.cpu_hit_ms / 1000.0, key=keys.of(rng.random(n)),
                  miss_cpu=base * params.cpu_miss_ms / 1000.0, cache=cache, **setting)
    return cache.shifted(keys.warmup_s + keys.gap_s)


@dataclass(frozen=True)
class KneePrediction:
    """P99 (and P50) at one rate, with the interval from the calibration's spread and the seeds."""

    rate: float
    utilisation: float
    p50_ms: float
    p99_ms: float
    p99_low_ms: float
    p99_high_ms: float
    stale: float
    hit_l1: float = math.nan  # reads answered by L1, and by L2 among the rest, as the traces served them
    hit_l2: float = math.nan

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def served_hit_ratios(path: np.ndarray) -> tuple[float, float]:
    """L1 hits over reads, and L2 hits over the reads L1 missed, of a trace's served paths (as the service's
    counters count them: a read that waited for another's fill missed both tiers)."""
    reads = path[path != rounds.WRITE]
    missed = int((reads != rounds.HIT).sum())
    return (float((reads == rounds.HIT).mean()) if reads.size else math.nan,
            float((reads == rounds.L2).sum() / missed) if missed else math.nan)


def _p(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if values.size else math.nan


def predict(params: KneeParams, paths: Paths, rate: float, *, duration_s: float = 60.0, seeds: int = 3,
            cpu_low: float = 1.0, cpu_high: float = 1.0) -> KneePrediction:
    """The model's P99 at ``rate``: the mean over ``seeds`` traces, and an interval from the fastest
    (``cpu_low`` x the calibrated CPU times) to the slowest (``cpu_high`` x) host the calibration saw,
    each at its most favourable / least favourable seed."""
    traces = [_trace(params, paths, rate, duration_s, seed=s) for s in range(1, seeds + 1)]
    mid = [t.latency_ms[t.path != rounds.WRITE] for t in traces]
    low = [_p(latencies_ms(params.scaled(cpu_low), paths, rate, duration_s, seed=s), 0.99)
           for s in range(1, seeds + 1)]
    high = [_p(latencies_ms(params.scaled(cpu_high), paths, rate, duration_s, seed=s), 0.99)
            for s in range(1, seeds + 1)]
    p99s = [_p(m, 0.99) for m in mid]
    utilisation = (float(np.mean([_profile(params, t, rate).utilisation for t in traces]))
                   if params.discipline == "rounds" else params.utilisation(rate, paths))
    hits = np.mean([served_hit_ratios(t.path) for t in traces], axis=0)
    return KneePrediction(rate=rate, utilisation=utilisation,
                          p50_ms=float(np.mean([_p(m, 0.5) for m in mid])), p99_ms=float(np.mean(p99s)),
                          p99_low_ms=min(min(low), min(p99s)), p99_high_ms=max(max(high), max(p99s)),
                          stale=paths.stale, hit_l1=float(hits[0]), hit_l2=float(hits[1]))


def fit_light_load(params: KneeParams, paths: Paths, rate: float, p50_ms: float, p99_ms: float, *,
                   duration_s: float = 60.0, seeds: int = 3) -> KneeParams:
    """The CPU-time spread (lognormal cv 0.1 .. 3.0) and fixed client overhead with which the model
    reproduces a light-load run's own P50 and P99: the overhead closes the P50 gap, the cv the rest.
    Only the light-load run is used; every other load is then predicted with these values."""
    best: tuple[float, KneeParams] | None = None
    for cv in np.round(np.arange(0.1, 3.01, 0.1), 2):
        trial = replace(params, cpu_cv=float(cv), overhead_ms=0.0)
        runs = [latencies_ms(trial, paths, rate, duration_s, seed=s) for s in range(1, seeds + 1)]
        overhead = max(0.0, p50_ms - float(np.mean([_p(r, 0.5) for r in runs])))
        err = abs(float(np.mean([_p(r, 0.99) for r in runs])) + overhead - p99_ms)
        if best is None or err < best[0]:
            best = (err, replace(trial, overhead_ms=overhead))
    assert best is not None
    return best[1]
