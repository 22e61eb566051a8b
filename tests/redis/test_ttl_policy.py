"""Guide 2.2 on the shared Redis (db 2): keys with right and wrong TTLs, found by a bounded SCAN."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import redis

from scaleready.api import Status
from tests.redis._util import one, run

pytestmark = pytest.mark.redis
URL = "redis://127.0.0.1:6379/2"


@pytest.fixture
def prefix(shared_db: redis.Redis) -> Iterator[str]:
    p = f"srtest{uuid.uuid4().hex[:8]}"
    yield p
    for key in shared_db.scan_iter(match=f"{p}:*", count=500):
        shared_db.delete(key)


def test_right_and_wrong_ttls(shared_db: redis.Redis, prefix: str) -> None:
    token_ok, token_bad = "tok-" + uuid.uuid4().hex, "tok-" + uuid.uuid4().hex
    shared_db.set(f"{prefix}:product:1", "{}", ex=3600)           # right
    shared_db.set(f"{prefix}:product:2", "{}")                    # no TTL
    shared_db.set(f"{prefix}:product:3", "{}", ex=7200)           # 2 h > 1 h
    shared_db.set(f"{prefix}:session:{token_ok}", "u1", ex=1800)  # right
    shared_db.set(f"{prefix}:session:{token_bad}", "u2", ex=86400)  # a day > 30 min
    shared_db.set(f"{prefix}:listing:home", "[]", ex=300)         # right
    shared_db.set(f"{prefix}:listing:sale", "[]", ex=120)         # shorter is fine
    key_types = {f"{prefix}:product:*": "product_details", f"{prefix}:session:*": "user sessions",
                 f"{prefix}:listing:*": "product_listings", f"{prefix}:cart:*": 600}
    snap, findings = run({"url": URL, "key_types": key_types})
    assert snap.error is None and "keys" not in snap.errors

    product = one(findings, "redis.ttl_policy", f"{prefix}:product:*")
    assert product.status == Status.FAIL
    assert product.evidence["no_ttl"] == [f"{prefix}:product:2"]
    assert product.evidence["no_ttl_bytes"] > 0  # MEMORY USAGE of the keys that never expire
    assert [k["key"] for k in product.evidence["ttl_too_long"]] == [f"{prefix}:product:3"]
    assert product.evidence["rule_ttl_s"] == 3600 and product.evidence["observed_max_ttl_s"] > 3600

    session = one(findings, "redis.ttl_policy", f"{prefix}:session:*")
    assert session.status == Status.FAIL and session.evidence["ttl_too_long_count"] == 1
    assert session.evidence["ttl_too_long"][0]["ttl_s"] > 80000
    text = json.dumps(snap.to_json()) + json.dumps([f.to_json() for f in findings])
    assert token_ok not in text and token_bad not in text  # session ids are bearer secrets

    listing = one(findings, "redis.ttl_policy", f"{prefix}:listing:*")
    assert listing.status == Status.PASS and listing.evidence["sampled"] == 2
    assert one(findings, "redis.ttl_policy", f"{prefix}:cart:*").status == Status.SKIP
    assert "cache.rule.product_details" in product.items


def test_sample_is_bounded(shared_db: redis.Redis, prefix: str) -> None:
    pipe = shared_db.pipeline()
    for i in range(300):
        pipe.set(f"{prefix}:product:{i}", "x", ex=600)
    pipe.execute()
    snap, findings = run({"url": URL, "key_types": {f"{prefix}:product:*": "product_details"},
                          "sample_keys": 25, "scan_count": 100})
    sample = snap.data["keys"][f"{prefix}:product:*"]
    assert len(sample["keys"]) == 25 and sample["scan_calls"] <= 50
    assert one(findings, "redis.ttl_policy", f"{prefix}:product:*").status == Status.PASS


def test_unknown_data_type_is_an_error() -> None:
    snap, findings = run({"url": URL, "key_types": {"x:*": "gizmos"}})
    assert "unknown data type 'gizmos'" in snap.error
    assert {f.status for f in findings} == {Status.ERROR}
