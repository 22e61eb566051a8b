"""Server-level conditions on private redis-servers: noeviction, maxmemory, evictions, hit-ratio
window, slowlog, maxclients, passwords; and proof (via MONITOR) that the collector only reads."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable

import pytest
import redis
import redis.asyncio as aioredis

from checks.redis.collector import ReadOnlyRedis
from scaleready.api import Snapshot, Status
from tests.redis._util import one, run
from tests.redis.conftest import OwnRedis
from tests.support.pg_cluster import free_port

pytestmark = pytest.mark.redis
Start = Callable[..., OwnRedis]


def fill(client: redis.Redis, n: int = 5000) -> int:
    """Write until Redis refuses (noeviction) or n keys; returns how many OOM errors were seen."""
    ooms = 0
    for i in range(n):
        try:
            client.set(f"fill:{i}", "v" * 1000)
        except redis.exceptions.OutOfMemoryError:
            ooms += 1
            if ooms >= 5:
                break
    return ooms


def test_noeviction_cache_fails(own_redis: Start) -> None:
    server = own_redis("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
    assert fill(server.client()) == 5
    _, findings = run({"url": server.url})
    policy = one(findings, "redis.eviction_policy")
    assert policy.status == Status.FAIL and policy.evidence["observed"] == "noeviction"
    oom = one(findings, "redis.evictions", "oom")
    assert oom.status == Status.FAIL and oom.evidence["observed"] >= 5
    assert one(findings, "redis.maxmemory").status in (Status.PASS, Status.WARN)


def test_unbounded_and_evicting_caches(own_redis: Start) -> None:
    unbounded = own_redis()
    _, findings = run({"url": unbounded.url})
    mm = one(findings, "redis.maxmemory")
    assert mm.status == Status.FAIL and mm.evidence["observed"] == 0
    lru = own_redis("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
    assert fill(lru.client(), 4000) == 0
    _, findings = run({"url": lru.url})
    assert one(findings, "redis.eviction_policy").status == Status.PASS
    ev = one(findings, "redis.evictions", "evicted")
    assert ev.status == Status.WARN and ev.evidence["observed"] > 100


def traffic(client: redis.Redis, stop: threading.Event, miss_every: int) -> None:
    i = 0
    while not stop.is_set() and i < 100_000:
        client.get("hot" if miss_every == 0 or i % miss_every else f"cold:{i}")
        i += 1


@pytest.mark.parametrize(("miss_every", "expected"), [(0, Status.PASS), (2, Status.FAIL)])
def test_hit_ratio_is_a_window_delta(own_redis: Start, miss_every: int, expected: Status) -> None:
    server = own_redis()
    c = server.client()
    c.set("hot", "1")
    for i in range(500):  # a bad past: lifetime ratio is poor
        c.get(f"gone:{i}")
    stop = threading.Event()
    worker = threading.Thread(target=traffic, args=(server.client(), stop, miss_every), daemon=True)
    worker.start()
    try:
        snap, findings = run({"url": server.url, "hit_window_seconds": 1.0})
    finally:
        stop.set()
        worker.join(5)
    f = one(findings, "redis.hit_ratio")
    assert f.status == expected and f.evidence["basis"] == "window", f.message
    assert snap.data["hit_window"]["window_s"] >= 0.9
    if expected == Status.PASS:
        lifetime = snap.data["stats"]["keyspace_hits"] / (
            snap.data["stats"]["keyspace_hits"] + snap.data["stats"]["keyspace_misses"])
        assert f.evidence["observed"] > 0.99 and f.evidence["observed"] > lifetime
    else:
        assert 0.4 < f.evidence["observed"] < 0.6


def test_hit_ratio_falls_back_to_lifetime_then_skips(own_redis: Start) -> None:
    server = own_redis()
    _, findings = run({"url": server.url})
    assert one(findings, "redis.hit_ratio").status == Status.SKIP
    c = server.client()
    c.set("k", "v")
    for _ in range(95):
        c.get("k")
    for i in range(5):
        c.get(f"miss:{i}")
    _, findings = run({"url": server.url})
    f = one(findings, "redis.hit_ratio")
    assert f.status == Status.PASS and f.evidence["basis"] == "lifetime" and f.evidence["observed"] == 0.95


def test_slowlog_and_keys_command(own_redis: Start) -> None:
    server = own_redis("--slowlog-log-slower-than", "0")
    server.client().keys("*")  # the test, not the collector, runs KEYS
    _, findings = run({"url": server.url})
    f = one(findings, "redis.slowlog")
    assert f.status == Status.WARN and "KEYS" in f.message


def test_clients_near_maxclients(own_redis: Start) -> None:
    server = own_redis("--maxclients", "10")
    crowd = [server.client() for _ in range(9)]
    try:
        for c in crowd:
            c.ping()
        _, findings = run({"url": server.url})
    finally:
        for c in crowd:
            c.close()
    f = one(findings, "redis.clients")
    assert f.status == Status.FAIL and f.evidence["limit"] == 10 and f.evidence["observed"] == 10


def test_wrong_password_and_unreachable(own_redis: Start) -> None:
    server = own_redis("--requirepass", "right-secret-5521")
    snap, findings = run({"url": f"redis://:wrong-secret-8812@127.0.0.1:{server.port}/0"})
    assert snap.error.startswith("authentication failed for redis://127.0.0.1:")
    assert {f.status for f in findings} == {Status.ERROR} and all("\n" not in f.message for f in findings)
    assert "wrong-secret-8812" not in json.dumps(snap.to_json()) + json.dumps([f.to_json() for f in findings])
    good, _ = run({"url": f"redis://:right-secret-5521@127.0.0.1:{server.port}/0"})
    assert good.error is None and "right-secret-5521" not in json.dumps(good.to_json())
    snap, findings = run({"url": f"redis://127.0.0.1:{free_port()}/0"}, timeout=6)
    assert snap.error.startswith("cannot connect to redis://127.0.0.1:") and "refused" in snap.error.lower()
    assert {f.status for f in findings} == {Status.ERROR}


def monitor(port: int, stop: threading.Event, lines: list[str]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
        sock.sendall(b"MONITOR\r\n")
        buf = b""
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            buf += chunk
        lines.extend(buf.decode(errors="replace").splitlines())


def test_collector_sends_only_read_commands(own_redis: Start) -> None:
    server = own_redis()
    c = server.client(db=3)
    for i in range(30):
        c.set(f"product:{i}", "x", ex=3600)
    c.set("session:abc", "u")
    lines: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=monitor, args=(server.port, stop, lines), daemon=True)
    watcher.start()
    time.sleep(0.3)
    snap: Snapshot
    snap, _ = run({"url": server.url.replace("/0", "/3"), "hit_window_seconds": 0.3})
    time.sleep(0.3)
    stop.set()
    watcher.join(5)
    commands = set()
    for line in lines:
        if '"' in line:
            words = line.split('"')
            commands.add(" ".join(w.upper() for w in words[1:4:2]) if words[1].upper() in (
                "CONFIG", "SLOWLOG", "MEMORY") else words[1].upper())
    assert snap.error is None
    # MONITOR never echoes admin commands (CONFIG, SLOWLOG): their sections prove they ran
    assert "INFO" in commands and "SCAN" in commands and "PTTL" in commands and "MEMORY USAGE" in commands
    assert snap.data["config"]["maxmemory"] == "0" and snap.data["slowlog"] == []
    assert commands <= {"INFO", "CONFIG GET", "SLOWLOG GET", "SCAN", "PTTL", "TYPE", "MEMORY USAGE", "SELECT"}, commands


def test_guard_refuses_writes_and_keys(own_redis: Start) -> None:
    server = own_redis()

    async def attempt() -> list[str]:
        client = aioredis.Redis.from_url(server.url, decode_responses=True)
        guard = ReadOnlyRedis(client)
        refused = []
        try:
            for args in (("SET", "a", "b"), ("KEYS", "*"), ("FLUSHDB",), ("CONFIG", "SET", "maxmemory", "1"),
                         ("EXPIRE", "a", "1"), ("SLOWLOG", "RESET")):
                try:
                    await guard.call(*args)
                except PermissionError:
                    refused.append(args[0])
            try:
                await guard.batch([("PTTL", "a"), ("DEL", "a")])
            except PermissionError:
                refused.append("batch")
            assert (await guard.call("PTTL", "a")) == -2
        finally:
            await client.aclose()
        return refused

    assert asyncio.run(attempt()) == ["SET", "KEYS", "FLUSHDB", "CONFIG", "EXPIRE", "SLOWLOG", "batch"]
    assert server.client().dbsize() == 0


def test_own_sampling_does_not_count_in_the_hit_window(own_redis: Start) -> None:
    server = own_redis()
    c = server.client()
    for i in range(100):
        c.set(f"product:{i}", "x", ex=3600)
    before = c.info("stats")["keyspace_hits"]
    snap, _ = run({"url": server.url, "hit_window_seconds": 0.3})
    assert len(snap.data["keys"]["product:*"]["keys"]) == 100
    assert c.info("stats")["keyspace_hits"] - before >= 100  # PTTL/TYPE really are counted as hits...
    assert snap.data["hit_window"]["hits"] == 0  # ...but not inside the measured window
