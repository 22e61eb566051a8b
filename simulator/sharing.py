"""Processor sharing with a cap on concurrency: the knee model's ``discipline="ps"``, kept beside the
round replay to compare (bench/validate_knee.py reports both)."""

from __future__ import annotations

import numba
import numpy as np

from ._heap import heap_pop, heap_push

__all__ = ["ps_sojourn"]


@numba.njit(cache=True)
def _ps(arrival: np.ndarray, work: np.ndarray, servers: float, wake: float,
        loop: np.ndarray, loops: int, cap: int) -> np.ndarray:  # pragma: no cover - compiled
    """Every active job is served at the same rate, so one virtual clock (service attained by each
    job since time 0) suffices: job i leaves when it reaches its tag, virtual clock at arrival +
    work. The tags sit in a min-heap: O(log n) per event, however long the queue gets. A job whose
    event loop (``loop[i]`` of ``loops`` sharing the node) has nothing to do carries ``wake`` more
    work: that loop wakes up for it.

    At most ``cap`` jobs are in service (the client's connections); the rest wait FCFS in front,
    in arrival order, so the waiting jobs are always the index range ``[admitted, i)``. A job is
    charged from its arrival, waiting included (as the load generator charges from the intended
    send time). ``cap`` >= n is plain PS; ``cap`` = 1 with ``servers`` >= 1 is FCFS on one server."""
    n = arrival.size
    out = np.empty(n)
    tag = np.empty(n)
    who = np.empty(n, np.int64)
    busy = np.zeros(max(1, loops), np.int64)
    active = 0
    now = 0.0
    virtual = 0.0
    i = 0
    admitted = 0
    while i < n or active > 0:
        share = min(1.0, servers / active) if active > 0 else 0.0
        done_at = now + max(tag[0] - virtual, 0.0) / share if active > 0 else np.inf
        if i < n and arrival[i] <= done_at:
            virtual += (arrival[i] - now) * share
            now = arrival[i]
            i += 1
        else:
            virtual = max(virtual, tag[0])
            now = done_at
            j = who[0]
            out[j] = now - arrival[j]
            busy[loop[j]] -= 1
            heap_pop(tag, who, active)
            active -= 1
        while admitted < i and active < cap:  # a free connection takes the oldest waiting job
            k = admitted
            extra = wake if busy[loop[k]] == 0 else 0.0
            heap_push(tag, who, active, virtual + work[k] + extra, k)
            busy[loop[k]] += 1
            active += 1
            admitted += 1
    return out


def ps_sojourn(arrival: np.ndarray, work: np.ndarray, servers: float = 1.0, wake: float = 0.0,
               loop: np.ndarray | None = None, cap: int = 0) -> np.ndarray:
    """Time in system of each job at a processor-sharing node of ``servers`` unit-speed servers
    (every one of n jobs served at rate min(1, servers / n)); ``arrival`` need not be sorted. A job
    arriving when its event loop (``loop``: which of the node's loops serves it; default one loop)
    has no other job needs ``wake`` more work. With ``cap`` > 0 at most ``cap`` jobs share the
    servers and the others wait FCFS in front (a client with ``cap`` connections); 0: no cap."""
    if arrival.size == 0:
        return np.empty(0)
    loop = np.zeros(arrival.size, np.int64) if loop is None else np.asarray(loop, np.int64)
    order = np.argsort(arrival, kind="stable")
    out = np.empty(arrival.size)
    out[order] = _ps(np.ascontiguousarray(arrival[order], dtype=np.float64),
                     np.ascontiguousarray(work[order], dtype=np.float64), float(servers), float(wake),
                     np.ascontiguousarray(loop[order]), int(loop.max()) + 1,
                     int(cap) if cap > 0 else int(arrival.size))
    return out
