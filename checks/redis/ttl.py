"""Guide 2.2 in production: sampled keys of each data type expire within the cache rule's TTL.

The collector samples keys per configured pattern with SCAN (bounded) and reads each key's
PTTL. A key with no TTL never refreshes (stale product data for ever, sessions that outlive
logout); a TTL above the rule means data older than the guide allows (product details 1 h,
user sessions 30 min, product listings 5 min). Both kinds are listed by name.
"""

from __future__ import annotations

from collections.abc import Iterator

from scaleready.api import Outcome, Snapshot, Target, check, failed, passed, skipped

LISTED = 20


def _show(seconds: float) -> str:
    return f"{seconds / 3600:g}h" if seconds >= 3600 else f"{seconds / 60:g}min" if seconds >= 60 else f"{seconds:g}s"


@check("redis.ttl_policy", kind="redis", title="Cached keys follow the guide's TTL rules", severity="danger",
       items=["cache.rule.product_details", "cache.rule.user_sessions", "cache.rule.product_listings",
              "roadmap.p1.redis_caching"], section="2.2",
       remediation="Always write cache entries with SET ... EX <ttl> (product details 3600, sessions 1800, "
                   "listings 300); fix the code path that writes without a TTL, and EXPIRE the existing keys.")
def ttl_policy(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Per key pattern: sampled keys without a TTL, or with a TTL longer than the guide's rule."""
    patterns = snapshot.section("keys")
    db = (snapshot.data.get("server") or {}).get("db", 0)
    for pattern, sample in patterns.items():
        rule, keys = sample["rule_ttl_s"], sample["keys"]
        common = {"subject": pattern, "pointer": f"/keys/{pattern.replace('~', '~0').replace('/', '~1')}",
                  "data_type": sample["data_type"], "rule_ttl_s": rule, "sampled": len(keys),
                  "complete_scan": sample.get("complete")}
        if not keys:
            yield skipped(f"no key matches {pattern} in db {db} ({sample['scan_calls']} SCAN call(s)"
                          f"{', whole keyspace' if sample.get('complete') else ''}): nothing to judge", **common)
            continue
        no_ttl = [k["key"] for k in keys if k["ttl_s"] is None]
        too_long = [{"key": k["key"], "ttl_s": k["ttl_s"]} for k in keys
                    if k["ttl_s"] is not None and k["ttl_s"] > rule + 1]
        stuck_bytes = sum(k.get("bytes") or 0 for k in keys if k["ttl_s"] is None)
        longest = max((k["ttl_s"] for k in keys if k["ttl_s"] is not None), default=None)
        if no_ttl or too_long:
            parts = []
            if no_ttl:
                parts.append(f"{len(no_ttl)} without a TTL (e.g. {', '.join(no_ttl[:3])})")
            if too_long:
                parts.append(f"{len(too_long)} with a TTL above {_show(rule)} (longest {_show(longest or 0)})")
            yield failed(f"{pattern} ({sample['data_type'].replace('_', ' ')}, rule {_show(rule)}): of "
                         f"{len(keys)} sampled keys, " + " and ".join(parts), **common,
                         observed_max_ttl_s=longest, no_ttl=no_ttl[:LISTED], no_ttl_count=len(no_ttl),
                         no_ttl_bytes=stuck_bytes,
                         ttl_too_long=too_long[:LISTED], ttl_too_long_count=len(too_long),
                         recommended=f"TTL <= {rule}s")
        else:
            yield passed(f"{pattern} ({sample['data_type'].replace('_', ' ')}): all {len(keys)} sampled keys "
                         f"expire within {_show(rule)} (longest remaining {_show(longest or 0)})", **common,
                         observed_max_ttl_s=longest, recommended=f"TTL <= {rule}s")


CHECKS = (ttl_policy,)
