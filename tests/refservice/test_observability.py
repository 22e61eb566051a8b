"""What the reference service exposes for the live-evidence checks: trace context continued, trace and
request ids in its JSON logs, log lines counted by level, and the cache warm-up it did at start."""

from __future__ import annotations

import io
import json
import logging
import re

import httpx

from refservice import logs
from tests.refservice.support import ServerThread, create_app, metric, settings

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def test_traceparent_is_continued_and_logged() -> None:
    stream = io.StringIO()
    app = create_app(settings(access_log=True, fast_path=True, warm_products=20), seed=30,
                     configure_logging=False)
    handler = logs.configure("INFO", stream)
    try:
        with ServerThread(app) as server, httpx.Client(base_url=server.url) as client:
            warm = client.get("/products/1", headers={"traceparent": PARENT})  # an L2 hit: the fast path
            cold = client.get("/products/25", headers={"traceparent": PARENT.replace("-01", "-00")})
            fresh = client.get("/products/2")
            zeros = client.get("/products/3", headers={"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"})
            text = client.get("/metrics").text
    finally:
        logging.getLogger("refservice").removeHandler(handler)
    got = TRACEPARENT.match(warm.headers["traceparent"])
    assert got and got.group(1) == TRACE and got.group(2) != "00f067aa0ba902b7" and got.group(3) == "01"
    got = TRACEPARENT.match(cold.headers["traceparent"])
    assert got and got.group(1) == TRACE and got.group(3) == "00"  # the caller's sampling decision kept
    for response in (fresh, zeros):  # no or an invalid parent: a new trace is started
        got = TRACEPARENT.match(response.headers["traceparent"])
        assert got and got.group(1) not in (TRACE, "0" * 32)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line.get("msg") == "request" and line.get("path", "").startswith("/products")]
    assert [line["trace_id"] for line in access[:2]] == [TRACE, TRACE]
    assert all(line["request_id"] and line["level"] == "info" and line["time"] for line in access)
    assert metric(text, "cache_warmed_keys") == 25  # 20 products + 5 listing pages


def test_warnings_and_errors_are_counted_by_level() -> None:
    # a non-default admin password: the embedded default's start-up warning would be counted too
    app = create_app(settings(admin_password="observability-test"), configure_logging=False)
    handler = logs.configure("INFO", io.StringIO())
    try:
        log = logging.getLogger("refservice.test")
        log.warning("disk almost full")
        log.error("payment failed")
        log.error("payment failed again")
        log.info("not counted")
        with ServerThread(app) as server:
            text = httpx.get(f"{server.url}/metrics").text
    finally:
        logging.getLogger("refservice").removeHandler(handler)
    assert metric(text, "log_messages_total", level="error") == 2
    assert metric(text, "log_messages_total", level="warning") == 1
    assert metric(text, "log_messages_total", level="info") == 0


def test_garbage_collections_are_timed_while_the_service_runs() -> None:
    """Full collections stop the event loop (bench/knee_tail: ~0.1 s in the knee workers); the service
    times each one by generation, and stops watching when it stops (no callback left behind)."""
    import gc

    app = create_app(settings(), configure_logging=False)
    with ServerThread(app) as server:
        gc.collect()  # generation 2
        gc.collect(0)
        text = httpx.get(f"{server.url}/metrics").text
    assert metric(text, "python_gc_pause_seconds_count", generation="2") >= 1
    assert metric(text, "python_gc_pause_seconds_count", generation="0") >= 1
    assert metric(text, "python_gc_pause_seconds_sum", generation="2") > 0
    assert not [cb for cb in gc.callbacks if getattr(cb, "__self__", None) is app.state.service.metrics]


def test_what_makes_the_next_full_collection_due_is_counted() -> None:
    """Objects that a generation-1 collection keeps move to the oldest generation (``promoted``), and a full
    collection leaves the long-lived set (``long_lived``): the two the knee bench paces full collections by."""
    import gc

    from refservice.metrics import watch_heap

    promoted: list[int] = []
    full: list[int] = []
    gc.collect()
    stop = watch_heap(promoted.append, full.append)
    try:
        kept = [[i] for i in range(5000)]  # tracked objects (lists always are) that stay alive
        gc.collect(1)
        gc.collect()
    finally:
        stop()
    assert sum(promoted) >= len(kept)  # some by the collections the allocations set off, the rest by ours
    assert full and full[0] >= len(kept)
    seen, before = len(promoted), len(gc.callbacks)
    gc.collect(1)
    assert len(promoted) == seen and len(gc.callbacks) == before  # stopped watching
