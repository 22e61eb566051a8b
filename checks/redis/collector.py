"""The Redis collector: INFO, CONFIG GET, SLOWLOG GET and a bounded SCAN sample, never a write.

Only read commands are sent: INFO, CONFIG GET, SCAN, PTTL, TYPE, MEMORY USAGE and SLOWLOG GET
(plus the connection's own AUTH/SELECT). Never KEYS (it blocks the server on a big keyspace),
never a write; redis-py's CLIENT SETINFO handshake is switched off too. Every command goes
through `ReadOnlyRedis`, which refuses anything else before it reaches the socket.

The hit ratio is measured as a *delta*: INFO stats is read twice, ``hit_window_seconds`` apart,
after the key sampling (PTTL/TYPE count as hits), so the result describes the application's
current traffic rather than everything since the last restart or the collector's own reads.

Key samples per pattern are bounded (``sample_keys`` keys, at most ``max_scan_calls`` SCAN
calls of ``scan_count``). Key names of user sessions are bearer secrets, so they are masked.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from pydantic import Field
from redis.exceptions import AuthenticationError, RedisError

from scaleready.api import CollectError, Snapshot, Target, TargetOptions, collector
from scaleready.faults import describe_failure

GUIDE_RULES = {"product_details": 3600, "user_sessions": 1800, "product_listings": 300}
ALIASES = {
    "product details": "product_details", "product_detail": "product_details", "products": "product_details",
    "user sessions": "user_sessions", "sessions": "user_sessions", "session": "user_sessions",
    "product listings": "product_listings", "listings": "product_listings", "listing": "product_listings",
}
DEFAULT_KEY_TYPES = {"product:*": "product_details", "session:*": "user_sessions", "listing:*": "product_listings"}
ALLOWED = frozenset({"INFO", "CONFIG GET", "SCAN", "PTTL", "TTL", "TYPE", "MEMORY USAGE", "SLOWLOG GET"})
CONFIG_KEYS = ("maxmemory", "maxmemory-policy", "maxclients", "timeout", "slowlog-log-slower-than",
               "slowlog-max-len")
STATS_KEYS = ("keyspace_hits", "keyspace_misses", "evicted_keys", "expired_keys", "rejected_connections",
              "total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec")
MEMORY_KEYS = ("used_memory", "used_memory_rss", "used_memory_peak", "maxmemory", "maxmemory_policy",
               "mem_fragmentation_ratio", "mem_fragmentation_bytes", "total_system_memory")
CLIENT_KEYS = ("connected_clients", "blocked_clients", "maxclients")
SERVER_KEYS = ("redis_version", "redis_mode", "uptime_in_seconds", "server_time_usec", "tcp_port")


class RedisOptions(TargetOptions):
    """Keys of a ``redis`` target: the URL and the key patterns mapped to the guide's data types."""

    url: str
    key_types: dict[str, str | int] = Field(default_factory=lambda: dict(DEFAULT_KEY_TYPES))
    sample_keys: int = Field(default=200, ge=1, le=10_000)
    scan_count: int = Field(default=500, ge=10, le=10_000)
    max_scan_calls: int = Field(default=50, ge=1, le=1000)
    hit_window_seconds: float = Field(default=2.0, ge=0, le=60)
    min_hit_ops: int = Field(default=50, ge=1)
    slowlog_entries: int = Field(default=32, ge=1, le=1024)


def rule_for(kind: str | int) -> tuple[str, int]:
    """(data type, TTL seconds) for a key_types value: a guide data type name or a number of seconds."""
    if isinstance(kind, int):
        return f"custom ({kind}s)", kind
    name = ALIASES.get(kind.strip().lower(), kind.strip().lower().replace(" ", "_"))
    if name not in GUIDE_RULES:
        known = ", ".join(GUIDE_RULES)
        raise CollectError(f"key_types: unknown data type {kind!r} (use {known} or a TTL in seconds)")
    return name, GUIDE_RULES[name]


def safe_url(url: str) -> str:
    """The URL without its password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<unparseable url>"


def mask_key(key: str, pattern: str) -> str:
    """Hide the variable part of a session key name: it is the session's bearer token."""
    prefix = pattern.split("*", 1)[0]
    rest = key[len(prefix):] if key.startswith(prefix) else key
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"{prefix}{rest[:3]}…#{digest}"


class ReadOnlyRedis:
    """A thin guard around a client: only the allowed read commands are ever sent."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    @staticmethod
    def check(args: tuple[Any, ...]) -> None:
        words = " ".join(str(a) for a in args[:2]).upper().split()
        if " ".join(words[:1]) not in ALLOWED and " ".join(words[:2]) not in ALLOWED:
            raise PermissionError(f"command {words[0]} is not allowed: the collector is read-only")

    async def call(self, *args: Any) -> Any:
        self.check(args)
        return await self._client.execute_command(*args)

    async def batch(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        for args in commands:
            self.check(args)
        pipe = self._client.pipeline(transaction=False)
        for args in commands:
            pipe.execute_command(*args)
        return await pipe.execute(raise_on_error=False)


def _reason(exc: BaseException) -> str:
    """One line for a connection failure: the real cause (TLS, refused, reset, garbage), bounded.

    Not ``os.strerror(errno)``: an untrusted certificate carries errno 1 and read as
    "Operation not permitted".
    """
    text = " ".join(str(exc).split())
    if "Error 111" in text:
        return "connection refused"
    return describe_failure(exc, "Redis")


def _pick(info: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: info.get(k) for k in keys if k in info}


async def _sample(r: ReadOnlyRedis, pattern: str, kind: str | int, opts: RedisOptions) -> dict[str, Any]:
    data_type, ttl_rule = rule_for(kind)
    cursor, calls, seen = 0, 0, []
    while calls < opts.max_scan_calls and len(seen) < opts.sample_keys:
        cursor, keys = await r.call("SCAN", cursor, "MATCH", pattern, "COUNT", opts.scan_count)
        cursor = int(cursor)
        calls += 1
        seen.extend(k for k in keys if k not in seen)
        if cursor == 0:
            break
    seen = seen[: opts.sample_keys]
    replies = await r.batch([c for key in seen for c in (("PTTL", key), ("TYPE", key), ("MEMORY USAGE", key))]) \
        if seen else []
    masked = data_type == "user_sessions"
    keys = []
    for i, key in enumerate(seen):
        pttl, typ, size = replies[3 * i: 3 * i + 3]
        if isinstance(pttl, Exception) or pttl == -2:
            continue  # expired between SCAN and PTTL
        keys.append({
            "key": mask_key(key, pattern) if masked else key[:200],
            "ttl_s": None if pttl == -1 else round(pttl / 1000, 3),
            "type": None if isinstance(typ, Exception) else typ,
            "bytes": None if isinstance(size, Exception) else size,
        })
    return {"data_type": data_type, "rule_ttl_s": ttl_rule, "scan_calls": calls,
            "complete": cursor == 0, "masked": masked, "keys": keys}


async def _section(data: dict[str, Any], errors: dict[str, str], name: str, coro: Any) -> None:
    try:
        data[name] = await coro
    except CollectError as exc:
        errors[name] = str(exc)
    except (RedisError, PermissionError) as exc:
        errors[name] = describe_failure(exc, "Redis")


async def _config(r: ReadOnlyRedis) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        reply = await r.call("CONFIG", "GET", key)
        if isinstance(reply, dict):
            out.update(reply)
        else:
            out.update(dict(zip(reply[::2], reply[1::2], strict=True)))
    return out


async def _slowlog(r: ReadOnlyRedis, count: int) -> list[dict[str, Any]]:
    rows = await r.call("SLOWLOG", "GET", count)
    out = []
    for row in rows:
        # [id, timestamp, duration_us, [args...], client addr, client name]
        args = [a if isinstance(a, str) else str(a) for a in row[3]]
        out.append({"id": row[0], "start_time": row[1], "duration_us": row[2],
                    "command": args[0].upper() if args else "?", "key": args[1][:100] if len(args) > 1 else None,
                    "argc": len(args)})
    return out


@collector("redis", options=RedisOptions)
async def collect(target: Target) -> Snapshot:
    """INFO (twice, for a hit-ratio delta), CONFIG GET, SLOWLOG GET and SCAN samples per key pattern."""
    try:
        opts = RedisOptions.model_validate(dict(target.options))
    except ValueError as exc:
        first = getattr(exc, "errors", lambda: [{}])()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "options"
        raise CollectError(f"invalid redis target option {where}: {first.get('msg', exc)}") from None
    for kind in opts.key_types.values():
        rule_for(kind)
    where = safe_url(opts.url)
    timeout = max(1.0, min(10.0, target.timeout / 3))
    try:
        client = aioredis.Redis.from_url(
            opts.url, decode_responses=True, socket_connect_timeout=timeout, socket_timeout=timeout,
            driver_info=None, protocol=2, single_connection_client=True)
    except ValueError as exc:
        raise CollectError(f"url is not a valid Redis URL: {' '.join(str(exc).split())[:120]}") from None
    r = ReadOnlyRedis(client)
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    try:
        try:
            info = await r.call("INFO", "everything")
        except AuthenticationError as exc:
            raise CollectError(f"authentication failed for {where}: {' '.join(str(exc).split())}") from None
        except (RedisError, OSError) as exc:
            raise CollectError(f"cannot connect to {where}: {_reason(exc)}") from None
        db = client.connection_pool.connection_kwargs.get("db", 0)
        data["server"] = {**_pick(info, SERVER_KEYS), "url": where, "db": db}
        data["memory"] = _pick(info, MEMORY_KEYS)
        data["stats"] = _pick(info, STATS_KEYS)
        data["clients"] = _pick(info, CLIENT_KEYS)
        data["errorstats"] = {k: v for k, v in info.items() if k.startswith("errorstat_")}
        data["keyspace"] = {k: v for k, v in info.items() if k.startswith("db") and isinstance(v, dict)}
        await _section(data, errors, "config", _config(r))
        await _section(data, errors, "slowlog", _slowlog(r, opts.slowlog_entries))

        async def keys() -> dict[str, Any]:
            return {p: await _sample(r, p, k, opts) for p, k in opts.key_types.items()}

        await _section(data, errors, "keys", keys())
        window = min(opts.hit_window_seconds, target.timeout / 3)
        if window > 0:

            async def hits() -> dict[str, Any]:
                # The window opens only now: PTTL and TYPE on sampled keys count as keyspace hits,
                # so the sampling above must not fall inside it.
                before = await r.call("INFO", "stats")
                started = time.monotonic()
                await asyncio.sleep(window)
                after = await r.call("INFO", "stats")
                return {"window_s": round(time.monotonic() - started, 3),
                        "hits": after["keyspace_hits"] - before["keyspace_hits"],
                        "misses": after["keyspace_misses"] - before["keyspace_misses"]}

            await _section(data, errors, "hit_window", hits())
        else:
            errors["hit_window"] = "hit_window_seconds is 0: no delta measured"
    finally:
        await client.aclose()
    return Snapshot(target=target.name, kind=target.kind, data=data, errors=errors)
