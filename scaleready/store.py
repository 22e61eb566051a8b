"""The store: runs, snapshots, findings, manual ticks, waivers and the audit log.

SQLite in the user's data dir by default (WAL, so the dashboard can read while a run
writes); ``SCALEREADY_DATABASE_URL`` switches to PostgreSQL. The schema is owned by Alembic
and brought to head when a store opens. Sessions are short, one per operation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, event, insert
from sqlmodel import Session, col, create_engine, select

from scaleready.api import Finding, Snapshot
from scaleready.models import (
    AuditEvent,
    FindingRecord,
    ItemStateRecord,
    RunRecord,
    SnapshotRecord,
    WaiverRecord,
)
from scaleready.results import AreaScore, ItemScore, PhaseProgress, RunResult, Scorecard, SnapshotRef
from scaleready.scoring import STATUS_VALUE

DATABASE_URL_ENV = "SCALEREADY_DATABASE_URL"
MANUAL_STATES = ("done", "not_done", "not_applicable")


class StoreError(RuntimeError):
    """The store cannot be opened or does not hold what was asked for."""


def default_url() -> str:
    """``SCALEREADY_DATABASE_URL`` if set, else a SQLite file in the user's data dir."""
    if url := os.environ.get(DATABASE_URL_ENV):
        return url
    folder = Path(platformdirs.user_data_dir("scaleready", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'scaleready.db'}"


def _utc(moment: datetime | None) -> datetime | None:
    """Aware UTC for writing (naive values are taken to be UTC already)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):  # psycopg 3 is the driver we ship
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


@dataclass(frozen=True)
class RunSummary:
    id: str
    started_at: datetime
    framework_id: str
    environment: str | None
    overall: float
    coverage: float
    level: int


class Store:
    """One database; every method opens and closes its own short session."""

    def __init__(self, url: str | None = None, *, upgrade: bool = True) -> None:
        self.url = url or default_url()
        try:
            self.engine = _make_engine(self.url)
            if upgrade:
                migrate(self.engine)
        except Exception as exc:
            raise StoreError(f"cannot open the store at {self.safe_url}: {exc}") from exc

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True) if hasattr(self, "engine") else "?"

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine) as session:
            yield session

    # -- runs ---------------------------------------------------------------------------------
    def save_run(self, run: RunResult, snapshots: Sequence[Snapshot], config_path: str | None = None,
                 targets: Sequence[dict[str, Any]] = ()) -> None:
        """Store a finished run with its snapshots and findings in one transaction."""
        record = RunRecord(
            id=run.id,
            started_at=_utc(run.started_at),
            finished_at=_utc(run.finished_at),
            framework_id=run.framework.get("id", ""),
            framework_title=run.framework.get("title", ""),
            framework_version=run.framework.get("version", ""),
            environment=run.environment,
            config_path=config_path,
            tool_version=run.tool_version,
            overall=run.score.overall,
            coverage=run.score.coverage,
            level=run.score.level,
            score_json=json.dumps(run.score.to_json()),
            targets_json=json.dumps(list(targets)),
        )
        snapshot_rows = [
            {"run_id": run.id, "target": s.target, "kind": s.kind, "collected_at": _utc(s.collected_at),
             "duration_ms": s.duration_ms, "sha256": s.sha256, "error": s.error, "body": s.canonical()}
            for s in snapshots
        ]
        finding_rows = [_finding_row(run.id, f) for f in run.findings]
        with self.session() as session:
            session.add(record)
            session.flush()
            if snapshot_rows:
                session.execute(insert(SnapshotRecord), snapshot_rows)
            if finding_rows:
                session.execute(insert(FindingRecord), finding_rows)
            session.add(_audit("scaleready", "run.stored", run.id,
                               {"findings": len(finding_rows), "snapshots": len(snapshot_rows),
                                "overall": round(run.score.overall, 1)}))
            session.commit()

    def runs(self, limit: int = 50) -> list[RunSummary]:
        with self.session() as session:
            rows = session.exec(select(RunRecord).order_by(col(RunRecord.started_at).desc()).limit(limit))
            return [
                RunSummary(r.id, _utc(r.started_at), r.framework_id, r.environment, r.overall,
                           r.coverage, r.level)
                for r in rows
            ]

    def resolve_run_id(self, ref: str = "latest") -> str:
        """``latest``, a full id, or an unambiguous id prefix."""
        with self.session() as session:
            if ref == "latest":
                row = session.exec(select(RunRecord.id).order_by(col(RunRecord.started_at).desc())).first()
                if row is None:
                    raise StoreError("the store holds no runs yet: run `scaleready check` first")
                return row
            ids = session.exec(select(RunRecord.id).where(col(RunRecord.id).startswith(ref))).all()
        if len(ids) == 1:
            return ids[0]
        raise StoreError(f"no run matches '{ref}'" if not ids else f"run id '{ref}' is ambiguous")

    def load_run(self, ref: str = "latest") -> RunResult:
        run_id = self.resolve_run_id(ref)
        with self.session() as session:
            record = session.get(RunRecord, run_id)
            # Plain rows, not ORM objects: building 6,000 model instances was most of the load time.
            findings = session.exec(
                select(*_FINDING_FIELDS).where(FindingRecord.run_id == run_id).order_by(col(FindingRecord.id))
            ).all()
            snaps = session.exec(
                select(SnapshotRecord).where(SnapshotRecord.run_id == run_id).order_by(col(SnapshotRecord.id))
            ).all()
            assert record is not None
            return RunResult(
                id=record.id,
                started_at=_utc(record.started_at),
                finished_at=_utc(record.finished_at),
                framework={"id": record.framework_id, "title": record.framework_title,
                           "version": record.framework_version},
                findings=[_finding_from_row(r) for r in findings],
                score=scorecard_from_json(json.loads(record.score_json)),
                snapshots=[SnapshotRef(s.target, s.kind, s.sha256, s.error, s.duration_ms) for s in snaps],
                tool_version=record.tool_version,
                environment=record.environment,
            )

    def snapshots(self, ref: str = "latest") -> list[Snapshot]:
        """The stored snapshots of a run, exactly as hashed."""
        run_id = self.resolve_run_id(ref)
        with self.session() as session:
            rows = session.exec(select(SnapshotRecord).where(SnapshotRecord.run_id == run_id)).all()
            return [Snapshot.from_json(json.loads(r.body)) for r in rows]

    # -- manual ticks ---------------------------------------------------------------------------
    def set_item_state(self, framework_id: str, item_id: str, state: str, actor: str, note: str = "") -> None:
        """Record a manual tick (who, when, why) and append it to the audit log."""
        if state not in MANUAL_STATES:
            raise ValueError(f"state must be one of {', '.join(MANUAL_STATES)}")
        if not actor.strip():
            raise ValueError("a manual tick needs the name of who made it")
        now = _utc(datetime.now(UTC))
        with self.session() as session:
            row = session.exec(
                select(ItemStateRecord).where(ItemStateRecord.framework_id == framework_id,
                                              ItemStateRecord.item_id == item_id)
            ).first()
            previous = row.state if row else None
            if row is None:
                row = ItemStateRecord(framework_id=framework_id, item_id=item_id, state=state, actor=actor,
                                      at=now, note=note)
            else:
                row.state, row.actor, row.at, row.note = state, actor, now, note
            session.add(row)
            session.add(_audit(actor, "item.state", f"{framework_id}:{item_id}",
                               {"from": previous, "to": state, "note": note}))
            session.commit()

    def item_states(self, framework_id: str) -> dict[str, ItemStateRecord]:
        with self.session() as session:
            rows = session.exec(select(ItemStateRecord).where(ItemStateRecord.framework_id == framework_id))
            return {r.item_id: r for r in rows}

    # -- waivers --------------------------------------------------------------------------------
    def add_waiver(self, check_id: str, reason: str, actor: str, target: str = "*", subject: str = "*",
                   expires: datetime | None = None) -> int:
        if not reason.strip():
            raise ValueError("a waiver needs a reason")
        with self.session() as session:
            row = WaiverRecord(check_id=check_id, target=target, subject=subject, reason=reason,
                               expires=_utc(expires), actor=actor,
                               created_at=_utc(datetime.now(UTC)))
            session.add(row)
            session.flush()
            session.add(_audit(actor, "waiver.added", check_id,
                               {"id": row.id, "target": target, "subject": subject, "reason": reason,
                                "expires": expires.isoformat() if expires else None}))
            session.commit()
            return int(row.id or 0)

    def waivers(self, include_revoked: bool = False) -> list[WaiverRecord]:
        with self.session() as session:
            query = select(WaiverRecord)
            if not include_revoked:
                query = query.where(col(WaiverRecord.revoked).is_(False))
            return list(session.exec(query))

    def revoke_waiver(self, waiver_id: int, actor: str) -> None:
        with self.session() as session:
            row = session.get(WaiverRecord, waiver_id)
            if row is None:
                raise StoreError(f"no waiver {waiver_id}")
            row.revoked = True
            session.add(row)
            session.add(_audit(actor, "waiver.revoked", row.check_id, {"id": waiver_id}))
            session.commit()

    # -- audit ----------------------------------------------------------------------------------
    def audit(
        self, actor: str, action: str, subject: str = "", details: dict[str, Any] | None = None
    ) -> None:
        with self.session() as session:
            session.add(_audit(actor, action, subject, details or {}))
            session.commit()

    def audit_log(self, limit: int = 200) -> list[AuditEvent]:
        with self.session() as session:
            return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)))


def _audit(actor: str, action: str, subject: str, details: dict[str, Any]) -> AuditEvent:
    return AuditEvent(at=_utc(datetime.now(UTC)), actor=actor, action=action, subject=subject,
                      details_json=json.dumps(details, default=str))


def _finding_row(run_id: str, f: Finding) -> dict[str, Any]:
    return {
        "run_id": run_id, "check_id": f.check, "target": f.target, "subject": f.subject,
        "status": f.status.value, "severity": f.severity.value, "title": f.title, "message": f.message,
        "evidence_json": json.dumps(f.evidence, default=str), "remediation": f.remediation,
        "items_json": json.dumps(f.items), "section": f.section, "location": f.location,
        "waived": f.waived, "waiver_reason": f.waiver_reason, "fingerprint": f.fingerprint,
    }


_FINDING_FIELDS = (FindingRecord.check_id, FindingRecord.target, FindingRecord.subject, FindingRecord.status,
                   FindingRecord.severity, FindingRecord.title, FindingRecord.message, FindingRecord.evidence_json,
                   FindingRecord.remediation, FindingRecord.items_json, FindingRecord.section,
                   FindingRecord.location, FindingRecord.waived, FindingRecord.waiver_reason)


def _finding_from_row(r: Any) -> Finding:
    """A finding from a `FindingRecord` or a row of `_FINDING_FIELDS` (same attribute names)."""
    return Finding.from_json({
        "check": r.check_id, "target": r.target, "subject": r.subject, "status": r.status,
        "severity": r.severity, "title": r.title, "message": r.message,
        "evidence": json.loads(r.evidence_json), "remediation": r.remediation,
        "items": json.loads(r.items_json), "section": r.section, "location": r.location,
        "waived": r.waived, "waiver_reason": r.waiver_reason,
    })


def scorecard_from_json(doc: dict[str, Any]) -> Scorecard:
    """Rebuild the stored scorecard, so a stored run reports exactly what was printed."""
    areas = [
        AreaScore(
            id=a["id"], title=a["title"], score=a["score"], coverage=a["coverage"],
            items=[ItemScore(id=i["id"], title=i["title"], area=a["id"], section=i.get("section", ""),
                             kind=i.get("kind", "auto"), weight=i.get("weight", 1.0), status=i["status"],
                             source=i.get("source", "none"), value=STATUS_VALUE[i["status"]])
                   for i in a.get("items", [])],
        )
        for a in doc.get("areas", [])
    ]
    phases = [PhaseProgress(p["number"], p["title"], p["done"], p["total"]) for p in doc.get("phases", [])]
    return Scorecard(overall=doc.get("overall", 0.0), coverage=doc.get("coverage", 0.0), areas=areas,
                     phases=phases, level=doc.get("level", 0))
