"""Per-IP rate limiting (guide 7.1: 1000 requests/min/IP) with the `limits` library.

Storage is Redis when a Redis URL is configured (so every process shares one budget per IP) and
memory otherwise. The default strategy is the guide's rule read literally, a fixed budget per
IP per minute (the cheapest: one counter increment); ``sliding-window`` (a weighted pair of
windows, no burst at the boundary) and ``moving-window`` (exact, one entry per request) can be
chosen. A refused request gets 429 problem+json with ``Retry-After`` in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.aio.strategies import (
    RateLimiter as LimitsStrategy,
)
from limits.storage import storage_from_string

STRATEGIES: dict[str, type[LimitsStrategy]] = {
    "fixed-window": FixedWindowRateLimiter,
    "sliding-window": SlidingWindowCounterRateLimiter,
    "moving-window": MovingWindowRateLimiter,
}


class _Budget:
    """What this process knows of one client's window: counted globally, served since, reset time."""

    __slots__ = ("pending", "reset", "synced", "syncing", "used")

    def __init__(self, used: int, reset: float, synced: float) -> None:
        self.used = used  # what Redis counted for this client's window at the last sync
        self.pending = 0  # served here since, not yet added to Redis
        self.reset = reset
        self.synced = synced
        self.syncing = False


class RateLimiter:
    """Per-client limiter. With Redis storage, counts are batched (see `hit`)."""

    def __init__(self, rate: str, redis_url: str | None, prefix: str = "rs:",
                 strategy: str = "fixed-window", sync_interval_s: float = 0.05) -> None:
        self.item: RateLimitItem = parse(rate)
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            self.storage = storage_from_string(uri, implementation="redispy", key_prefix=prefix + "limits")
        else:
            self.storage = storage_from_string("async+memory://")
        self.limiter = STRATEGIES[strategy](self.storage)
        self.rate = rate
        self.batched = bool(redis_url) and sync_interval_s > 0
        self.sync_interval_s = sync_interval_s
        self._budgets: dict[str, _Budget] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None

    async def hit(self, client: str) -> float | None:
        """Count one request from ``client``; None if allowed, else the seconds to wait.

        Memory storage: every request asks the limiter. Redis storage: a client's request asks
        Redis (after adding the requests served locally since, as one ``hit(cost=n)``) when this
        process's view of the client is older than ``sync_interval_s``; other requests are decided
        against the count Redis last reported plus what this process served since, and a timer
        adds those to Redis for clients that went quiet. Exact for one instance.
        One Redis round trip per request would cost more than the L2 cache hit it guards; the
        price is that several instances together may overshoot by what they serve in one sync
        interval.
        """
        if not self.batched:
            if await self.limiter.hit(self.item, client):
                return None
            return await self._retry_after(client)
        now = time.time()
        budget = self._budgets.get(client)
        if budget is None or now >= budget.reset:  # a new window: nothing known yet
            if len(self._budgets) > 100_000:
                self._budgets = {k: b for k, b in self._budgets.items() if b.reset > now}
            budget = self._budgets[client] = _Budget(0, now + self.item.get_expiry(), -1e18)
        if not budget.syncing and now - budget.synced >= self.sync_interval_s:
            return await self._sync_hit(client, budget)
        if budget.used + budget.pending >= self.item.amount:
            return self._wait(budget.reset - now)
        budget.pending += 1
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self.sync_interval_s, self._start_flush)
        return None

    async def _sync_hit(self, client: str, budget: _Budget) -> float | None:
        """This request asks Redis, after adding what was served here since the last sync.

        Concurrent requests meanwhile are decided locally (``syncing``), so a burst makes one
        round trip, not one per request; their counts stay in ``pending`` for the next sync.
        """
        budget.syncing = True
        try:
            await self._push(client, budget)
            allowed = await self.limiter.hit(self.item, client)
            stats = await self.limiter.get_window_stats(self.item, client)
        except BaseException:
            budget.pending += 1  # Redis unreachable: count it here (the caller fails open)
            raise
        finally:
            budget.syncing = False
        budget.used, budget.reset, budget.synced = self.item.amount - stats.remaining, stats.reset_time, time.time()
        return None if allowed else self._wait(stats.reset_time - time.time())

    async def _push(self, client: str, budget: _Budget) -> None:
        """Add ``pending`` to Redis. They were served already; if other instances filled the
        window meanwhile, Redis refuses the batch and the window is simply full."""
        n, budget.pending = budget.pending, 0
        if not n:
            return
        try:
            await self.limiter.hit(self.item, client, cost=n)
        except BaseException:
            budget.pending += n
            raise

    def _wait(self, seconds: float) -> float:
        """Whole seconds for Retry-After: at least 1, at most one window."""
        return float(min(self.item.get_expiry(), max(1, math.ceil(seconds))))

    async def _retry_after(self, client: str) -> float:
        stats = await self.limiter.get_window_stats(self.item, client)
        return self._wait(stats.reset_time - time.time())

    def _start_flush(self) -> None:
        self._flush_handle = None
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        """Add the requests served since the last sync to the shared counts, and refresh them."""
        for client, budget in list(self._budgets.items()):
            if not budget.pending or budget.syncing:
                continue
            budget.syncing = True
            try:
                await self._push(client, budget)
                stats = await self.limiter.get_window_stats(self.item, client)
            except Exception:
                continue  # Redis unavailable: keep counting locally, retry next time
            finally:
                budget.syncing = False
            budget.used, budget.reset, budget.synced = self.item.amount - stats.remaining, stats.reset_time, time.time()

    async def close(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self.batched:
            with contextlib.suppress(Exception):
                await self.flush()

    async def reset(self) -> None:
        await self.storage.reset()
