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

Each set's own host speed. This shared host's speed drifts by several percent over a run (the three
sets' busy CPU differed by up to 11 % in one session), and it drifts together with the counts: a slower
stretch is also one where the loops are preempted more. With one speed for all sets, that drift leaked
into the price of a preemption: the run kept as ``simulator-knee-degenerate-fit`` fitted 0.54 ms per
preemption where the other two fitted 0, and an L1 hit's CPU equal to a miss's (1.58 vs 1.56 ms), and its
model saturated below the measured capacity. So every set gets its own speed factor (all of its CPU,
switching included, scaled by one number; the factors' geometric mean is 1), fitted jointly with the
prices by alternating non-negative least squares. On the three kept runs the prices then agree (hit
1.88-1.92, miss 2.22-2.27, wake 0.33-0.38, switch 0 ms) and the factors are the prediction interval: how
far the host's speed moved between sets.

A fit is also judged: an L1 hit skips the Redis round trip, the query and the serialisation, so a fit
whose hit CPU is not below its miss CPU (or with a zero price for the whole path) did not separate the
paths, and ``problems`` says so; the bench fails such a run loudly instead of predicting from it.
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


def _prices_and_speeds(xs: list[np.ndarray], ys: list[np.ndarray], *, rounds: int = 500,
                       tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Alternate: the prices by non-negative least squares with each set's rows scaled by its speed, then
    each set's speed by least squares on its own rows (closed form), normalised to geometric mean 1.
    Each half-step lowers the squared error, so it converges; starts from equal speeds."""
    speeds = np.ones(len(xs))
    for _ in range(rounds):
        prices, _ = nnls(np.vstack([x * s for x, s in zip(xs, speeds, strict=True)]), np.concatenate(ys))
        fitted = [x @ prices for x in xs]
        new = np.array([float(y @ f / (f @ f)) if f @ f > 0 else 1.0 for y, f in zip(ys, fitted, strict=True)])
        new /= np.exp(np.mean(np.log(new)))
        moved = float(np.max(np.abs(new - speeds)))
        speeds = new
        if moved < tol:
            break
    prices, _ = nnls(np.vstack([x * s for x, s in zip(xs, speeds, strict=True)]), np.concatenate(ys))
    return prices, speeds


def fit_problems(hit_ms: float, miss_ms: float) -> list[str]:
    """Why a fit cannot be predicted from (empty when it can): see the module's last paragraph."""
    problems = []
    if miss_ms <= 0:
        problems.append(f"a request that misses L1 fitted no CPU ({miss_ms:.3f} ms)")
    if hit_ms >= miss_ms:
        problems.append(f"an L1 hit fitted as much CPU as a miss ({hit_ms:.3f} >= {miss_ms:.3f} ms): "
                        "the runs did not separate the paths")
    return problems


def fit_cpu(sets: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Fit ``hit_ms``, ``miss_ms``, ``wake_ms`` (per voluntary switch) and ``switch_ms`` (per
    involuntary one) to every run of every calibration set (each run a `validate_knee.Bench.measure`
    or ``burst_cpu`` result), with each set's own speed. Returns them with each run's residual, each
    set's speed (``cpu_spread_per_run``) and the fit's ``problems``."""
    designs = [[_design(r) for r in s] for s in sets]
    xs = [np.array([x for x, _ in d]) for d in designs]
    ys = [np.array([v for _, v in d]) for d in designs]
    prices, speeds = _prices_and_speeds(xs, ys)
    hit_ms, miss_ms, wake_ms, switch_ms = (float(v) for v in prices)
    residuals = np.concatenate([y - s * (x @ prices) for x, y, s in zip(xs, ys, speeds, strict=True)])
    return {"hit_ms": hit_ms, "miss_ms": miss_ms, "wake_ms": wake_ms, "switch_ms": switch_ms,
            "residuals_ms": [float(x) for x in residuals], "cpu_spread_per_run": [float(s) for s in speeds],
            "rms_residual_ms": float(np.sqrt(np.mean(residuals ** 2))),
            "speed_per_set": "each set's CPU, switching included, over the pooled prices'",
            "problems": fit_problems(hit_ms, miss_ms)}
