"""Redis as the guide's L2 cache (section 2): hit ratio, memory bounds, eviction, health.

A cache must be bounded (``maxmemory``) and must make room by evicting (an ``allkeys-*``
policy), or it turns into a store that refuses writes when full. The hit ratio is the guide's
critical metric (> 90 %, section 1.2), measured over a short window when the collector could.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scaleready.api import EvidenceUnavailable, Outcome, Snapshot, Target, check, failed, passed, skipped, warned

CACHE_ITEMS = ["cache.tiered", "roadmap.p1.redis_caching", "monitoring.metrics.cache"]
SMALL_MEMORY = 64 * 1024 * 1024


def _mb(n: float | None) -> str:
    return "?" if n is None else f"{n / 1024 / 1024:.1f}MB"


def _config_value(snapshot: Snapshot, key: str, info_key: str) -> tuple[Any, str]:
    """A CONFIG GET value, or the same fact from INFO memory when CONFIG is disabled."""
    try:
        return snapshot.section("config")[key], f"/config/{key}"
    except (EvidenceUnavailable, KeyError):
        memory = snapshot.section("memory")
        if info_key not in memory:
            raise EvidenceUnavailable(f"neither CONFIG GET {key} nor INFO {info_key} was readable") from None
        return memory[info_key], f"/memory/{info_key}"


@check("redis.hit_ratio", kind="redis", title="Cache hit ratio is above 90%", severity="danger",
       items=["metrics.cache_hit_ratio", *CACHE_ITEMS], section="1.2",
       remediation="Cache the hot reads (product details, listings) with the guide's TTLs, warm the cache "
                   "after deploys, and check that keys are not evicted or expired too early.")
def hit_ratio(snapshot: Snapshot, target: Target) -> Outcome:
    """keyspace_hits / (hits + misses), over the collector's window when it saw enough traffic."""
    min_ops = int(target.option("min_hit_ops") or 50)
    stats = snapshot.section("stats")
    window = snapshot.data.get("hit_window")
    if window and window["hits"] + window["misses"] >= min_ops:
        hits, misses, basis = window["hits"], window["misses"], f"over the last {window['window_s']:.1f}s"
        pointer = "/hit_window"
    else:
        hits, misses = stats.get("keyspace_hits", 0), stats.get("keyspace_misses", 0)
        basis, pointer = "since the server started (too little traffic in the window)", "/stats"
        if hits + misses < min_ops:
            return skipped(f"only {hits + misses} lookups recorded (window and lifetime): too few to judge",
                           hits=hits, misses=misses, minimum=min_ops)
    ratio = hits / (hits + misses)
    verdict = passed if ratio >= 0.90 else warned if ratio >= 0.85 else failed
    return verdict(f"hit ratio {ratio * 100:.1f}% {basis} ({hits:,} hits, {misses:,} misses); guide: > 90%",
                   pointer=pointer, observed=round(ratio, 4), recommended="> 0.90", hits=hits, misses=misses,
                   basis="window" if pointer == "/hit_window" else "lifetime",
                   why="guide 1.2: cache hit ratio > 90% keeps database load down")


@check("redis.maxmemory", kind="redis", title="maxmemory bounds the cache", severity="danger",
       items=CACHE_ITEMS, section="2.1",
       remediation="Set maxmemory (e.g. 70-80% of the instance's RAM) so Redis evicts instead of growing "
                   "until the OS kills it.")
def maxmemory(snapshot: Snapshot, target: Target) -> Outcome:
    """maxmemory is set (0 means unbounded), and used memory is not pinned against it."""
    raw, pointer = _config_value(snapshot, "maxmemory", "maxmemory")
    limit = int(raw or 0)
    used = snapshot.section("memory").get("used_memory")
    if limit == 0:
        return failed(f"maxmemory is 0 (unbounded); used memory {_mb(used)}: the cache can grow until the host "
                      "runs out of memory", pointer=pointer, observed=0, recommended="> 0 (about 75% of RAM)",
                      used_memory=used)
    share = (used or 0) / limit
    verdict = warned if share >= 0.9 else passed
    return verdict(f"maxmemory {_mb(limit)}, {share * 100:.0f}% used ({_mb(used)})", pointer=pointer,
                   observed=limit, used_memory=used, used_ratio=round(share, 4))


@check("redis.eviction_policy", kind="redis", title="Eviction policy suits a cache", severity="danger",
       items=CACHE_ITEMS, section="2.1",
       remediation="CONFIG SET maxmemory-policy allkeys-lru (or allkeys-lfu) and persist it in redis.conf.")
def eviction_policy(snapshot: Snapshot, target: Target) -> Outcome:
    """allkeys-lru/lfu evict any cold key; noeviction refuses writes when memory is full."""
    policy, pointer = _config_value(snapshot, "maxmemory-policy", "maxmemory_policy")
    why = "a cache must make room for new entries by evicting cold ones"
    if policy in ("allkeys-lru", "allkeys-lfu"):
        return passed(f"maxmemory-policy is {policy}", pointer=pointer, observed=policy,
                      recommended="allkeys-lru or allkeys-lfu", why=why)
    if policy == "noeviction":
        return failed("maxmemory-policy is noeviction: when memory is full every write fails with OOM "
                      "instead of evicting a cold key", pointer=pointer, observed=policy,
                      recommended="allkeys-lru or allkeys-lfu", why=why)
    return warned(f"maxmemory-policy is {policy}: only "
                  + ("keys with a TTL are evicted, keys without one fill memory" if policy.startswith("volatile")
                     else "random keys are evicted, hot ones included"),
                  pointer=pointer, observed=policy, recommended="allkeys-lru or allkeys-lfu", why=why)


@check("redis.evictions", kind="redis", title="No evictions or OOM rejections", severity="warning",
       items=CACHE_ITEMS, section="2.1",
       remediation="Give Redis more memory or shorten TTLs; OOM errors mean writes were refused "
                   "(noeviction at maxmemory).")
def evictions(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """evicted_keys (memory pressure) and OOM error replies (writes refused) since start."""
    stats = snapshot.section("stats")
    errs = snapshot.data.get("errorstats") or {}
    oom = (errs.get("errorstat_OOM") or {}).get("count", 0)
    evicted = stats.get("evicted_keys", 0)
    uptime = (snapshot.data.get("server") or {}).get("uptime_in_seconds") or 0
    if oom:
        yield failed(f"{oom:,} commands were refused with OOM since start: Redis is full and does not evict",
                     subject="oom", pointer="/errorstats/errorstat_OOM", observed=oom, recommended=0)
    if evicted:
        rate = evicted / max(uptime, 1) * 3600
        yield warned(f"{evicted:,} keys evicted since start ({rate:,.0f}/hour): the cache is smaller than its "
                     "working set", subject="evicted", pointer="/stats/evicted_keys", observed=evicted,
                     per_hour=round(rate, 1), recommended=0)
    if not oom and not evicted:
        yield passed("no key evicted and no OOM rejection since start", observed=0,
                     uptime_s=uptime)


@check("redis.fragmentation", kind="redis", title="Memory fragmentation is moderate", severity="warning",
       items=["monitoring.metrics.cache"], section="6.1",
       remediation="Enable activedefrag (jemalloc) or restart the replica/primary in a maintenance window.")
def fragmentation(snapshot: Snapshot, target: Target) -> Outcome:
    """mem_fragmentation_ratio (RSS / used); meaningless for an almost empty instance."""
    mem = snapshot.section("memory")
    ratio, used = mem.get("mem_fragmentation_ratio"), mem.get("used_memory") or 0
    if ratio is None:
        raise EvidenceUnavailable("INFO memory has no mem_fragmentation_ratio")
    if used < SMALL_MEMORY:
        return passed(f"fragmentation ratio {ratio} on only {_mb(used)} of data: too small to matter",
                      pointer="/memory/mem_fragmentation_ratio", observed=ratio, used_memory=used)
    if ratio < 1.0:
        return warned(f"fragmentation ratio {ratio} < 1: RSS is below used memory, Redis is probably swapping",
                      pointer="/memory/mem_fragmentation_ratio", observed=ratio, recommended="1.0-1.5")
    verdict = passed if ratio <= 1.5 else warned if ratio <= 2.0 else failed
    return verdict(f"fragmentation ratio {ratio} (RSS {_mb(mem.get('used_memory_rss'))} for {_mb(used)} used)",
                   pointer="/memory/mem_fragmentation_ratio", observed=ratio, recommended="1.0-1.5")


@check("redis.slowlog", kind="redis", title="No slow commands in the slowlog", severity="warning",
       items=["monitoring.metrics.cache", "metrics.p99_latency"], section="6.1",
       remediation="Replace O(N) commands (KEYS, big SMEMBERS/HGETALL/LRANGE) with SCAN/paging; split big keys.")
def slowlog(snapshot: Snapshot, target: Target) -> Outcome:
    """SLOWLOG entries (commands slower than slowlog-log-slower-than), KEYS usage called out."""
    entries = snapshot.section("slowlog")
    if not entries:
        return passed("the slowlog is empty", observed=0)
    worst = max(entries, key=lambda e: e["duration_us"])
    keys_cmds = [e for e in entries if e["command"] == "KEYS"]
    verdict = failed if worst["duration_us"] >= 1_000_000 else warned
    summary = [{k: e.get(k) for k in ("command", "key", "duration_us", "start_time")} for e in entries[:10]]
    return verdict(f"{len(entries)} slow command(s) logged; the slowest {worst['command']} took "
                   f"{worst['duration_us'] / 1000:.1f} ms"
                   + (f"; KEYS was called {len(keys_cmds)} time(s) (blocks the server: use SCAN)" if keys_cmds else ""),
                   pointer="/slowlog", observed=len(entries), worst_us=worst["duration_us"], entries=summary)


@check("redis.clients", kind="redis", title="Client connections are within maxclients", severity="warning",
       items=["monitoring.metrics.cache"], section="6.1",
       remediation="Pool connections in the application; raise maxclients (and the file-descriptor limit) "
                   "only if the pool sizes really need it.")
def clients(snapshot: Snapshot, target: Target) -> Outcome:
    """connected_clients against maxclients, and rejected connections since start."""
    info = snapshot.section("clients")
    connected = info.get("connected_clients", 0)
    try:
        limit = int(snapshot.section("config")["maxclients"])
    except (EvidenceUnavailable, KeyError):
        limit = int(info.get("maxclients") or 10000)
    rejected = snapshot.section("stats").get("rejected_connections", 0)
    ratio = connected / max(limit, 1)
    verdict = failed if ratio >= 0.9 or rejected else warned if ratio >= 0.7 else passed
    return verdict(f"{connected} of {limit} clients connected ({ratio * 100:.1f}%), {rejected} rejected since start",
                   pointer="/clients", observed=connected, limit=limit, rejected=rejected,
                   blocked=info.get("blocked_clients", 0))


CHECKS = (hit_ratio, maxmemory, eviction_policy, evictions, fragmentation, slowlog, clients)
