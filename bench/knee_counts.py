"""What the knee bench's workers say about a run, from their own counters: requests served and L1/L2
hits (``/metrics`` scraped before and after), CPU and context switches per request (``/proc``, read by
validate_knee.service_counters), and the garbage collector's figures that pace the model's
full-collection stops. Kept apart from validate_knee.py, which drives the runs, so that the rules that
turn counters into figures can be read (and tested) on their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.calibrate import delta, read_hits

PRODUCT_ROUTE = "/products/{pid}"  # the route label of the product endpoint in http_requests_total


def served_counts(m0: list[Any], m1: list[Any], duration: float, l1_ttl_s: float) -> dict[str, Any]:
    """What the workers answered between two scrapes, from their own counters: in overload the
    generator also counts requests it never sent or gave up on, which no worker saw, so hit ratios and
    CPU per request are taken over the workers' own counts."""
    pairs = list(zip(m0, m1, strict=True))

    def grew(name: str, **labels: str) -> float:  # over the run, all workers
        return sum(delta(a, b, name, **labels) for a, b in pairs)

    def since_start(name: str, **labels: str) -> float:  # since each worker started, all workers
        return sum(delta({}, b, name, **labels) for b in m1)

    served = [(delta(a, b, "http_requests_total", method="GET", route=PRODUCT_ROUTE),
               delta(a, b, "http_requests_total", method="PUT", route=PRODUCT_ROUTE)) for a, b in pairs]
    s_reads, s_writes = sum(r for r, _ in served), sum(w for _, w in served)
    hits = [read_hits(a, b, writes=int(w), duration_s=duration, l1_ttl_s=l1_ttl_s)
            for (a, b), (_, w) in zip(pairs, served, strict=True)]
    l1, l2 = sum(h[0] for h in hits), sum(h[1] for h in hits)
    pauses, paused_s = "python_gc_pause_seconds_count", "python_gc_pause_seconds_sum"
    return {"served_reads": s_reads, "served_writes": s_writes, "l1_hits": l1,
            "hit_l1": l1 / max(1.0, s_reads), "hit_l2": l2 / max(1.0, s_reads - l1),
            "gc_full_collections": int(grew(pauses, generation="2")),
            "gc_full_pause_s": grew(paused_s, generation="2"),
            # what paces the full collections (refservice.metrics.watch_heap), and every full collection each
            # worker made since it started (its start-up one included: knee_deploy), for their length
            "gc_promoted": grew("python_gc_promoted_objects_total"),
            "gc_young_collections": int(grew(pauses, generation="1")),
            "gc_long_lived": [delta({}, b, "python_gc_long_lived_objects") for b in m1],
            "gc_lifetime_full_collections": int(since_start(pauses, generation="2")),
            "gc_lifetime_full_pause_s": since_start(paused_s, generation="2")}


def gc_calibration(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Full garbage collections from light-load runs, where they are too rare to count: how many requests a
    worker serves between two of its own, from what CPython paces them by (a full collection once the
    objects promoted since the last one exceed a quarter of the long-lived ones, and at least eleven
    generation-1 collections later; refservice.metrics.watch_heap), and how long one lasts, from every full
    collection the workers made (each worker's start-up one included, on the heap it then serves with:
    knee_deploy). Files from before the promotions were counted pace by the collections the runs saw."""
    served = sum(r["served_reads"] + r["served_writes"] for r in runs)
    seen = sum(r["gc_full_collections"] for r in runs)
    if "gc_promoted" not in runs[0]:
        return {"full_collections": seen, "requests_served": served,
                "pause_ms": sum(r["gc_full_pause_s"] for r in runs) / seen * 1000 if seen else None,
                "requests_per_collection": served / seen if seen else None,
                "from": "the Poisson and burst light-load runs (full mix)"}
    promoted = sum(r["gc_promoted"] for r in runs) / max(1.0, served)
    young = sum(r["gc_young_collections"] for r in runs) / max(1.0, served)
    long_lived = float(np.mean([n for r in runs for n in r["gc_long_lived"]]))
    timed = sum(r["gc_lifetime_full_collections"] for r in runs)
    by_growth = long_lived / 4 / promoted if promoted > 0 else None
    by_count = 11 / young if young > 0 else None
    every = max(by_growth, by_count) if by_growth and by_count else None
    return {"full_collections": seen, "requests_served": served,
            "pause_ms": sum(r["gc_lifetime_full_pause_s"] for r in runs) / timed * 1000 if timed else None,
            "seen_pause_ms": sum(r["gc_full_pause_s"] for r in runs) / seen * 1000 if seen else None,
            "requests_per_collection": every, "promoted_per_request": promoted,
            "young_collections_per_request": young, "long_lived_objects": long_lived,
            "timed_collections": timed, "since": "each worker's full collection once started (knee_deploy)",
            "from": "the Poisson and burst light-load runs (full mix)"}


def per_request(before: tuple[list[float], tuple[int, int], int | None],
                after: tuple[list[float], tuple[int, int], int | None], served: float) -> dict[str, Any]:
    """What the calibration regresses on (bench/knee_cpu.py), per request the workers served."""
    (c0, (v0, i0), e0), (c1, (v1, i1), e1) = before, after
    return {"cpu_per_request_ms": sum(b - a for a, b in zip(c0, c1, strict=True)) / served * 1000,
            "voluntary_switches_per_request": (v1 - v0) / served,
            "involuntary_switches_per_request": (i1 - i0) / served,
            "core_idle_entries_per_request": None if e0 is None or e1 is None else (e1 - e0) / served}
