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

* **Full garbage collections** (``gc_pause_ms`` every ``gc_every`` requests a loop serves) stop their
  loop for the whole pause (rounds). CPython makes one once the objects promoted since the last exceed
  a quarter of the long-lived ones, so the knee bench takes the pace from the workers' promotions per
  request at light load (``python_gc_promoted_objects_total``) and the pause from their timed full
  collections (``python_gc_pause_seconds``); ``gc_served_s`` places the first after a known start.

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

import numpy as np

from . import rounds
from .knee_params import Keys, KneeParams, Paths, paths_from_result
from .knee_trace import Trace
from .knee_trace import trace as replay_trace
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
    "served_hit_ratios",
]

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
    trace = replay_trace(params, paths, rate, duration_s, seed)
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
    return _profile(params, replay_trace(params, paths, rate, duration_s, seed), rate)


def _profile(params: KneeParams, trace: Trace, rate: float) -> LoadProfile:
    n = max(1, trace.path.size)
    wakes, switches = (float(x) for x in trace.paid.sum(axis=0))
    cpu_ms = (float(trace.cpu_s.sum() + trace.stall_cpu_s) * 1000.0 + wakes * params.wake_ms
              + switches * params.switch_ms) / n
    return LoadProfile(rate=rate, cpu_ms=cpu_ms, wakes=wakes / n, switches=switches / n,
                       utilisation=rate * cpu_ms / 1000.0 / params.cores)


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
    traces = [replay_trace(params, paths, rate, duration_s, seed=s) for s in range(1, seeds + 1)]
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
