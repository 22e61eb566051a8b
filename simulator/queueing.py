"""Queueing at the service nodes: an exact FCFS recursion for traces, Erlang C for the closed forms.

Trace engine: for a FCFS node with c identical servers, the waiting time of each arrival follows
from the Kiefer-Wolfowitz generalisation of Lindley's recursion: keep the times at which the c
servers next become free (a min-heap); an arrival waits ``max(0, earliest_free - arrival)`` and
the earliest server then becomes free at ``start + service``. This is exact for FCFS and runs in
O(n log c) in a compiled loop.

Analytic engine: M/M/c with the Erlang C probability of waiting; the waiting time is 0 with
probability 1 - C and exponential with rate ``c·mu - lambda`` otherwise.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .model import ServiceTime

__all__ = ["erlang_c", "fcfs_waits", "mmc_wait_quantile", "sample_service"]


@numba.njit(cache=True)
def _fcfs_waits(arrival: np.ndarray, service: np.ndarray, servers: int) -> np.ndarray:
    n = arrival.size
    waits = np.empty(n)
    free = np.zeros(servers)  # min-heap of times at which each server becomes free
    for i in range(n):
        a = arrival[i]
        start = free[0] if free[0] > a else a
        waits[i] = start - a
        # replace the heap top with the new free time and sift it down
        x = start + service[i]
        j = 0
        while True:
            left = 2 * j + 1
            if left >= servers:
                break
            child = left
            right = left + 1
            if right < servers and free[right] < free[left]:
                child = right
            if free[child] < x:
                free[j] = free[child]
                j = child
            else:
                break
        free[j] = x
    return waits


def fcfs_waits(arrival: np.ndarray, service: np.ndarray, servers: int) -> np.ndarray:
    """Waiting time of each job at a FCFS ``servers``-server node; ``arrival`` need not be sorted."""
    if arrival.size == 0:
        return np.empty(0)
    order = np.argsort(arrival, kind="stable")
    waits = np.empty(arrival.size)
    waits[order] = _fcfs_waits(np.ascontiguousarray(arrival[order], dtype=np.float64),
                               np.ascontiguousarray(service[order], dtype=np.float64), int(max(1, servers)))
    return waits


def sample_service(rng: np.random.Generator, law: ServiceTime, size: int) -> np.ndarray:
    """Service times in seconds drawn from a `ServiceTime` law."""
    mean = law.mean_ms / 1000.0
    if size == 0 or mean == 0:
        return np.zeros(size)
    if law.dist == "const":
        return np.full(size, mean)
    if law.dist == "exp":
        return rng.exponential(mean, size)
    sigma2 = math.log1p(law.cv**2)
    return rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), size)


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``lambda/mu`` (Erlangs)."""
    c = int(servers)
    if offered <= 0:
        return 0.0
    if offered >= c:
        return 1.0
    # Erlang B by the stable recursion, then C from B
    b = 1.0
    for k in range(1, c + 1):
        b = offered * b / (k + offered * b)
    rho = offered / c
    return b / (1 - rho + rho * b)


def mmc_wait_quantile(q: float, servers: int, arrival_rate: float, mean_service_s: float) -> float:
    """The q-quantile of the M/M/c waiting time (seconds); inf when the node is overloaded."""
    if arrival_rate <= 0 or mean_service_s <= 0:
        return 0.0
    mu = 1.0 / mean_service_s
    offered = arrival_rate / mu
    if offered >= servers:
        return math.inf
    pw = erlang_c(servers, offered)
    if 1 - q >= pw:
        return 0.0
    return math.log(pw / (1 - q)) / (servers * mu - arrival_rate)
