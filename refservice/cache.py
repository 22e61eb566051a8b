"""The tiered cache of guide 2.1: L1 in-process (5 s) → L2 Redis (per-type TTL) → L3 database.

Values are the serialized JSON bytes of a response body, so an L1 hit costs a dict lookup and
no re-serialization. Per-type TTLs follow the cache rules of 2.2 (product 1 h, session 30 min,
listing 5 min). A miss on both tiers runs the loader once per key at a time (single flight):
concurrent readers of a cold key wait for the one database read instead of stampeding it.

In serve-stale mode (guide 10.2 "return cached responses") expired L1 entries are still served
and the database is not consulted at all; a key that no tier holds raises `NotCached`.

The shared tier failing (Redis down or slow) must not take reads down with it: an L2 error counts
in ``cache_errors_total{tier="l2"}`` and is treated as a miss (reads fall through to the
database, fills skip L2); an invalidation that cannot reach L2 is logged, and the entry ages out
with its TTL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol

from refservice.metrics import Metrics

log = logging.getLogger("refservice.cache")


class NotCached(Exception):
    """Serve-stale mode found no copy of the key in any tier."""


class L1Cache:
    """Bounded in-process TTL cache (LRU eviction); expired entries linger for serve-stale."""

    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str, *, allow_stale: bool = False) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= self.clock() and not allow_stale:
            return None
        self._data.move_to_end(key)
        return value

    def set(self, key: str, value: bytes) -> None:
        if self.ttl_s <= 0:
            return
        self._data[key] = (self.clock() + self.ttl_s, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def delete_prefix(self, prefix: str) -> None:
        for key in [k for k in self._data if k.startswith(prefix)]:
            del self._data[key]

    def clear(self) -> None:
        self._data.clear()


class L2Store(Protocol):
    """What the shared tier must offer (Redis in production, a dict on the embedded default)."""

    name: str

    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl_s: int, group: str | None = None) -> None: ...
    async def delete(self, *keys: str) -> None: ...
    async def invalidate_group(self, group: str) -> None: ...
    async def ttl(self, key: str) -> float | None: ...
    async def close(self) -> None: ...


class MemoryL2:
    """In-process stand-in for Redis with real TTL expiry and key groups."""

    name = "memory"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._data: dict[str, tuple[float, bytes]] = {}
        self._groups: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._data)

    async def get(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[0] <= self.clock():
            del self._data[key]
            return None
        return item[1]

    async def set(self, key: str, value: bytes, ttl_s: int, group: str | None = None) -> None:
        self._data[key] = (self.clock() + ttl_s, value)
        if group:
            self._groups.setdefault(group, set()).add(key)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._data.pop(key, None)

    async def invalidate_group(self, group: str) -> None:
        for key in self._groups.pop(group, set()):
            self._data.pop(key, None)

    async def ttl(self, key: str) -> float | None:
        item = self._data.get(key)
        return None if item is None else max(0.0, item[0] - self.clock())

    async def close(self) -> None:
        self._data.clear()


class RedisL2:
    """Redis as the shared tier: SET EX per-type TTL; a group is a Redis set of member keys.

    Uses the pipelined client of resp.py: one connection carries all concurrent requests.
    """

    name = "redis"

    def __init__(self, url: str) -> None:
        from refservice.resp import RespClient

        self.client = RespClient(url)

    async def get(self, key: str) -> bytes | None:
        return await self.client.get(key)

    async def set(self, key: str, value: bytes, ttl_s: int, group: str | None = None) -> None:
        if group is None:
            await self.client.execute("SET", key, value, "EX", ttl_s)
            return
        replies = await self.client.pipeline([("MULTI",), ("SET", key, value, "EX", ttl_s), ("SADD", group, key),
                                              ("EXPIRE", group, ttl_s), ("EXEC",)])
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply

    async def delete(self, *keys: str) -> None:
        if keys:
            await self.client.execute("DEL", *keys)

    async def invalidate_group(self, group: str) -> None:
        members = await self.client.execute("SMEMBERS", group)
        await self.client.execute("DEL", group, *members)

    async def ttl(self, key: str) -> float | None:
        ms = await self.client.execute("PTTL", key)
        return None if ms < 0 else ms / 1000.0

    async def close(self) -> None:
        await self.client.close()


class TieredCache:
    """L1 → L2 → loader, with per-type TTLs, single-flight fills and tier metrics."""

    def __init__(self, l1: L1Cache | None, l2: L2Store, metrics: Metrics, *, prefix: str = "rs:") -> None:
        self.l1 = l1
        self.l2 = l2
        self.metrics = metrics
        self.prefix = prefix
        self.serve_stale = False
        self._inflight: dict[str, asyncio.Future[bytes | None]] = {}
        self._dirty: set[str] = set()  # keys invalidated while their fill was running
        self.fills = 0
        m = metrics
        self._hit = {t: m.cache_hits.labels(t) for t in ("l1", "l2", "l3")}
        self._miss = {t: m.cache_misses.labels(t) for t in ("l1", "l2", "l3")}
        self._l2_errors = m.cache_errors.labels("l2")
        self._l2_logged = -1e9

    def key(self, name: str) -> str:
        return self.prefix + name

    async def get(self, name: str, ttl_s: int, loader: Callable[[], Awaitable[bytes | None]],
                  group: str | None = None, l2_checked: bool = False) -> bytes | None:
        """The value for ``name``; ``loader`` reads the database on a miss of both tiers.

        ``l2_checked``: the caller has just missed L2 for this key (see `peek`), so do not ask again.
        """
        key = self.prefix + name
        l1 = self.l1
        if l1 is not None:
            value = l1.get(key)
            if value is not None:
                self._hit["l1"].inc()
                return value
            self._miss["l1"].inc()
        if self.serve_stale:
            return await self._get_stale(key)
        value = None if l2_checked else await self._l2_get(key)
        if value is not None:
            self._hit["l2"].inc()
            if l1 is not None:
                l1.set(key, value)
            return value
        self._miss["l2"].inc()
        return await self._fill(key, ttl_s, loader, self.prefix + group if group else None)

    async def _l2_get(self, key: str) -> bytes | None:
        try:
            return await self.l2.get(key)
        except Exception as exc:
            self._l2_failed("get", exc)
            return None

    def _l2_failed(self, op: str, exc: BaseException) -> None:
        self._l2_errors.inc()
        now = time.monotonic()
        if now - self._l2_logged >= 10.0:  # one line per 10 s, not one per request
            self._l2_logged = now
            log.warning("L2 cache unavailable", extra={"op": op, "error": type(exc).__name__})

    async def peek(self, name: str) -> bytes | None:
        """A fresh copy from L1 or L2 without ever reading the database (None: not cached).

        Hits count as usual; a miss is not counted here, because the caller then goes through
        `get`, which counts it.
        """
        key = self.prefix + name
        l1 = self.l1
        if l1 is not None:
            value = l1.get(key)
            if value is not None:
                self._hit["l1"].inc()
                return value
        if self.serve_stale:
            return None
        value = await self._l2_get(key)
        if value is not None:
            self._hit["l2"].inc()
            if l1 is not None:
                l1.set(key, value)
        return value

    async def warm(self, items: list[tuple[str, bytes]], ttl_s: int, group: str | None = None) -> None:
        """Put database rows into L2 ahead of traffic (guide 9.1 "cache warming")."""
        for name, value in items:
            await self.l2.set(self.prefix + name, value, ttl_s, self.prefix + group if group else None)

    async def _get_stale(self, key: str) -> bytes:
        if self.l1 is not None:
            value = self.l1.get(key, allow_stale=True)
            if value is not None:
                self.metrics.stale_served.inc()
                return value
        try:
            value = await self.l2.get(key)
        except Exception:
            value = None
        if value is None:
            raise NotCached(key)
        self._hit["l2"].inc()
        self.metrics.stale_served.inc()
        return value

    async def _fill(self, key: str, ttl_s: int, loader: Callable[[], Awaitable[bytes | None]],
                    group: str | None) -> bytes | None:
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            self.fills += 1
            value = await loader()
            if value is None:
                self._miss["l3"].inc()
            elif key in self._dirty:
                self._hit["l3"].inc()  # read before an invalidation landed: answer, don't store
            else:
                self._hit["l3"].inc()
                try:
                    await self.l2.set(key, value, ttl_s, group)
                except Exception as exc:
                    self._l2_failed("set", exc)
                if self.l1 is not None:
                    self.l1.set(key, value)
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it themselves
            raise
        finally:
            del self._inflight[key]
            self._dirty.discard(key)

    async def invalidate(self, *names: str) -> None:
        """Drop keys from L2 and L1 (the update / logout triggers of guide 2.2)."""
        keys = [self.prefix + n for n in names]
        self._dirty.update(k for k in keys if k in self._inflight)
        try:
            await self.l2.delete(*keys)
        except Exception as exc:
            self._l2_failed("invalidate", exc)
        if self.l1 is not None:
            for key in keys:
                self.l1.delete(key)

    async def invalidate_group(self, group: str, l1_prefix: str) -> None:
        """Drop a whole group from L2 and every L1 key under ``l1_prefix`` (new product → listings)."""
        self._dirty.update(k for k in self._inflight if k.startswith(self.prefix + l1_prefix))
        try:
            await self.l2.invalidate_group(self.prefix + group)
        except Exception as exc:
            self._l2_failed("invalidate", exc)
        if self.l1 is not None:
            self.l1.delete_prefix(self.prefix + l1_prefix)
