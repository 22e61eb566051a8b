"""scaleready.yaml -> redis target -> findings, password from the environment, never stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from scaleready import engine
from scaleready.api import Status
from scaleready.config import ConfigError, parse_config
from tests.redis._util import registry

pytestmark = pytest.mark.redis

CONFIG = """
targets:
  - name: cache
    kind: redis
    url: redis://:${SR_TEST_REDIS_PASSWORD}@127.0.0.1:{port}/0
    hit_window_seconds: 0.2
    key_types:
      "product:*": product details
      "cart:*": 600
"""


def test_yaml_redis_target(own_redis: Callable[..., object], monkeypatch: pytest.MonkeyPatch) -> None:
    server = own_redis("--requirepass", "yaml-redis-secret-77", "--maxmemory", "16mb",
                       "--maxmemory-policy", "allkeys-lru")
    client = server.client()
    client.set("product:1", "x", ex=3600)
    client.set("cart:9", "x", ex=6000)
    monkeypatch.setenv("SR_TEST_REDIS_PASSWORD", "yaml-redis-secret-77")
    reg = registry()
    config = parse_config(CONFIG.replace("{port}", str(server.port)), "scaleready.yaml", reg)
    target = config.targets[0].target
    snap = asyncio.run(engine.collect_target(target, reg, config.redactor))
    findings = engine.evaluate(snap, target, reg)
    assert snap.error is None, snap.error
    ttl = {f.subject: f.status for f in findings if f.check == "redis.ttl_policy"}
    assert ttl == {"product:*": Status.PASS, "cart:*": Status.FAIL}
    assert "yaml-redis-secret-77" not in json.dumps(snap.to_json()) + json.dumps([f.to_json() for f in findings])


def test_unknown_redis_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        parse_config("targets:\n  - {name: c, kind: redis, url: 'redis://x', maxmem: 1}\n", "c.yaml", registry())
