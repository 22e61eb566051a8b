"""Merging shards into one stored run, and telling whether a sharded run is complete.

Each shard process stores its snapshots and findings under the shared run id, records itself
in ``run_shards`` and re-scores the run from *all* findings stored so far, inside one
transaction that holds the run's row lock: shards finishing at the same moment queue on that
lock, so the last one to commit always scores every shard's findings. Scoring the union of
the shards' findings with the same framework and ticks gives exactly the unsharded score.

A shard that never reports leaves the run incomplete: `ShardStatus` names the missing shards
and the targets nobody looked at, and their items stay unknown in the scorecard.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, insert, select

from scaleready.api import Snapshot
from scaleready.framework import Framework
from scaleready.models import FindingRecord, RunRecord, RunShardRecord, SnapshotRecord
from scaleready.results import RunResult
from scaleready.scoring import score
from scaleready.store import Store, StoreError, _finding_from_row, _finding_row, _utc


@dataclass(frozen=True)
class ShardStatus:
    """Which shards of a run have reported, and which targets nobody has looked at yet."""

    run_id: str
    run_key: str
    shard_count: int
    present: list[int]
    missing: list[int]
    unknown_targets: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    def describe(self) -> str:
        """One line for a terminal or a page."""
        head = f"run {self.run_id[:8]} ({self.run_key}): {len(self.present)} of {self.shard_count} shards stored"
        if self.complete:
            return head + ", complete"
        shown = ", ".join(self.unknown_targets[:10]) + (" …" if len(self.unknown_targets) > 10 else "")
        return (head + f"; INCOMPLETE: shard(s) {', '.join(map(str, self.missing))} missing, "
                f"{len(self.unknown_targets)} target(s) unknown: {shown}")


def _insert_ignore(dialect: str, values: dict[str, Any]) -> Any:
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    return builder(RunRecord).values(**values).on_conflict_do_nothing(index_elements=["id"])


def _status(run_id: str, run_key: str, rows: Sequence[RunShardRecord], expected: list[dict[str, Any]]) -> ShardStatus:
    count = rows[0].shard_count if rows else max((t.get("shard", 1) for t in expected), default=1)
    present = sorted({r.shard_index for r in rows})
    missing = [i for i in range(1, count + 1) if i not in present]
    unknown = [t["name"] for t in expected if t.get("shard") in missing]
    return ShardStatus(run_id, run_key, count, present, missing, unknown)


def save_shard(
    store: Store,
    shard_run: RunResult,
    snapshots: Sequence[Snapshot],
    framework: Framework,
    *,
    shard: tuple[int, int],
    run_key: str,
    expected: list[dict[str, Any]],
    config_path: str | None = None,
    actor: str = "scaleready",
) -> ShardStatus:
    """Store one shard under ``shard_run.id`` and re-score the merged run; returns its status."""
    index, count = shard
    run_id = shard_run.id
    manual = store.item_states(framework.id, project=shard_run.project)
    started, finished = _utc(shard_run.started_at), _utc(shard_run.finished_at or shard_run.started_at)
    # The chain's lock first (as every audited write takes it), then the run's row lock below.
    with store.chained_session() as session:
        session.execute(_insert_ignore(store.engine.dialect.name, {
            "id": run_id, "started_at": started, "finished_at": finished, "framework_id": framework.id,
            "framework_title": framework.title, "framework_version": str(framework.version),
            "environment": shard_run.environment, "config_path": config_path,
            "tool_version": shard_run.tool_version, "overall": 0.0, "coverage": 0.0, "level": 0,
            "score_json": "{}", "targets_json": json.dumps(expected), "project": shard_run.project,
            "waivers_json": json.dumps([w.to_json() for w in shard_run.waivers]),
        }))
        # The row lock serialises the shards of one run from here to the commit.
        record = session.exec(select(RunRecord).where(RunRecord.id == run_id).with_for_update()).one()
        rows = session.exec(select(RunShardRecord).where(RunShardRecord.run_id == run_id)).all()
        if record.framework_id != framework.id:
            raise StoreError(f"run {run_id[:8]} ({run_key}) was started with framework '{record.framework_id}', "
                             f"this shard uses '{framework.id}'")
        if any(r.shard_count != count for r in rows):
            raise StoreError(f"run {run_id[:8]} ({run_key}) has {rows[0].shard_count} shards; "
                             f"this shard says {index}/{count}")
        if any(r.shard_index == index for r in rows):
            raise StoreError(f"shard {index}/{count} of run {run_id[:8]} ({run_key}) is already stored")
        if snapshots:
            session.execute(insert(SnapshotRecord), [
                {"run_id": run_id, "target": s.target, "kind": s.kind, "collected_at": _utc(s.collected_at),
                 "duration_ms": s.duration_ms, "sha256": s.sha256, "error": s.error, "body": s.canonical()}
                for s in snapshots])
        if shard_run.findings:
            session.execute(insert(FindingRecord), [_finding_row(run_id, f) for f in shard_run.findings])
        mine = [t["name"] for t in expected if t.get("shard") == index]
        session.add(RunShardRecord(run_id=run_id, run_key=run_key, shard_index=index, shard_count=count,
                                   started_at=started, finished_at=finished, targets_json=json.dumps(mine),
                                   findings=len(shard_run.findings)))
        stored = session.exec(select(FindingRecord).where(FindingRecord.run_id == run_id)
                              .order_by(col(FindingRecord.id))).all()
        card = score(framework, [_finding_from_row(r) for r in stored], manual)
        record.started_at = min(_utc(record.started_at), started)
        record.finished_at = max(_utc(record.finished_at) or finished, finished)
        record.overall, record.coverage, record.level = card.overall, card.coverage, card.level
        record.score_json = json.dumps(card.to_json())
        session.add(record)
        status = _status(run_id, run_key, [*rows, RunShardRecord(run_id=run_id, run_key=run_key, shard_index=index,
                                                                  shard_count=count, started_at=started,
                                                                  finished_at=finished)], expected)
        store.append_event(session, actor, "run.shard_stored", run_id,
                           {"shard": f"{index}/{count}", "run_key": run_key, "findings": len(shard_run.findings),
                            "snapshots": len(snapshots), "complete": status.complete,
                            "snapshot_sha256": sorted(s.sha256 for s in snapshots)}, project=shard_run.project)
        if status.complete:
            event = store.append_event(session, actor, "run.stored", run_id,
                                       {"findings": len(stored), "overall": round(card.overall, 1),
                                        "shards": count}, project=shard_run.project)
            record.audit_head = event.hash
            session.add(record)
        session.commit()
    return status


def shard_status(store: Store, ref: str = "latest") -> ShardStatus | None:
    """The shard state of a stored run, or None when the run was not sharded."""
    run_id = store.resolve_run_id(ref)
    with store.session() as session:
        rows = session.exec(select(RunShardRecord).where(RunShardRecord.run_id == run_id)).all()
        if not rows:
            return None
        record = session.get(RunRecord, run_id)
        expected = json.loads(record.targets_json) if record else []
        return _status(run_id, rows[0].run_key, rows, expected)
