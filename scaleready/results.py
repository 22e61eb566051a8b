"""The shape of one finished run, shared by the store, the CLI, the reports and the dashboard.

A `RunResult` is what every output format renders; keeping it one plain dataclass means a
report of a stored run and the report printed right after `scaleready check` are identical.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from scaleready.api import Finding, Status

STATUS_VALUE = {"pass": 1.0, "warn": 0.5, "fail": 0.0, "unknown": 0.0}


@dataclass
class ManualTick:
    """A person's tick on an item as it stood when the run was scored: state, who, when, why."""

    state: str  # done | not_done | not_applicable
    actor: str
    at: str  # ISO-8601 UTC
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> ManualTick | None:
        if not doc:
            return None
        return cls(doc["state"], doc.get("actor", ""), doc.get("at", ""), doc.get("note", ""))


@dataclass
class WaiverRef:
    """A waiver known when the run was evaluated, from the config or the store, applied or expired."""

    source: str  # config | store
    id: str  # "config:1", "store:12"
    check: str
    target: str
    subject: str
    reason: str
    actor: str = ""
    expires: str | None = None  # ISO date
    expired: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> WaiverRef:
        return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})


@dataclass
class ItemScore:
    """One framework item's verdict: from automatic evidence, a manual tick, or unknown."""

    id: str
    title: str
    area: str
    section: str
    kind: str  # auto | manual | both
    weight: float
    status: str  # pass | warn | fail | unknown
    source: str  # evidence | manual | none | conflict
    value: float  # 1 pass, 0.5 warn, 0 fail or unknown
    checks: list[str] = field(default_factory=list)
    phase: int | None = None
    note: str | None = None
    tick: ManualTick | None = None
    evidence: list[str] = field(default_factory=list)  # fingerprints of the findings behind the verdict

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "section": self.section, "kind": self.kind,
                "status": self.status, "source": self.source, "weight": self.weight, "checks": list(self.checks),
                "phase": self.phase, "note": self.note, "tick": self.tick.to_json() if self.tick else None,
                "evidence": list(self.evidence)}


@dataclass
class AreaScore:
    id: str
    title: str
    score: float  # 0-100, unknown items count as 0
    coverage: float  # 0-1, evaluated items / items
    items: list[ItemScore] = field(default_factory=list)


@dataclass
class PhaseProgress:
    number: int
    title: str
    done: int
    total: int

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.done == self.total


@dataclass
class Scorecard:
    overall: float  # 0-100; unknown never counts as pass
    coverage: float  # 0-1
    areas: list[AreaScore] = field(default_factory=list)
    phases: list[PhaseProgress] = field(default_factory=list)
    level: int = 0  # phases complete in order: phase 1 done = level 1
    # items ticked not applicable: out of the score and coverage, kept for the evidence record
    not_applicable: list[ItemScore] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "overall": round(self.overall, 1),
            "coverage": round(self.coverage, 3),
            "level": self.level,
            "areas": [
                {
                    "id": a.id,
                    "title": a.title,
                    "score": round(a.score, 1),
                    "coverage": round(a.coverage, 3),
                    "items": [i.to_json() for i in a.items],
                }
                for a in self.areas
            ],
            "phases": [
                {"number": p.number, "title": p.title, "done": p.done, "total": p.total}
                for p in self.phases
            ],
            "not_applicable": [{**i.to_json(), "area": i.area} for i in self.not_applicable],
        }


@dataclass
class SnapshotRef:
    target: str
    kind: str
    sha256: str
    error: str | None = None
    duration_ms: float = 0.0


@dataclass
class RunResult:
    id: str
    started_at: datetime
    finished_at: datetime | None
    framework: dict[str, str]  # {"id", "title", "version"}
    findings: list[Finding]
    score: Scorecard
    snapshots: list[SnapshotRef] = field(default_factory=list)
    tool_version: str = ""
    environment: str | None = None
    project: str = "default"
    waivers: list[WaiverRef] = field(default_factory=list)
    audit_head: str | None = None  # the audit chain's head right after this run was stored
    milestone: dict[str, Any] | None = None  # set when rendered from a milestone: name, sign-offs
    config_path: str | None = None  # SARIF anchors findings without a file of their own to it

    def count(self, status: Status) -> int:
        return sum(1 for f in self.findings if f.status == status)


def item_from_json(doc: Mapping[str, Any], area: str) -> ItemScore:
    status = doc.get("status", "unknown")
    return ItemScore(
        id=doc["id"], title=doc.get("title", ""), area=area, section=doc.get("section", ""),
        kind=doc.get("kind", "auto"), weight=float(doc.get("weight", 1.0)), status=status,
        source=doc.get("source", "none"), value=STATUS_VALUE.get(status, 0.0), checks=list(doc.get("checks", [])),
        phase=doc.get("phase"), note=doc.get("note"), tick=ManualTick.from_json(doc.get("tick")),
        evidence=list(doc.get("evidence", [])),
    )


def scorecard_from_json(doc: Mapping[str, Any]) -> Scorecard:
    """Rebuild a scorecard from `Scorecard.to_json`: the stored form and the JSON report's form."""
    areas = [
        AreaScore(id=a["id"], title=a.get("title", a["id"]), score=float(a.get("score", 0.0)),
                  coverage=float(a.get("coverage", 0.0)),
                  items=[item_from_json(i, a["id"]) for i in a.get("items", [])])
        for a in doc.get("areas", [])
    ]
    phases = [PhaseProgress(int(p["number"]), p.get("title", ""), int(p.get("done", 0)), int(p.get("total", 0)))
              for p in doc.get("phases", [])]
    return Scorecard(overall=float(doc.get("overall", 0.0)), coverage=float(doc.get("coverage", 0.0)), areas=areas,
                     phases=phases, level=int(doc.get("level", 0)),
                     not_applicable=[item_from_json(i, i.get("area", "")) for i in doc.get("not_applicable", [])])
