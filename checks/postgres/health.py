"""Live health of a PostgreSQL server: cache hits, connections, queries, wraparound, sequences.

These back the guide's "Database load" metric (1.2), its monitoring list (6.1: queries/sec,
replication lag) and the emergency playbook's "review slow queries" (10.1). Thresholds are
the usual operational ones, stated in each finding next to the observed value.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.postgres.common import human_seconds, opt, pct
from scaleready.api import Outcome, Snapshot, Target, check, failed, passed, skipped, warned

MIN_BLOCKS = 1000
XID_SPACE = 2**31
INT_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}


@check("postgres.cache_hit_ratio", kind="postgres", title="Buffer cache hit ratio (heap and index)",
       severity="warning", items=["metrics.cache_hit_ratio", "monitoring.metrics.database"], section="1.2",
       remediation="Raise shared_buffers (up to ~25% of RAM), add RAM, or cut the reads with indexes "
                   "and the Redis cache layer.")
def cache_hit_ratio(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Shared-buffer hits over all block reads, for table heaps and for indexes (>= 99% is healthy)."""
    io = snapshot.section("io")
    for kind, hit_key, read_key in (("heap", "heap_hit", "heap_read"), ("index", "idx_hit", "idx_read")):
        hit, read = io.get(hit_key) or 0, io.get(read_key) or 0
        total = hit + read
        if total < MIN_BLOCKS:
            yield skipped(f"{kind}: only {total} block accesses recorded, too few to judge",
                          subject=kind, blocks_hit=hit, blocks_read=read, minimum=MIN_BLOCKS)
            continue
        ratio = hit / total
        verdict = passed if ratio >= 0.99 else warned if ratio >= 0.90 else failed
        yield verdict(f"{kind} cache hit ratio {pct(ratio)} ({hit:,} hits, {read:,} reads); "
                      "target >= 99%, below 90% fails", subject=kind, pointer="/io",
                      observed=round(ratio, 4), recommended=">= 0.99", blocks_hit=hit, blocks_read=read)


@check("postgres.connections.usage", kind="postgres", title="Connections are within max_connections",
       severity="danger", items=["db.max_connections", "emergency.db_overload"], section="3.1",
       remediation="Pool connections (PgBouncer) and set idle_in_transaction_session_timeout; fix the "
                   "code paths that leave transactions open.")
def connections_usage(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Client connections against max_connections, and sessions idle in a transaction."""
    sessions = snapshot.section("activity")
    settings = snapshot.section("settings")
    max_conn = int(settings["max_connections"]["setting"])
    reserved = int(settings.get("superuser_reserved_connections", {}).get("setting") or 0)
    usable = max(1, max_conn - reserved)
    clients = [s for s in sessions if s.get("backend_type") == "client backend"]
    used = len(clients) + 1  # the collector's own session is excluded from the list
    ratio = used / usable
    verdict = passed if ratio < 0.7 else warned if ratio < 0.9 else failed
    yield verdict(f"{used} of {usable} usable connections in use ({pct(ratio)}; max_connections "
                  f"{max_conn}, {reserved} reserved); warn at 70%, fail at 90%",
                  subject="connections", observed=used, limit=usable, ratio=round(ratio, 4),
                  by_state=_count_states(clients))
    limit = float(opt(target, "idle_in_transaction_seconds"))
    idle = [s for s in clients if (s.get("state") or "").startswith("idle in transaction")
            and (s.get("state_age_s") or 0) >= limit]
    if idle:
        worst = max(idle, key=lambda s: s.get("xact_age_s") or 0)
        yield (failed if (worst.get("xact_age_s") or 0) >= 10 * limit else warned)(
            f"{len(idle)} session(s) idle in transaction for more than {human_seconds(limit)}; the oldest "
            f"(pid {worst['pid']}, {worst.get('user')}@{worst.get('database')}) has held its transaction "
            f"{human_seconds(worst.get('xact_age_s'))}: it holds locks and blocks VACUUM",
            subject="idle_in_transaction", observed=len(idle), threshold_s=limit,
            sessions=[{k: s.get(k) for k in ("pid", "user", "database", "application_name", "xact_age_s",
                                             "state_age_s", "query")} for s in idle[:10]])
    else:
        yield passed(f"no session idle in transaction for more than {human_seconds(limit)}",
                     subject="idle_in_transaction", observed=0, threshold_s=limit)


def _count_states(sessions: list[dict[str, object]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in sessions:
        key = str(s.get("state") or "unknown")
        out[key] = out.get(key, 0) + 1
    return out


@check("postgres.queries.long_running", kind="postgres", title="No long-running queries",
       severity="warning", items=["emergency.db_overload", "monitoring.metrics.database"], section="10.1",
       remediation="Find why the query runs so long (EXPLAIN ANALYZE); cancel it with "
                   "pg_cancel_backend(pid) if it is stuck; set statement_timeout for the application role.")
def long_running(snapshot: Snapshot, target: Target) -> Outcome:
    """Active client queries running longer than ``long_running_seconds`` (default 5 min)."""
    sessions = snapshot.section("activity")
    limit = float(opt(target, "long_running_seconds"))
    slow = sorted((s for s in sessions if s.get("backend_type") == "client backend"
                   and s.get("state") == "active" and (s.get("query_age_s") or 0) >= limit),
                  key=lambda s: -(s.get("query_age_s") or 0))
    if not slow:
        return passed(f"no active query has run longer than {human_seconds(limit)}", threshold_s=limit)
    worst = slow[0]
    return failed(
        f"{len(slow)} query(ies) running longer than {human_seconds(limit)}; the longest (pid {worst['pid']}, "
        f"{worst.get('user')}@{worst.get('database')}) for {human_seconds(worst.get('query_age_s'))}: "
        f"{(worst.get('query') or '')[:120]}",
        observed=len(slow), threshold_s=limit,
        queries=[{k: s.get(k) for k in ("pid", "user", "database", "query_age_s", "wait_event_type",
                                        "wait_event", "query")} for s in slow[:10]])


@check("postgres.queries.slow", kind="postgres", title="No slow statements (pg_stat_statements)",
       severity="warning", items=["emergency.db_overload", "metrics.p99_latency"], section="10.1",
       remediation="EXPLAIN (ANALYZE, BUFFERS) the statement; add the missing index or rewrite it; "
                   "cache its result in Redis if it is a hot read.")
def slow_queries(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Statements whose mean execution time exceeds ``slow_query_ms`` (default 500 ms, guide P99)."""
    stmts = snapshot.section("statements")
    if not stmts.get("installed") or not stmts.get("available", True):
        yield skipped(f"{stmts.get('reason', 'pg_stat_statements unavailable')}: CREATE EXTENSION "
                      "pg_stat_statements (with shared_preload_libraries) to measure statement times",
                      reason=stmts.get("reason"))
        return
    limit = float(opt(target, "slow_query_ms"))
    rows = stmts.get("top_by_mean") or []
    slow = [r for r in rows if (r.get("mean_ms") or 0) >= limit and (r.get("calls") or 0) >= 1]
    for r in slow[:10]:
        yield failed(f"statement {r['queryid']} averages {r['mean_ms']:.0f} ms over {r['calls']} call(s) "
                     f"(max {r.get('max_ms', 0):.0f} ms; limit {limit:.0f} ms): {(r.get('query') or '')[:120]}",
                     subject=f"queryid/{r['queryid']}", mean_ms=round(r["mean_ms"], 2), calls=r["calls"],
                     max_ms=round(r.get("max_ms") or 0, 2), total_ms=round(r.get("total_ms") or 0, 2),
                     threshold_ms=limit, query=r.get("query"))
    if not slow:
        worst = rows[0] if rows else None
        yield passed(f"no statement averages {limit:.0f} ms or more"
                     + (f" (slowest mean {worst['mean_ms']:.1f} ms)" if worst else ""),
                     threshold_ms=limit, statements_seen=len(rows))


@check("postgres.vacuum.wraparound", kind="postgres", title="Transaction IDs are far from wraparound",
       severity="danger", items=["monitoring.metrics.database"], section="3",
       remediation="Run VACUUM (FREEZE) on the oldest tables; find what blocks autovacuum (long "
                   "transactions, abandoned replication slots, prepared transactions).")
def wraparound(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """age(datfrozenxid) and mxid_age(datminmxid) per database against the 2^31 ID space."""
    data = snapshot.section("wraparound")
    bad = False
    worst_ratio, worst_db = 0.0, None
    for db in data.get("databases", []):
        for label, key in (("transaction ID", "xid_age"), ("multixact ID", "mxid_age")):
            age = db.get(key) or 0
            ratio = age / XID_SPACE
            if ratio > worst_ratio:
                worst_ratio, worst_db = ratio, db["database"]
            if ratio >= 0.5:
                bad = True
                yield (failed if ratio >= 0.75 else warned)(
                    f"database {db['database']}: {label} age {age:,} is {pct(ratio)} of the way to "
                    "wraparound (warn at 50%, fail at 75%)",
                    subject=f"{db['database']}/{key}", observed=age, ratio=round(ratio, 4),
                    oldest_tables=data.get("tables") if key == "xid_age" else None)
    if not bad:
        yield passed(f"oldest database ({worst_db}) is {pct(worst_ratio)} of the way to wraparound",
                     observed_ratio=round(worst_ratio, 6))


@check("postgres.sequences.exhaustion", kind="postgres", title="Sequences are far from their maximum",
       severity="danger", items=["monitoring.metrics.database"], section="3",
       remediation="ALTER the column and sequence to bigint (ALTER TABLE ... ALTER COLUMN ... TYPE "
                   "bigint; ALTER SEQUENCE ... AS bigint) before inserts start failing.")
def sequences(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """How much of each sequence's range (capped by its column's integer type) is used."""
    rows = snapshot.section("sequences")
    bad = False
    unknown = 0
    for i, s in enumerate(rows):
        if s.get("cycle"):
            continue
        if s.get("last_value") is None:
            unknown += 1
            continue
        inc = s.get("increment_by") or 1
        col_max = INT_MAX.get(s.get("column_type") or "")
        hi = min(s["max_value"], col_max) if col_max else s["max_value"]
        lo = s["min_value"]
        span = (hi - lo) if inc > 0 else (s["max_value"] - lo)
        used = (s["last_value"] - lo) / span if inc > 0 else (s["max_value"] - s["last_value"]) / span
        if used < 0.75:
            continue
        bad = True
        col = f" feeding {s['table']}.{s['column']} ({s['column_type']})" if s.get("table") else ""
        yield (failed if used >= 0.9 else warned)(
            f"sequence {s['schema']}.{s['name']}{col} is at {s['last_value']:,} of {hi:,} ({pct(used)} used; "
            "warn at 75%, fail at 90%)",
            subject=f"{s['schema']}.{s['name']}", pointer=f"/sequences/{i}", last_value=s["last_value"],
            effective_max=hi, used_ratio=round(used, 4), sequence_type=s.get("data_type"),
            column_type=s.get("column_type"))
    if not bad:
        yield passed(f"all {len(rows) - unknown} readable sequences are below 75% of their range"
                     + (f" ({unknown} unused or not readable)" if unknown else ""),
                     sequences=len(rows), unknown=unknown)


CHECKS = (cache_hit_ratio, connections_usage, long_running, slow_queries, wraparound, sequences)
