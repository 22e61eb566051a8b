"""The JSON report: the machine-readable form of a run, and the one that reads back.

Shape (the CLI contract): ``{version, run{id, started_at, finished_at, framework,
environment}, score{overall, coverage, level, areas, phases}, findings[...]}``, each
finding as `Finding.to_json` gives it. Findings are ordered by (check, target, subject,
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
from scaleready.reports._common import by_identity, iso, pretty_json
from scaleready.results import AreaScore, ItemScore, PhaseProgress, RunResult, Scorecard

_VALUE = {"pass": 1.0, "warn": 0.5}


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
        },
        "score": run.score.to_json(),
        "findings": findings,
    }


def render(run: RunResult, *, indent: int | None = 2) -> str:
    doc = to_document(run)
    if indent == 2:
        return pretty_json(doc)
    return json.dumps(doc, indent=indent, ensure_ascii=False, default=str) + "\n"


def _item(doc: Mapping[str, Any], area: str) -> ItemScore:
    status = doc.get("status", "unknown")
    return ItemScore(
        id=doc["id"],
        title=doc.get("title", ""),
        area=area,
        section=doc.get("section", ""),
        kind=doc.get("kind", "auto"),
        weight=float(doc.get("weight", 1.0)),
        status=status,
        source=doc.get("source", "none"),
        value=_VALUE.get(status, 0.0),
    )


def scorecard_from_json(doc: Mapping[str, Any]) -> Scorecard:
    areas = [
        AreaScore(
            id=a["id"],
            title=a.get("title", a["id"]),
            score=float(a.get("score", 0.0)),
            coverage=float(a.get("coverage", 0.0)),
            items=[_item(i, a["id"]) for i in a.get("items", [])],
        )
        for a in doc.get("areas", [])
    ]
    phases = [
        PhaseProgress(number=int(p["number"]), title=p.get("title", ""), done=int(p.get("done", 0)),
                      total=int(p.get("total", 0)))
        for p in doc.get("phases", [])
    ]
    return Scorecard(overall=float(doc.get("overall", 0.0)), coverage=float(doc.get("coverage", 0.0)),
                     areas=areas, phases=phases, level=int(doc.get("level", 0)))


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
    )
