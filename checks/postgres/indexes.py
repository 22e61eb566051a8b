"""Index optimisation (guide roadmap phase 1): missing, unused, duplicate and invalid indexes.

Every finding names the table or index and the statistic that convicts it: sequential scans
and rows read per scan for a missing index, ``idx_scan = 0`` since the statistics were reset
(summed over the primary *and* every replica read, since read replicas serve their own queries)
for an unused one, the identical key/opclass/predicate for a duplicate, ``indisvalid = false``
for an invalid one.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from checks.postgres.common import human_bytes, human_seconds, opt, pct
from scaleready.api import Outcome, Snapshot, Target, check, failed, passed, warned

ITEMS = ["roadmap.p1.index_optimization", "monitoring.metrics.database"]
MIN_SEQ_SCANS = 10
SEQ_SHARE = 0.5


def _name(row: dict[str, Any], key: str = "name") -> str:
    return f"{row['schema']}.{row[key]}"


@check("postgres.indexes.missing", kind="postgres", title="Large tables are not read by sequential scans",
       severity="danger", items=ITEMS, section="8",
       remediation="Find the filtering columns of the queries on this table (pg_stat_statements, "
                   "EXPLAIN) and CREATE INDEX CONCURRENTLY on them.")
def missing(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Large tables whose reads (on the primary and every replica) are mostly full sequential scans."""
    threshold = int(opt(target, "large_table_rows"))
    tables = snapshot.section("tables")
    reads = _replica_reads(snapshot)
    large = 0
    found = False
    for i, t in enumerate(tables):
        rows = max(t.get("n_live_tup") or 0, t.get("reltuples") or 0)
        if rows < threshold:
            continue
        large += 1
        rep = reads.tables.get(str(t["oid"]), {})
        rep_seq, rep_tup = rep.get("seq_scan", 0), rep.get("seq_tup_read", 0)
        seq = (t.get("seq_scan") or 0) + rep_seq
        idx = (t.get("idx_scan") or 0) + reads.index_scans_of_table.get(t["oid"], 0)
        if seq < MIN_SEQ_SCANS:
            continue
        share = seq / (seq + idx)
        per_scan = ((t.get("seq_tup_read") or 0) + rep_tup) / seq
        if share < SEQ_SHARE or per_scan < threshold / 2:
            continue
        found = True
        where = f" (primary {t.get('seq_scan') or 0:,}, replicas {rep_seq:,})" if reads.replicas else ""
        yield failed(
            f"{_name(t)} ({rows:,} rows, {human_bytes(t.get('bytes'))}) was read by {seq:,} sequential "
            f"scans{where} reading {per_scan:,.0f} rows each on average, against {idx:,} index scans "
            f"({pct(share)} sequential)",
            subject=f"{_name(t)}", pointer=f"/tables/{i}",
            seq_scan=seq, primary_seq_scan=t.get("seq_scan") or 0, replica_seq_scan=rep_seq,
            idx_scan=idx, seq_tup_read=(t.get("seq_tup_read") or 0) + rep_tup,
            avg_rows_per_seq_scan=round(per_scan), seq_scan_share=round(share, 4), rows=rows,
            bytes=t.get("bytes"), threshold_rows=threshold, replicas_counted=reads.replicas,
        )
    if not found:
        yield passed(f"no table of {threshold:,}+ rows is read mostly by sequential scans "
                     f"({large} large table(s) of {len(tables)} checked)",
                     large_tables=large, tables=len(tables), threshold_rows=threshold,
                     replicas_counted=reads.replicas)


@dataclass
class _ReplicaReads:
    """Scans served by the readable replicas, summed over all of them."""

    index_scans: dict[str, int] = field(default_factory=dict)  # index oid -> idx_scan
    tables: dict[str, dict[str, int]] = field(default_factory=dict)  # table oid -> seq_scan, seq_tup_read
    index_scans_of_table: dict[int, int] = field(default_factory=dict)  # table oid -> idx_scan
    replicas: list[str] = field(default_factory=list)


def _replica_reads(snapshot: Snapshot) -> _ReplicaReads:
    reads = _ReplicaReads()
    table_of = {str(ix["oid"]): ix["table_oid"] for ix in snapshot.data.get("indexes") or []}
    for rep in snapshot.data.get("replicas") or []:
        if rep.get("error") or "index_scans" not in rep:
            continue
        reads.replicas.append(rep.get("dsn", "?"))
        for oid, n in (rep.get("index_scans") or {}).items():
            reads.index_scans[oid] = reads.index_scans.get(oid, 0) + (n or 0)
            if oid in table_of:
                tbl = table_of[oid]
                reads.index_scans_of_table[tbl] = reads.index_scans_of_table.get(tbl, 0) + (n or 0)
        for oid, scans in (rep.get("table_scans") or {}).items():
            acc = reads.tables.setdefault(oid, {"seq_scan": 0, "seq_tup_read": 0})
            acc["seq_scan"] += scans.get("seq_scan") or 0
            acc["seq_tup_read"] += scans.get("seq_tup_read") or 0
    return reads


@check("postgres.indexes.unused", kind="postgres", title="No index is left unused",
       severity="warning", items=ITEMS, section="8",
       remediation="Confirm over a full business cycle (and on every replica), then "
                   "DROP INDEX CONCURRENTLY: an unused index slows every write and wastes cache.")
def unused(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Indexes never scanned since the statistics were reset, on the primary nor on any replica."""
    indexes = snapshot.section("indexes")
    server = snapshot.section("server")
    since = server.get("stats_reset_epoch") or server.get("started_epoch")
    window = (server.get("now_epoch") or time.time()) - since if since else None
    reads = _replica_reads(snapshot)
    replica_scans, replicas = reads.index_scans, reads.replicas
    found = 0
    for i, ix in enumerate(indexes):
        if ix.get("is_unique") or ix.get("is_primary") or ix.get("backs_constraint") or not ix.get("is_valid"):
            continue
        scans = (ix.get("idx_scan") or 0) + replica_scans.get(str(ix["oid"]), 0)
        if scans:
            continue
        found += 1
        yield warned(
            f"index {_name(ix)} on {ix['table']} ({human_bytes(ix.get('bytes'))}) has idx_scan = 0 "
            f"over {human_seconds(window)} of statistics"
            + (f" on the primary and {len(replicas)} replica(s)" if replicas else " on the primary"),
            subject=_name(ix), pointer=f"/indexes/{i}", idx_scan=0, bytes=ix.get("bytes"),
            statistics_window_s=round(window) if window else None, replicas_counted=replicas,
            definition=ix.get("definition"),
        )
    if not found:
        yield passed(f"every non-unique index of the {len(indexes)} checked has been scanned",
                     indexes=len(indexes), replicas_counted=replicas)


def _signature(ix: dict[str, Any]) -> tuple[Any, ...]:
    return (ix["table_oid"], ix["method"], ix["key"], ix["opclass"], ix["collation"], ix["exprs"], ix["pred"])


@check("postgres.indexes.duplicate", kind="postgres", title="No duplicate or redundant indexes",
       severity="warning", items=ITEMS, section="8",
       remediation="Drop the duplicate (keep the one backing a constraint) with DROP INDEX CONCURRENTLY.")
def duplicate(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Identical indexes (same table, method, columns, opclasses, predicate) and btree prefixes."""
    indexes = [ix for ix in snapshot.section("indexes") if ix.get("is_valid")]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for ix in indexes:
        groups[_signature(ix)].append(ix)
    found = 0
    dup_oids: set[int] = set()
    for same in groups.values():
        if len(same) < 2:
            continue
        keep = sorted(same, key=lambda x: (not x.get("is_primary"), not x.get("backs_constraint"),
                                           not x.get("is_unique"), x["oid"]))[0]
        for ix in same:
            if ix is keep:
                continue
            found += 1
            dup_oids.add(ix["oid"])
            yield failed(
                f"index {_name(ix)} duplicates {_name(keep)} on {ix['table']}: same columns, operator "
                f"classes and predicate ({human_bytes(ix.get('bytes'))} wasted)",
                subject=_name(ix), duplicate_of=_name(keep), definition=ix.get("definition"),
                kept_definition=keep.get("definition"), bytes=ix.get("bytes"), idx_scan=ix.get("idx_scan"),
            )
    by_table: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ix in indexes:
        if ix["method"] == "btree" and not ix["exprs"] and not ix["pred"] and "0" not in ix["key"].split():
            by_table[ix["table_oid"]].append(ix)
    for group in by_table.values():
        for ix in group:
            if ix.get("is_unique") or ix["oid"] in dup_oids:
                continue
            cols = ix["key"].split()
            ops = ix["opclass"].split()
            for other in group:
                ocols, oops = other["key"].split(), other["opclass"].split()
                if other is ix or len(ocols) <= len(cols):
                    continue
                if ocols[: len(cols)] == cols and oops[: len(ops)] == ops:
                    found += 1
                    yield warned(
                        f"index {_name(ix)} is a left prefix of {_name(other)} on {ix['table']}: the "
                        f"wider index serves the same lookups ({human_bytes(ix.get('bytes'))})",
                        subject=_name(ix), covered_by=_name(other), definition=ix.get("definition"),
                        covering_definition=other.get("definition"), bytes=ix.get("bytes"),
                    )
                    break
    if not found:
        yield passed(f"no duplicate or redundant index among {len(indexes)}", indexes=len(indexes))


@check("postgres.indexes.invalid", kind="postgres", title="No invalid indexes",
       severity="danger", items=ITEMS, section="8",
       remediation="An invalid index (a failed CREATE INDEX CONCURRENTLY) is maintained on every write "
                   "but never used: DROP INDEX CONCURRENTLY it and build it again.")
def invalid(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Indexes with indisvalid = false: written to on every change, never used to read."""
    indexes = snapshot.section("indexes")
    found = False
    for i, ix in enumerate(indexes):
        if ix.get("is_valid"):
            continue
        found = True
        yield failed(f"index {_name(ix)} on {ix['table']} is invalid (indisvalid = false"
                     f"{', indisready = false' if not ix.get('is_ready') else ''})",
                     subject=_name(ix), pointer=f"/indexes/{i}", indisvalid=False,
                     indisready=ix.get("is_ready"), definition=ix.get("definition"), bytes=ix.get("bytes"))
    if not found:
        yield passed(f"all {len(indexes)} indexes are valid", indexes=len(indexes))


CHECKS = (missing, unused, duplicate, invalid)
