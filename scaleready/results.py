"""The shape of one finished run, shared by the store, the CLI, the reports and the dashboard.

A `RunResult` is what every output format renders; keeping it one plain dataclass means a
report of a stored run and the report printed right after `scaleready check` are identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scaleready.api import Finding, Status


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
                    "items": [
                        {"id": i.id, "title": i.title, "section": i.section, "kind": i.kind,
                         "status": i.status, "source": i.source, "weight": i.weight}
                        for i in a.items
                    ],
                }
                for a in self.areas
            ],
            "phases": [
                {"number": p.number, "title": p.title, "done": p.done, "total": p.total}
                for p in self.phases
            ],
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

    def count(self, status: Status) -> int:
        return sum(1 for f in self.findings if f.status == status)
