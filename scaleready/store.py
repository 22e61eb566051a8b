"""The store: runs, snapshots, findings, manual ticks, waivers and the audit log.

SQLite in the user's data dir by default (WAL, so the dashboard can read while a run
writes); ``SCALEREADY_DATABASE_URL`` switches to PostgreSQL. The schema is owned by Alembic
and brought to head when a store opens (under a lock, so N processes opening a fresh store
at once all succeed). Sessions are short, one per operation. Every tick, waiver, stored run
and sign-off appends an event to the hash-chained audit log (`scaleready.audit`); ticks,
waivers and milestones belong to a project.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, text
from sqlmodel import Session, col, select

from scaleready import audit as chain
from scaleready.api import Finding, Snapshot
from scaleready.database import DATABASE_URL_ENV, default_url, make_engine, migrate
from scaleready.models import (
    DEFAULT_PROJECT,
    AuditChainHead,
    AuditEvent,
    FindingRecord,
    ItemStateRecord,
    RunRecord,
    SnapshotRecord,
    WaiverRecord,
)
from scaleready.results import RunResult, SnapshotRef, WaiverRef, scorecard_from_json

__all__ = ["DATABASE_URL_ENV", "MANUAL_STATES", "RunSummary", "Store", "StoreError", "default_url", "migrate"]
MANUAL_STATES = ("done", "not_done", "not_applicable")


class StoreError(RuntimeError):
    """The store cannot be opened or does not hold what was asked for."""


def one_line(exc: BaseException) -> str:
    """Why a database call failed, in one line: the driver's first line, not SQLAlchemy's page."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _utc(moment: datetime | None) -> datetime | None:
    """Aware UTC for writing (naive values are taken to be UTC already)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class RunSummary:
    id: str
    started_at: datetime
    framework_id: str
    environment: str | None
    overall: float
    coverage: float
    level: int
    project: str = DEFAULT_PROJECT


class Store:
    """One database; every method opens and closes its own short session."""

    def __init__(self, url: str | None = None, *, upgrade: bool = True) -> None:
        self.url = url or default_url()
        try:
            self.engine = make_engine(self.url)
            if upgrade:
                migrate(self.engine)
        except Exception as exc:
            raise StoreError(f"cannot open the store at {self.safe_url}: {one_line(exc)}") from exc

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True) if hasattr(self, "engine") else "?"

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine) as session:
            yield session

    @contextmanager
    def chained_session(self) -> Iterator[Session]:
        """A session that may append audit events: it takes the chain's write lock first.

        The lock is the first statement, before any read, so the head read later is the real
        head (SQLite: the database write lock; PostgreSQL: the row lock on ``audit_chain``).
        The caller commits; leaving without a commit rolls back and releases the lock.
        """
        with Session(self.engine) as session:
            session.execute(text("UPDATE audit_chain SET seq = seq WHERE id = 1"))
            yield session

    def append_event(self, session: Session, actor: str, action: str, subject: str = "",
                     details: dict[str, Any] | None = None, project: str = DEFAULT_PROJECT) -> AuditEvent:
        """Add one chained event in a `chained_session` (committed with the caller's work)."""
        head = session.get(AuditChainHead, 1)
        if head is None:
            raise StoreError("the store's audit chain head is missing; run `scaleready audit verify`")
        event = AuditEvent(at=_utc(datetime.now(UTC)), actor=actor, action=action, subject=subject,
                           details_json=json.dumps(details or {}, default=str, sort_keys=True), project=project,
                           seq=head.seq + 1, prev_hash=head.head or chain.GENESIS)
        event.hash = chain.event_hash(event)
        head.seq, head.head = event.seq or 0, event.hash
        session.add(event)
        session.add(head)
        return event

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
            project=run.project,
            waivers_json=json.dumps([w.to_json() for w in run.waivers]),
        )
        snapshot_rows = [
            {"run_id": run.id, "target": s.target, "kind": s.kind, "collected_at": _utc(s.collected_at),
             "duration_ms": s.duration_ms, "sha256": s.sha256, "error": s.error, "body": s.canonical()}
            for s in snapshots
        ]
        finding_rows = [_finding_row(run.id, f) for f in run.findings]
        with self.chained_session() as session:
            stored = self.append_event(session, "scaleready", "run.stored", run.id,
                                       {"findings": len(finding_rows), "snapshots": len(snapshot_rows),
                                        "overall": round(run.score.overall, 1),
                                        "snapshot_sha256": sorted(s.sha256 for s in snapshots)},
                                       project=run.project)
            record.audit_head = head = stored.hash
            session.add(record)
            session.flush()
            if snapshot_rows:
                session.execute(insert(SnapshotRecord), snapshot_rows)
            if finding_rows:
                session.execute(insert(FindingRecord), finding_rows)
            session.commit()
        run.audit_head = head

    def runs(self, limit: int = 50, project: str | None = None) -> list[RunSummary]:
        """Newest first; only ``project``'s runs when one is named."""
        with self.session() as session:
            query = select(RunRecord)
            if project is not None:
                query = query.where(RunRecord.project == project)
            rows = session.exec(query.order_by(col(RunRecord.started_at).desc()).limit(limit))
            return [
                RunSummary(r.id, _utc(r.started_at), r.framework_id, r.environment, r.overall,
                           r.coverage, r.level, r.project)
                for r in rows
            ]

    def resolve_run_id(self, ref: str = "latest", project: str | None = None) -> str:
        """``latest`` (of ``project`` when named), a full id, or an unambiguous id prefix."""
        with self.session() as session:
            if ref == "latest":
                query = select(RunRecord.id)
                if project is not None:
                    query = query.where(RunRecord.project == project)
                row = session.exec(query.order_by(col(RunRecord.started_at).desc())).first()
                if row is None:
                    scope = f" for project '{project}'" if project is not None else ""
                    raise StoreError(f"the store holds no runs{scope} yet: run `scaleready check` first")
                return row
            ids = session.exec(select(RunRecord.id).where(col(RunRecord.id).startswith(ref))).all()
        if len(ids) == 1:
            return ids[0]
        raise StoreError(f"no run matches '{ref}'" if not ids else f"run id '{ref}' is ambiguous")

    def has_run(self, run_id: str) -> bool:
        with self.session() as session:
            return session.get(RunRecord, run_id) is not None

    def load_run(self, ref: str = "latest", project: str | None = None) -> RunResult:
        """A stored run with everything its reports show (items, ticks, waivers, chain head)."""
        run_id = self.resolve_run_id(ref, project)
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
                project=record.project,
                config_path=record.config_path,
                waivers=[WaiverRef.from_json(w) for w in json.loads(record.waivers_json or "[]")],
                audit_head=record.audit_head,
            )

    def snapshots(self, ref: str = "latest") -> list[Snapshot]:
        """The stored snapshots of a run, exactly as hashed."""
        run_id = self.resolve_run_id(ref)
        with self.session() as session:
            rows = session.exec(select(SnapshotRecord).where(SnapshotRecord.run_id == run_id)).all()
            return [Snapshot.from_json(json.loads(r.body)) for r in rows]

    # -- manual ticks ---------------------------------------------------------------------------
    def set_item_state(self, framework_id: str, item_id: str, state: str, actor: str, note: str = "", *,
                       project: str = DEFAULT_PROJECT) -> None:
        """Record a manual tick (who, when, why) and append it to the audit log."""
        if state not in MANUAL_STATES:
            raise ValueError(f"state must be one of {', '.join(MANUAL_STATES)}")
        if not actor.strip():
            raise ValueError("a manual tick needs the name of who made it")
        now = _utc(datetime.now(UTC))
        with self.chained_session() as session:
            row = session.exec(
                select(ItemStateRecord).where(ItemStateRecord.project == project,
                                              ItemStateRecord.framework_id == framework_id,
                                              ItemStateRecord.item_id == item_id)
            ).first()
            previous = row.state if row else None
            if row is None:
                row = ItemStateRecord(project=project, framework_id=framework_id, item_id=item_id, state=state,
                                      actor=actor, at=now, note=note)
            else:
                row.state, row.actor, row.at, row.note = state, actor, now, note
            session.add(row)
            self.append_event(session, actor, "item.state", f"{framework_id}:{item_id}",
                              {"from": previous, "to": state, "note": note}, project=project)
            session.commit()

    def item_states(self, framework_id: str, project: str = DEFAULT_PROJECT) -> dict[str, ItemStateRecord]:
        with self.session() as session:
            rows = session.exec(select(ItemStateRecord).where(ItemStateRecord.framework_id == framework_id,
                                                              ItemStateRecord.project == project))
            return {r.item_id: r for r in rows}

    # -- waivers --------------------------------------------------------------------------------
    def add_waiver(self, check_id: str, reason: str, actor: str, target: str = "*", subject: str = "*",
                   expires: datetime | None = None, *, project: str = DEFAULT_PROJECT) -> int:
        if not reason.strip():
            raise ValueError("a waiver needs a reason")
        if not actor.strip():
            raise ValueError("a waiver needs the name of who grants it")
        with self.chained_session() as session:
            row = WaiverRecord(project=project, check_id=check_id, target=target, subject=subject, reason=reason,
                               expires=_utc(expires), actor=actor, created_at=_utc(datetime.now(UTC)))
            session.add(row)
            session.flush()
            self.append_event(session, actor, "waiver.added", check_id,
                              {"id": row.id, "target": target, "subject": subject, "reason": reason,
                               "expires": expires.isoformat() if expires else None}, project=project)
            session.commit()
            return int(row.id or 0)

    def waivers(self, include_revoked: bool = False, project: str = DEFAULT_PROJECT) -> list[WaiverRecord]:
        with self.session() as session:
            query = select(WaiverRecord).where(WaiverRecord.project == project)
            if not include_revoked:
                query = query.where(col(WaiverRecord.revoked).is_(False))
            return list(session.exec(query.order_by(col(WaiverRecord.id))))

    def revoke_waiver(self, waiver_id: int, actor: str, project: str | None = None) -> None:
        """Revoke a waiver (audited); with ``project`` named, only one of that project's."""
        with self.chained_session() as session:
            row = session.get(WaiverRecord, waiver_id)
            if row is None or (project is not None and row.project != project):
                raise StoreError(f"no waiver {waiver_id}" + (f" in project '{project}'" if project else ""))
            if row.revoked:
                raise StoreError(f"waiver {waiver_id} is already revoked")
            row.revoked = True
            session.add(row)
            self.append_event(session, actor, "waiver.revoked", row.check_id, {"id": waiver_id},
                              project=row.project)
            session.commit()

    # -- projects -------------------------------------------------------------------------------
    def projects(self) -> list[str]:
        """Every project the store knows (from runs, ticks, waivers, milestones), ``default`` first."""
        from scaleready.models import MilestoneRecord

        found = {DEFAULT_PROJECT}
        with self.session() as session:
            for column in (RunRecord.project, ItemStateRecord.project, WaiverRecord.project, MilestoneRecord.project):
                found.update(session.exec(select(column).distinct()).all())
        return sorted(found, key=lambda p: (p != DEFAULT_PROJECT, p))

    # -- audit ----------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, subject: str = "", details: dict[str, Any] | None = None,
              project: str = DEFAULT_PROJECT) -> str:
        """Append one event; returns its hash."""
        with self.chained_session() as session:
            event = self.append_event(session, actor, action, subject, details, project)
            digest = event.hash or ""
            session.commit()
            return digest

    def audit_log(self, limit: int = 200, project: str | None = None) -> list[AuditEvent]:
        """Newest first; only ``project``'s events when one is named."""
        with self.session() as session:
            query = select(AuditEvent)
            if project is not None:
                query = query.where(AuditEvent.project == project)
            return list(session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit)))

    def audit_head(self) -> tuple[int, str]:
        """(number of events, hash of the newest): what reports and milestones quote."""
        with self.session() as session:
            head = session.get(AuditChainHead, 1)
            return (head.seq, head.head) if head else (0, "")

    def verify_audit(self) -> chain.Verdict:
        """Walk the whole chain (see `scaleready.audit.verify`), then check that every milestone and
        signature matches the event that recorded it, so a frozen scorecard cannot be swapped."""
        with self.session() as session:
            seq, head = self.audit_head()
            events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).yield_per(1000)
            verdict = chain.verify(events, seq, head)
            if not verdict.ok:
                return verdict
            problem = _milestone_problem(session)
        if problem:
            return chain.Verdict(False, verdict.events, verdict.head, None, problem)
        return verdict


def _milestone_problem(session: Session) -> str | None:
    """Why a milestone or signature disagrees with the chain, or None."""
    import hashlib

    from scaleready.models import MilestoneRecord, MilestoneSignature

    created = {}
    for e in session.exec(select(AuditEvent).where(AuditEvent.action == "milestone.created")):
        created[(e.project, e.subject)] = json.loads(e.details_json).get("sha256")
    signed = set(session.exec(select(AuditEvent.hash).where(AuditEvent.action == "milestone.signed")).all())
    for m in session.exec(select(MilestoneRecord)):
        digest = hashlib.sha256(json.dumps(json.loads(m.document_json), sort_keys=True, separators=(",", ":"),
                                           default=str).encode()).hexdigest()
        if digest != m.sha256 or created.get((m.project, m.name)) != m.sha256:
            return f"milestone '{m.name}' (project {m.project}) does not match the sha256 its creation event recorded"
        for s in session.exec(select(MilestoneSignature).where(MilestoneSignature.milestone_id == m.id)):
            if s.event_hash not in signed:
                return f"a signature by {s.actor} on milestone '{m.name}' has no sign-off event in the chain"
    return None


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
