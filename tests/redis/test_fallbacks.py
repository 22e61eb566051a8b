"""CONFIG disabled (as on managed Redis) falls back to INFO; fragmentation judged on real sizes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from checks.redis import server as rc
from scaleready.api import Snapshot, Status, Target
from tests.redis._util import one, run

pytestmark = pytest.mark.redis
MB = 1024 * 1024


def test_config_command_disabled_falls_back_to_info(own_redis: Callable[..., object]) -> None:
    server = own_redis("--rename-command", "CONFIG", "", "--maxmemory", "8mb",
                       "--maxmemory-policy", "allkeys-lfu")
    snap, findings = run({"url": server.url})
    assert "config" in snap.errors and "\n" not in snap.errors["config"]
    policy = one(findings, "redis.eviction_policy")
    assert policy.status == Status.PASS and policy.evidence["pointer"] == "/memory/maxmemory_policy"
    assert one(findings, "redis.maxmemory").status == Status.PASS
    assert one(findings, "redis.clients").status == Status.PASS  # maxclients from INFO clients


def mem(ratio: float, used: int) -> Snapshot:
    return Snapshot("c", "redis", data={"memory": {"mem_fragmentation_ratio": ratio, "used_memory": used,
                                                   "used_memory_rss": int(used * ratio)}})


@pytest.mark.parametrize(("ratio", "used", "expected"), [
    (1.2, 500 * MB, Status.PASS), (1.8, 500 * MB, Status.WARN), (3.1, 500 * MB, Status.FAIL),
    (0.7, 500 * MB, Status.WARN), (9.0, 2 * MB, Status.PASS),
])
def test_fragmentation_bands(ratio: float, used: int, expected: Status) -> None:
    out = rc.fragmentation.evaluate(mem(ratio, used), Target("c", "redis", {"url": "redis://x"}))
    assert [o.status for o in out] == [expected]
