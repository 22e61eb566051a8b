"""Milestones: a project's scorecard frozen under a name, compared, and signed off.

Creating a milestone takes the project's latest stored run, scores it again with the ticks as
they stand now (so a tick made after the run counts), and keeps its full JSON report document
(scores, findings, ticks, waivers, snapshot hashes) with the document's sha256 and the audit
chain head. Signing is an audit event; its hash is kept with the signature, so a signature
points at one place in the tamper-evident log. A milestone's report is rendered from the frozen
document, never from live data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from scaleready.framework import FrameworkError
from scaleready.models import DEFAULT_PROJECT, MilestoneRecord, MilestoneSignature
from scaleready.reports.json_report import from_json, to_document
from scaleready.results import RunResult
from scaleready.store import Store, StoreError


@dataclass
class Milestone:
    name: str
    project: str
    run_id: str
    created_at: datetime
    actor: str
    note: str
    sha256: str
    audit_head: str | None
    document: dict[str, Any]
    signatures: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        score = self.document.get("score", {})
        return {"name": self.name, "project": self.project, "run": self.run_id,
                "created_at": self.created_at.isoformat(), "by": self.actor, "note": self.note,
                "sha256": self.sha256, "audit_head": self.audit_head, "overall": score.get("overall"),
                "coverage": score.get("coverage"), "level": score.get("level"), "signatures": self.signatures}


def _digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _rescored(store: Store, run: RunResult) -> RunResult:
    """The run with the project's current ticks; as stored when its framework is not at hand."""
    from scaleready.runner import rescore, resolve_framework

    try:
        framework = resolve_framework(run.framework.get("id"))
    except FrameworkError:
        return run
    if framework.id != run.framework.get("id"):
        return run
    return replace(rescore(run, framework, store), audit_head=run.audit_head)


def create(store: Store, name: str, actor: str, note: str = "", *, project: str = DEFAULT_PROJECT,
           run_ref: str = "latest") -> Milestone:
    if not name.strip() or not actor.strip():
        raise ValueError("a milestone needs a name and the name of who creates it")
    run = _rescored(store, store.load_run(run_ref, project=project if run_ref == "latest" else None))
    if run.project != project:
        raise StoreError(f"run {run.id} belongs to project '{run.project}', not '{project}'")
    document = to_document(run)
    digest = _digest(document)
    with store.chained_session() as session:
        exists = session.exec(select(MilestoneRecord).where(MilestoneRecord.project == project,
                                                            MilestoneRecord.name == name)).first()
        if exists is not None:
            raise StoreError(f"project '{project}' already has a milestone '{name}'")
        event = store.append_event(session, actor, "milestone.created", name,
                                   {"run": run.id, "sha256": digest, "note": note}, project=project)
        session.add(MilestoneRecord(project=project, name=name, run_id=run.id, created_at=_utc(datetime.now(UTC)),
                                    actor=actor, note=note, document_json=json.dumps(document, default=str),
                                    sha256=digest, audit_head=event.hash))
        session.commit()
    return get(store, name, project=project)


def _record(session: Any, name: str, project: str) -> MilestoneRecord:
    row = session.exec(select(MilestoneRecord).where(MilestoneRecord.project == project,
                                                     MilestoneRecord.name == name)).first()
    if row is None:
        raise StoreError(f"project '{project}' has no milestone '{name}'")
    return row


def _milestone(session: Any, row: MilestoneRecord) -> Milestone:
    signatures = session.exec(select(MilestoneSignature).where(MilestoneSignature.milestone_id == row.id)
                              .order_by(col(MilestoneSignature.id))).all()
    return Milestone(row.name, row.project, row.run_id, _utc(row.created_at), row.actor, row.note, row.sha256,
                     row.audit_head, json.loads(row.document_json),
                     [{"by": s.actor, "at": _utc(s.at).isoformat(), "note": s.note, "event_hash": s.event_hash}
                      for s in signatures])


def get(store: Store, name: str, *, project: str = DEFAULT_PROJECT) -> Milestone:
    with store.session() as session:
        milestone = _milestone(session, _record(session, name, project))
    if _digest(milestone.document) != milestone.sha256:
        raise StoreError(f"milestone '{name}': its frozen document no longer matches its sha256")
    return milestone


def list_all(store: Store, *, project: str = DEFAULT_PROJECT) -> list[Milestone]:
    with store.session() as session:
        rows = session.exec(select(MilestoneRecord).where(MilestoneRecord.project == project)
                            .order_by(col(MilestoneRecord.created_at))).all()
        return [_milestone(session, r) for r in rows]


def sign(store: Store, name: str, actor: str, note: str = "", *, project: str = DEFAULT_PROJECT) -> Milestone:
    """Sign off a milestone: an audit event, and a signature that quotes the event's hash."""
    if not actor.strip():
        raise ValueError("a sign-off needs the name of who signs")
    with store.chained_session() as session:
        row = _record(session, name, project)
        event = store.append_event(session, actor, "milestone.signed", name,
                                   {"sha256": row.sha256, "note": note}, project=project)
        session.add(MilestoneSignature(milestone_id=row.id or 0, actor=actor, at=_utc(datetime.now(UTC)), note=note,
                                       event_hash=event.hash or ""))
        session.commit()
    return get(store, name, project=project)


def as_run(milestone: Milestone) -> RunResult:
    """The frozen run, carrying the milestone (name, sha256, sign-offs) for the report."""
    run = from_json(milestone.document)
    run.milestone = {k: v for k, v in milestone.summary().items() if k not in ("overall", "coverage", "level")}
    return run


def diff(a: Milestone, b: Milestone) -> dict[str, Any]:
    """What changed from milestone ``a`` to ``b``: scores, item verdicts, ticks, findings, waivers."""
    sa, sb = a.document["score"], b.document["score"]

    def items(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {i["id"]: i for area in doc["score"]["areas"] for i in area["items"]}

    def findings(doc: dict[str, Any]) -> dict[tuple[str, str, str], str]:
        return {(f["check"], f["target"], f.get("subject") or ""): f["status"] for f in doc["findings"]}

    ia, ib = items(a.document), items(b.document)
    fa, fb = findings(a.document), findings(b.document)
    wa = {w["id"] for w in a.document.get("waivers", [])}
    wb = {w["id"] for w in b.document.get("waivers", [])}
    return {
        "from": a.name, "to": b.name,
        "overall": [sa["overall"], sb["overall"]], "coverage": [sa["coverage"], sb["coverage"]],
        "level": [sa["level"], sb["level"]],
        "items": [{"item": k, "from": ia.get(k, {}).get("status"), "to": ib.get(k, {}).get("status")}
                  for k in sorted(ia.keys() | ib.keys())
                  if ia.get(k, {}).get("status") != ib.get(k, {}).get("status")],
        "ticks": [{"item": k, "from": (ia.get(k) or {}).get("tick"), "to": (ib.get(k) or {}).get("tick")}
                  for k in sorted(ia.keys() | ib.keys())
                  if (ia.get(k) or {}).get("tick") != (ib.get(k) or {}).get("tick")],
        "findings": [{"finding": "/".join(k), "from": fa.get(k), "to": fb.get(k)}
                     for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)],
        "waivers": {"added": sorted(wb - wa), "removed": sorted(wa - wb)},
    }
