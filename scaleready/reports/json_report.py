"""The JSON report: the machine-readable form of a run, and the one that reads back.

Shape (the CLI contract): ``{version, run{id, started_at, finished_at, framework,
environment, project, audit_head}, score{overall, coverage, level, areas, phases},
evidence_record[...], waivers[...], snapshots[...], findings[...]}``, each finding as
`Finding.to_json` gives it; ``evidence_record`` is derived (per item: verdict, checks,
findings, tick, waivers, conflict) and ignored when read back. Findings are ordered by (check, target, subject,
location) and evidence keys are sorted, so two renders of the same run are byte-identical
and diffs between runs show real changes only. `from_json` rebuilds a `RunResult` from
this document, so an exported report can be re-rendered in any other format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import scaleready
from scaleready.api import Finding
from scaleready.evidence import evidence_records
from scaleready.reports._common import by_identity, iso, pretty_json
from scaleready.results import RunResult, SnapshotRef, WaiverRef, scorecard_from_json


def _sorted(value: Any) -> Any:
    """Dict keys sorted at every depth (lists keep their order: it can mean something)."""
    if isinstance(value, Mapping):
        return {str(k): _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_sorted(v) for v in value]
    return value


def to_document(run: RunResult) -> dict[str, Any]:
    findings = []
    for f in by_identity(run.findings):
        doc = f.to_json()
        doc["evidence"] = _sorted(doc["evidence"])
        findings.append(doc)
    return {
        "version": run.tool_version or scaleready.__version__,
        "run": {
            "id": run.id,
            "started_at": iso(run.started_at),
            "finished_at": iso(run.finished_at),
            "framework": _sorted(dict(run.framework or {})),
            "environment": run.environment,
            "project": run.project,
            "audit_head": run.audit_head,
            "config_path": run.config_path,
        },
        "score": run.score.to_json(),
        "evidence_record": [record.to_json() for record in evidence_records(run)],
        "waivers": [w.to_json() for w in run.waivers],
        "snapshots": [{"target": s.target, "kind": s.kind, "sha256": s.sha256, "error": s.error,
                       "duration_ms": s.duration_ms} for s in run.snapshots],
        "findings": findings,
        **({"milestone": run.milestone} if run.milestone else {}),
    }


def render(run: RunResult, *, indent: int | None = 2) -> str:
    doc = to_document(run)
    if indent == 2:
        return pretty_json(doc)
    return json.dumps(doc, indent=indent, ensure_ascii=False, default=str) + "\n"


def from_json(doc: Mapping[str, Any] | str) -> RunResult:
    """Rebuild a run from a JSON report (text or parsed); `ValueError` when it is not one."""
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON report: {exc}") from None
    if not isinstance(doc, Mapping) or not {"run", "score", "findings"} <= doc.keys():
        raise ValueError("not a scaleready JSON report: expected keys run, score and findings")
    run = doc["run"]
    finished = run.get("finished_at")
    return RunResult(
        id=run["id"],
        started_at=datetime.fromisoformat(run["started_at"]),
        finished_at=datetime.fromisoformat(finished) if finished else None,
        framework=dict(run.get("framework") or {}),
        findings=[Finding.from_json(f) for f in doc["findings"]],
        score=scorecard_from_json(doc["score"]),
        tool_version=doc.get("version", ""),
        environment=run.get("environment"),
        project=run.get("project") or "default",
        waivers=[WaiverRef.from_json(w) for w in doc.get("waivers", [])],
        snapshots=[SnapshotRef(s["target"], s["kind"], s["sha256"], s.get("error"), float(s.get("duration_ms", 0.0)))
                   for s in doc.get("snapshots", [])],
        audit_head=run.get("audit_head"),
        config_path=run.get("config_path"),
        milestone=doc.get("milestone"),
    )
