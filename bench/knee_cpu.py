"""The knee bench's CPU calibration: busy-loop CPU per path and the price of a context switch, from light load.

Why a regression on context switches. The workers' CPU per request falls with load (3.0-3.3 ms at
25-30 % of capacity, 2.4-2.8 ms in overload on one host) and then stops falling well before
overload, and it is the busy figure that sets where the knee is: 5 % of CPU there is the difference
between a P99 of 160 ms and seconds. The workers' own context switches account for it: voluntary
switches (the loop sleeps in epoll, and is woken by an arrival or a reply) fall from 2.1-2.3 per
request at light load to 0 in overload, while involuntary ones (two loops sharing the core, each
switched out when its slice is used up, or by a loop that wakes) rise from 0.4-0.6 to 1.2-1.4.

Two prices, because hosts differ. On the host of stops 10-12 (a cpuidle driver, every sleep an
idle entry) a regression over every run of a session, overload included, gave both kinds the same
price (0.49 ms each). On the host of stop 13 (no cpuidle driver) the same regression gave a sleep
0.33 ms and a preemption 0.08 ms: one price fitted at light load, where sleeps dominate, put 7-10 %
too much CPU on every request near saturation, where only preemptions are left, and the model's
service saturated at 90 % of the measured capacity. So every light-load run gives one equation

    CPU per request = hit_ms x (L1 hits / requests) + miss_ms x (other requests / requests)
                      + wake_ms x (voluntary switches / request) + switch_ms x (involuntary / request)

and the runs are chosen so that the four unknowns are pinned: one hot product with Poisson
arrivals (almost all L1 hits, one sleep per request), the full mix with Poisson arrivals (many
sleeps), the full mix in bursts (the loops stay awake and preempt each other), and the hot product
in bursts (L1 hits, few sleeps, many preemptions). With only the first three the hit/miss split and
the two prices are not separable (three distinct points for four unknowns; fits wandered to 0 or
1.7 ms). Least squares over every set, non-negative. The round model (simulator/rounds.py) then
charges ``wake_ms`` for every sleep and ``switch_ms`` for every preemption it replays, so the CPU per
request at each load follows from the replay, not from a formula in load.

The prediction interval: each calibration set's own busy-loop CPU (its runs less the fitted
switching) against the pooled fit, i.e. how far the host's speed moved between sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import nnls

__all__ = ["fit_cpu"]


def _design(run: dict[str, Any]) -> tuple[list[float], float]:
    served = max(1.0, run["served_reads"] + run["served_writes"])
    hit_share = run["l1_hits"] / served
    return ([hit_share, 1.0 - hit_share, run["voluntary_switches_per_request"],
             run["involuntary_switches_per_request"]], run["cpu_per_request_ms"])


def fit_cpu(sets: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Fit ``hit_ms``, ``miss_ms``, ``wake_ms`` (per voluntary switch) and ``switch_ms`` (per
    involuntary one) to every run of every calibration set (each run a `validate_knee.Bench.measure`
    or ``burst_cpu`` result). Returns them with each run's residual and each set's busy-loop CPU
    relative to the pooled fit (``cpu_spread_per_run``)."""
    runs = [r for s in sets for r in s]
    rows = [_design(r) for r in runs]
    a = np.array([x for x, _ in rows])
    y = np.array([v for _, v in rows])
    prices, _ = nnls(a, y)
    hit_ms, miss_ms, wake_ms, switch_ms = (float(v) for v in prices)
    residuals = y - a @ prices
    spread = []
    for s in sets:
        busy = [_design(r) for r in s]
        own = sum(v - wake_ms * x[2] - switch_ms * x[3] for x, v in busy)
        fitted = sum(hit_ms * x[0] + miss_ms * x[1] for x, _ in busy)
        spread.append(float(own / fitted) if fitted > 0 else 1.0)
    return {"hit_ms": hit_ms, "miss_ms": miss_ms, "wake_ms": wake_ms, "switch_ms": switch_ms,
            "residuals_ms": [float(x) for x in residuals], "cpu_spread_per_run": spread,
            "rms_residual_ms": float(np.sqrt(np.mean(residuals ** 2)))}
