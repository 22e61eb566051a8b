"""Capacity as an answer: the request rate at which a P99 target is crossed, with an interval.

"How much traffic can this configuration take before P99 leaves 500 ms?" is answered by
bisection on the rate over the knee model (`knee.latencies_ms`). Because the model replays one
trace with common random numbers, its P99 is monotone in the rate and the bisection is exact
up to ``rel_tol``. The interval comes from the same crossing on the slowest and fastest host the
calibration saw (``cpu_high`` / ``cpu_low`` times the calibrated CPU) at the least / most
favourable seed, so it says how far the answer moves with what the calibration could not pin
down. The path mix (L1/L2/DB shares) is recomputed at every rate: a TTL cache hits more often
when traffic grows, which moves the knee.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .knee import KneeParams, Paths, latencies_ms, load_profile, paths_from_result
from .model import Scenario

__all__ = ["CapacityAnswer", "capacity", "crossing", "scenario_capacity"]

MAX_REQUESTS = 150_000
DEFAULT_CPU_SPREAD = 0.10
"""Without a measured spread, the interval assumes CPU times known within +-10 %."""


@dataclass(frozen=True)
class CapacityAnswer:
    """The crossing of ``target_p99_ms``: a central rate and its interval, in requests/s."""

    target_p99_ms: float
    rate: float
    rate_low: float
    rate_high: float
    saturation_rate: float
    note: str = ""

    @property
    def centre(self) -> float:
        return (self.rate_low + self.rate_high) / 2

    def contains(self, rate: float) -> bool:
        return self.rate_low <= rate <= self.rate_high

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "centre": self.centre}


def crossing(p99_at: Callable[[float], float], target_ms: float, lo: float, hi: float,
             rel_tol: float = 0.005) -> float:
    """The rate in [lo, hi] where a non-decreasing ``p99_at`` reaches ``target_ms`` (bisection);
    ``lo`` when even ``lo`` misses it, ``hi`` when even ``hi`` meets it."""
    if p99_at(lo) >= target_ms:
        return lo
    if p99_at(hi) < target_ms:
        return hi
    while hi - lo > rel_tol * hi:
        mid = (lo + hi) / 2
        if p99_at(mid) < target_ms:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def capacity(params: KneeParams, paths_at: Callable[[float], Paths], target_p99_ms: float, *,
             duration_s: float = 60.0, seeds: int = 3, cpu_low: float = 1.0, cpu_high: float = 1.0,
             rel_tol: float = 0.005) -> CapacityAnswer:
    """The rate (requests/s) at which the model's P99 of reads reaches ``target_p99_ms``.

    Central: mean P99 over ``seeds`` traces with the calibrated CPU times. Low end: the slowest
    host (``cpu_high``) at the worst seed; high end: the fastest host (``cpu_low``) at the best seed.
    """
    cache: dict[float, Paths] = {}

    def paths(rate: float) -> Paths:
        if rate not in cache:
            cache[rate] = paths_at(rate)
        return cache[rate]

    def p99s(p: KneeParams, rate: float) -> list[float]:
        return [float(np.quantile(latencies_ms(p, paths(rate), rate, duration_s, seed=s), 0.99))
                for s in range(1, seeds + 1)]

    sat = params.saturation_rate(paths(params.saturation_rate(paths_at(1.0))))
    lo, hi = 0.01 * sat, 1.5 * sat
    if params.discipline == "rounds":  # flat out, loops sharing a core also pay for preempting each other
        flat_out = load_profile(params, paths(sat), hi, min(duration_s, 20.0))
        sat = min(sat, params.cores * 1000.0 / flat_out.cpu_ms)
    central = crossing(lambda r: float(np.mean(p99s(params, r))), target_p99_ms, lo, hi, rel_tol)
    low = crossing(lambda r: max(p99s(params.scaled(cpu_high), r)), target_p99_ms, lo, hi, rel_tol)
    high = crossing(lambda r: min(p99s(params.scaled(cpu_low), r)), target_p99_ms, lo, hi, rel_tol)
    note = ""
    if central <= lo:
        note = "the target is missed even at light load: no rate meets it"
    elif central >= hi:
        note = "the target is met beyond saturation within the simulated duration: raise duration_s"
    return CapacityAnswer(target_p99_ms=target_p99_ms, rate=central, rate_low=min(low, central),
                          rate_high=max(high, central), saturation_rate=sat, note=note)


def _at_rate(sc: Scenario, rate: float) -> Scenario:
    """``sc`` with reads and writes scaled together so that they total ``rate`` requests/s."""
    writes = sum(dt.writes_per_s for dt in sc.data_types.values())
    k = rate / (sc.read_rate + writes)
    return sc.with_changes(users=sc.users * k,
                           **{f"data_types.{n}.writes_per_s": dt.writes_per_s * k for n, dt in sc.data_types.items()})


VALIDATION = ("Known error: against the reference deployment (bench/results/simulator-knee.md) the last "
              "validation's measured crossing came 1.2 % below the predicted centre (inside its interval; 0.9 % "
              "below, inside, in a repeat), and at 50-95 % load the measured P99 was 0.88-1.09x the predicted one "
              "(repeat 0.88-1.01x), while the runs of one load spread up to 1.8x near the knee (85 %: 57-115 ms). "
              "That holds for workers that have run a while: a fresh Python worker's first full garbage collection "
              "(60-130 ms) put P99 at 85-95 % up to 2.5x above the prediction in earlier runs "
              "(simulator-knee-startup-gc.md). This answer's model draws its cache paths from the cache model "
              "instead of finding them by key, and replays collections only if the scenario states them "
              "(app.gc_pause_ms, app.gc_every_requests); validated that way it was 1.04-1.18x optimistic at "
              "50-95 %. Size with the interval's low end, calibrate on the host you plan for, and check against a "
              "measured point near the knee.")
"""What the last validation on an idle machine found, shown with every capacity answer: a figure people
size production with must carry its known error, not only its interval."""


def scenario_capacity(sc: Scenario, target_p99_ms: float | None = None, *, cores: float | None = None,
                      cpu_spread: float = DEFAULT_CPU_SPREAD, duration_s: float = 60.0) -> dict[str, Any]:
    """Capacity of a scenario's configuration (its app tier, caches and pools) against its P99 target
    (or ``target_p99_ms``): requests/s and the users that make them, with the interval."""
    from . import simulate

    target = float(target_p99_ms if target_p99_ms is not None else sc.targets.p99_ms)
    params = KneeParams.from_scenario(sc, cores)
    # keep a trace to ~MAX_REQUESTS at saturation: P99 needs many requests, not many seconds, once
    # an instance's busy periods last milliseconds (100K-user scenarios send tens of thousands a second)
    first = paths_from_result(simulate(sc, "analytic"))
    duration_s = min(duration_s, MAX_REQUESTS / params.saturation_rate(first))
    answer = capacity(params, lambda r: paths_from_result(simulate(_at_rate(sc, r), "analytic")), target,
                      duration_s=duration_s, cpu_low=1 - cpu_spread, cpu_high=1 + cpu_spread)
    writes = sum(dt.writes_per_s for dt in sc.data_types.values())
    per_user = (sc.read_rate + writes) / sc.users
    doc = answer.to_dict()
    doc.update(users=answer.rate / per_user, users_low=answer.rate_low / per_user,
               users_high=answer.rate_high / per_user, current_rate=sc.read_rate + writes,
               headroom=answer.rate / (sc.read_rate + writes) if sc.read_rate + writes > 0 else math.inf,
               trace_s=duration_s,
               model="each event loop replayed in rounds as asyncio runs it (a round per await), DB pool as a "
                     "FCFS queue of connection holds, per-instance L1; "
                     + (f"a {sc.app.gc_pause_ms:g} ms stop of a worker's loop every {sc.app.gc_every_requests:,.0f} "
                        "of its requests (full garbage collections); " if params.gc_ms_per_request > 0 else
                        "no garbage-collection stops; ")
                     + f"interval: CPU times +-{cpu_spread:.0%} and 3 seeds",
               validation=VALIDATION)
    return doc
