"""Prometheus metrics of the service, named as guide 6.1 and 6.2 expect.

One registry per app (so several apps can live in one test process). Names:
``http_requests_total`` and ``http_request_duration_seconds`` (API rate, errors, latency; the
guide's HighErrorRate alert works on them as written), ``cache_hits_total`` /
``cache_misses_total`` by tier and ``cache_entries`` (cache hit ratio and memory),
``db_queries_total`` by node and ``pg_replication_lag_seconds`` (database; the name and meaning
of postgres_exporter's replica lag, seen here from the router's probe), the breaker state,
the outbox backlog, ``python_gc_pause_seconds`` by generation, ``python_gc_promoted_objects_total`` and
``python_gc_long_lived_objects`` (while the service runs: what makes the next full collection due). Process
CPU/memory come from the standard process collector.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}

GC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's instruments, registered on a private registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)
        self.requests = Counter("http_requests_total", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.cache_hits = Counter("cache_hits_total", "Cache hits by tier", ["tier"], registry=r)
        self.cache_misses = Counter("cache_misses_total", "Cache misses by tier", ["tier"], registry=r)
        self.cache_errors = Counter("cache_errors_total", "Cache tier operations that failed", ["tier"],
                                    registry=r)
        self.cache_entries = Gauge("cache_entries", "Entries held by the in-process cache tiers",
                                   ["tier"], registry=r)
        self.db_queries = Counter("db_queries_total", "Database queries by node", ["node", "role"],
                                  registry=r)
        self.replication_lag = Gauge("pg_replication_lag_seconds", "Replay lag of each read replica",
                                     ["node"], registry=r)
        self.replica_healthy = Gauge("db_replica_healthy", "1 when a replica takes reads", ["node"],
                                     registry=r)
        self.breaker_state = Gauge("circuit_breaker_state", "0 closed, 1 half-open, 2 open", ["name"],
                                   registry=r)
        self.breaker_changes = Counter("circuit_breaker_state_changes_total", "Breaker transitions",
                                       ["name", "from_state", "to_state"], registry=r)
        self.outbox_backlog = Gauge("outbox_backlog", "Outbox rows not yet published", registry=r)
        self.outbox_published = Counter("outbox_published_total", "Events published from the outbox",
                                        ["topic"], registry=r)
        self.events_consumed = Counter("events_consumed_total", "Events applied by each consumer",
                                       ["consumer", "result"], registry=r)
        self.rate_limited = Counter("rate_limited_total", "Requests refused by the rate limiter",
                                    registry=r)
        self.switch = Gauge("emergency_switch", "1 when an emergency switch is on", ["switch"], registry=r)
        self.cache_warmed = Gauge("cache_warmed_keys", "Cache entries the warm-up loaded at this start (9.1)",
                                  registry=r)
        self.log_messages = Counter("log_messages_total", "Log lines at warning level and above, by level",
                                    ["level"], registry=r)
        self.stale_served = Counter("cache_stale_served_total", "Responses served stale in degraded mode",
                                    registry=r)
        self.gc_pause = Histogram("python_gc_pause_seconds", "Time the garbage collector stopped the process, "
                                  "by generation", ["generation"], buckets=GC_BUCKETS, registry=r)
        self.gc_promoted = Counter("python_gc_promoted_objects", "Objects that survived a generation-1 "
                                   "collection into the oldest generation", registry=r)
        self.gc_long_lived = Gauge("python_gc_long_lived_objects", "Objects in the oldest generation after "
                                   "the last full collection", registry=r)

    def watch_gc(self) -> Callable[[], None]:
        """Time every collection of this process, and count what makes the next full one due, until the
        returned function is called.

        Why: a full (generation 2) collection stops the event loop for as long as it walks the heap
        (25-130 ms in the knee bench's workers). At the knee that one stall backs up every request behind
        it, so it shows in P99 far beyond its share of CPU, and the knee model takes its length and pace
        from here."""
        unwatch_pauses = time_collections(lambda gen, start, end: self.gc_pause.labels(str(gen)).observe(end - start))
        unwatch_heap = watch_heap(self.gc_promoted.inc, self.gc_long_lived.set)

        def stop() -> None:
            unwatch_pauses()
            unwatch_heap()
        return stop

    def record_breaker(self, name: str, old: str, new: str) -> None:
        """Breaker state change hook (guide 4.1 OnStateChange → metrics)."""
        self.breaker_changes.labels(name, old, new).inc()
        self.breaker_state.labels(name).set(BREAKER_STATE_VALUES[new])


def time_collections(on_pause: Callable[[int, float, float], None]) -> Callable[[], None]:
    """Call ``on_pause(generation, start, end)`` (``time.perf_counter`` times) after every collection of this
    process's garbage collector, until the returned function is called (``gc.callbacks``)."""
    started = 0.0

    def on_gc(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            on_pause(int(info["generation"]), started, time.perf_counter())

    return _install(on_gc)


def watch_heap(on_promoted: Callable[[int], None], on_full: Callable[[int], None]) -> Callable[[], None]:
    """Call ``on_promoted(n)`` after every generation-1 collection with the objects it moved into the oldest
    generation, and ``on_full(n)`` after every full collection with the objects left there, until the
    returned function is called.

    Why these two: CPython (3.11) runs a full collection only when the objects promoted since the last
    one exceed a quarter of those that survived it (and ten generation-1 collections have run), so the
    pace of full collections per request is ``long-lived / 4 / promoted per request``, both measurable at
    light load, where full collections themselves are too rare to count. Cost: the young generations are
    listed at each generation-1 collection (a few thousand objects, one per ~1,000 requests in the knee
    bench), the oldest once per full collection (after it was timed)."""
    young = 0

    def on_gc(phase: str, info: dict[str, int]) -> None:
        nonlocal young
        generation = int(info["generation"])
        if generation == 1:
            if phase == "start":
                young = len(gc.get_objects(0)) + len(gc.get_objects(1))
            else:
                on_promoted(max(0, young - int(info["collected"])))
        elif generation == 2 and phase == "stop":
            on_full(len(gc.get_objects(2)))

    return _install(on_gc)


def _install(on_gc: Callable[[str, dict[str, int]], None]) -> Callable[[], None]:
    """Add ``on_gc`` to ``gc.callbacks``; the returned function removes it (again harmlessly)."""
    gc.callbacks.append(on_gc)

    def stop() -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(on_gc)
    return stop
