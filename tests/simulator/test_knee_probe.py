"""The knee bench's per-request probe (bench/knee_probe.py) on a real worker over PostgreSQL and
Redis: each request's path is read from what it awaited, which is what bench/knee_tail.py's
argument about the tail rests on."""

from __future__ import annotations

import json
import secrets
import time
import uuid

import httpx
import pytest

from bench import knee_tail
from simulator import rounds
from tests.refservice.pg_support import REDIS_URL, fresh_database


@pytest.fixture
def probed_worker(tmp_path):
    with fresh_database() as dsn:
        settings = {"database_url": dsn, "redis_url": REDIS_URL, "rate_limit_enabled": False, "access_log": False,
                    "run_background": False, "ryw_window_s": 0.0, "l1_ttl_s": 0.5, "ttl_product_s": 60,
                    "log_level": "WARNING", "jwt_secret": secrets.token_hex(32),
                    "key_prefix": f"probe-test:{uuid.uuid4().hex[:8]}:"}
        workers = knee_tail.dep.Workers(n=1, settings=settings, keys=20, service_cpus={0, 1}, probe_dir=tmp_path)
        try:
            yield workers, tmp_path / "worker0.json"
        finally:
            workers.stop()


def test_each_request_is_classified_by_what_it_awaited(probed_worker):
    workers, out = probed_worker
    with httpx.Client(base_url=workers.url, timeout=10) as client:
        assert client.get("/products/3").status_code == 200  # cold: L1 and Redis miss, PostgreSQL answers
        assert client.get("/products/3").status_code == 200  # L1 hit
        time.sleep(0.7)  # L1 (0.5 s) expired, Redis (60 s) still has it
        assert client.get("/products/3").status_code == 200
        assert client.get("/healthz").status_code == 200  # not a product request: not recorded
    workers.stop()  # the records are written at shutdown
    dump = json.loads(out.read_text())
    records = dump["requests"]
    assert all(gen in (0, 1, 2) and end >= start for gen, start, end in dump["gc"])
    assert [r["method"] for r in records] == ["GET"] * 3
    assert [knee_tail.classify(r) for r in records] == [rounds.DB, rounds.HIT, rounds.L2]
    cold, hit, l2 = records
    assert cold["db_n"] >= 1 and cold["db_hold_s"] > 0 and cold["redis_n"] >= 2  # GET miss, then SET
    asked, got, released = cold["pool_at"]
    assert asked <= got < released and released - got == pytest.approx(cold["db_hold_s"])
    assert hit["redis_n"] == 0 and hit["db_n"] == 0
    assert l2["redis_n"] == 1 and l2["db_n"] == 0 and l2["redis_s"] > 0
    assert all(r["t1"] > r["t0"] for r in records)
    summary = knee_tail.measured(records)
    assert summary["reads"] == 3
    assert {name: p["share"] for name, p in summary["paths"].items()} == pytest.approx(
        {"L1 hit": 1 / 3, "L2 hit": 1 / 3, "database": 1 / 3})
