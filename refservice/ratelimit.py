"""Per-IP rate limiting (guide 7.1: 1000 requests/min/IP) with the `limits` library.

Storage is Redis when a Redis URL is configured (so every process shares one budget per IP) and
memory otherwise. The strategy is a sliding-window counter: smooth like a moving window, O(1)
like a fixed one. A refused request gets 429 problem+json with ``Retry-After`` in seconds.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string


class RateLimiter:
    def __init__(self, rate: str, redis_url: str | None, prefix: str = "rs:") -> None:
        self.item: RateLimitItem = parse(rate)
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            self.storage = storage_from_string(uri, implementation="redispy", key_prefix=prefix + "limits")
        else:
            self.storage = storage_from_string("async+memory://")
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self.rate = rate

    async def hit(self, client: str) -> float | None:
        """Count one request from ``client``; None if allowed, else the seconds to wait."""
        if await self.limiter.hit(self.item, client):
            return None
        stats = await self.limiter.get_window_stats(self.item, client)
        return max(1.0, math.ceil(stats.reset_time - time.time()))

    async def reset(self) -> None:
        await self.storage.reset()
