"""The knee bench's CPU calibration: busy-loop CPU per path and the price of a context switch, from light load.

Why a regression on context switches. The workers' CPU per request falls with load (3.0-3.3 ms at
25-30 % of capacity, 2.4-2.8 ms in overload on this host) and then stops falling well before
overload, and it is the busy figure that sets where the knee is: 5 % of CPU there is the difference
between a P99 of 160 ms and seconds. The workers' own context switches account for it (knee bench,
seven loads from 23 % to overload plus a burst run, one session): voluntary switches (the loop
sleeps in epoll, and is woken by an arrival or a reply) fall from 2.3 per request at light load to
0 in overload, while involuntary ones (two loops sharing the core, each switched out when its
slice is used up) rise from 0.5 to 1.4. CPU per request = 2.12 ms + 0.43 ms x (voluntary +
involuntary switches) fitted all seven within 3 %, and one CPU over the sum fitted as well as
separate prices for the two kinds, which light load alone cannot tell apart. So every light-load
run gives one equation

    CPU per request = hit_ms x (L1 hits / requests) + miss_ms x (other requests / requests)
                      + switch_ms x (context switches / requests)

and the runs are chosen so the three unknowns are pinned: one hot product (almost all L1 hits),
Poisson arrivals of the full mix (many sleeps), the same mix in bursts (the loops stay awake and
preempt each other: a third of the switches). Least squares over every set, non-negative. The
round model (simulator/rounds.py) then charges ``switch_ms`` for every sleep and every preemption it
replays, so the CPU per request at each load follows from the replay, not from a formula in load.
The earlier estimate (Poisson minus bursts of 8, with a closed form for how many requests of a
burst find their loop idle) leaned on one difference of two noisy figures and a count it could not
see, and on a busy loop that costs nothing to share; here the counts are measured.

The prediction interval: each calibration set's own busy-loop CPU (its runs less the fitted
switching) against the pooled fit, i.e. how far the host's speed moved between sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import nnls

__all__ = ["fit_cpu", "switches_per_request"]


def switches_per_request(run: dict[str, Any]) -> float:
    """Voluntary + involuntary context switches of the workers per request served in ``run``."""
    return run["voluntary_switches_per_request"] + run["involuntary_switches_per_request"]


def _design(run: dict[str, Any]) -> tuple[list[float], float]:
    served = max(1.0, run["served_reads"] + run["served_writes"])
    hit_share = run["l1_hits"] / served
    return [hit_share, 1.0 - hit_share, switches_per_request(run)], run["cpu_per_request_ms"]


def fit_cpu(sets: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Fit ``hit_ms``, ``miss_ms`` and ``switch_ms`` to every run of every calibration set (each run a
    `validate_knee.Bench.measure` or ``burst_cpu`` result). Returns them with each run's residual
    and each set's busy-loop CPU relative to the pooled fit (``cpu_spread_per_run``)."""
    runs = [r for s in sets for r in s]
    rows = [_design(r) for r in runs]
    a = np.array([x for x, _ in rows])
    y = np.array([v for _, v in rows])
    (hit_ms, miss_ms, switch_ms), _ = nnls(a, y)
    residuals = y - a @ np.array([hit_ms, miss_ms, switch_ms])
    spread = []
    for s in sets:
        busy = [_design(r) for r in s]
        own = sum(v - switch_ms * x[2] for x, v in busy)
        fitted = sum(hit_ms * x[0] + miss_ms * x[1] for x, _ in busy)
        spread.append(float(own / fitted) if fitted > 0 else 1.0)
    return {"hit_ms": float(hit_ms), "miss_ms": float(miss_ms), "switch_ms": float(switch_ms),
            "residuals_ms": [float(x) for x in residuals], "cpu_spread_per_run": spread,
            "rms_residual_ms": float(np.sqrt(np.mean(residuals ** 2)))}
