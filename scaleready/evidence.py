"""The evidence record of each framework item: why it has the verdict it has, in one place.

An auditor reads one item at a time: its verdict, the checks that prove it and the findings
behind them, the manual tick (state, who, when, why), the waivers that applied or have
expired, and whether a person's tick contradicts the live evidence. Every report format
lays out these records; they are derived only from what the run itself stores (items with
their evidence fingerprints and ticks, the run's waivers), so a stored run reports the same.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from scaleready.api import Finding
from scaleready.results import ItemScore, ManualTick, RunResult, WaiverRef


@dataclass
class EvidenceRecord:
    item: ItemScore
    area: str
    findings: list[Finding] = field(default_factory=list)
    waivers: list[WaiverRef] = field(default_factory=list)

    @property
    def tick(self) -> ManualTick | None:
        return self.item.tick

    @property
    def conflict(self) -> str | None:
        """Why a tick and the live evidence disagree, or None."""
        if self.item.source != "conflict":
            return None
        return self.item.note or "the manual tick contradicts the live evidence"

    @property
    def proven_by(self) -> str:
        """How the verdict was reached, in words: the evidence source, never 'manual' by default."""
        if self.item.source == "evidence":
            return "live evidence"
        if self.item.status == "not_applicable":
            return "ticked not applicable: out of the score"
        if self.item.source == "manual":
            return "manual tick"
        if self.item.source == "conflict":
            return "conflict: tick vs live evidence"
        return "no evidence yet"

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item.id,
            "area": self.area,
            "verdict": self.item.status,
            "source": self.item.source,
            "checks": list(self.item.checks),
            "findings": [{"check": f.check, "target": f.target, "subject": f.subject, "status": f.status.value,
                          "fingerprint": f.fingerprint, "waived": f.waived} for f in self.findings],
            "tick": self.tick.to_json() if self.tick else None,
            "waivers": [{"id": w.id, "reason": w.reason, "actor": w.actor, "expires": w.expires,
                         "expired": w.expired} for w in self.waivers],
            "conflict": self.conflict,
        }


def waiver_matches(waiver: WaiverRef, finding: Finding) -> bool:
    return (fnmatch.fnmatchcase(finding.check, waiver.check)
            and fnmatch.fnmatchcase(finding.target, waiver.target)
            and fnmatch.fnmatchcase(finding.subject or "", waiver.subject))


def evidence_records(run: RunResult) -> list[EvidenceRecord]:
    """One record per scored item, in scorecard order."""
    by_fingerprint: dict[str, list[Finding]] = {}
    for f in run.findings:
        by_fingerprint.setdefault(f.fingerprint, []).append(f)
    records = []
    excluded: dict[str, list[ItemScore]] = {}
    for item in run.score.not_applicable:
        excluded.setdefault(item.area, []).append(item)
    for area in run.score.areas:
        for item in [*area.items, *excluded.pop(area.id, [])]:
            findings = [f for fp in item.evidence for f in by_fingerprint.get(fp, [])]
            waivers = [w for w in run.waivers if any(waiver_matches(w, f) for f in findings)]
            records.append(EvidenceRecord(item, area.title, findings, waivers))
    return records


def _when(iso_text: str) -> str:
    return iso_text[:16].replace("T", " ") + " UTC" if iso_text else ""


def record_texts(record: EvidenceRecord, max_findings: int = 5) -> dict[str, str]:
    """The record as short texts (verdict, proven by, checks, findings, tick, waivers, conflict)
    for the formats that lay it out as table cells or properties."""
    shown = record.findings[:max_findings]
    more = len(record.findings) - len(shown)
    findings = "; ".join(f"{f.status.value} {f.target}{' / ' + f.subject if f.subject else ''}"
                         + (" (waived)" if f.waived else "") for f in shown)
    if more:
        findings += f"; and {more} more"
    tick = record.tick
    return {
        "verdict": record.item.status,
        "proven_by": record.proven_by,
        "checks": ", ".join(record.item.checks) or "none (manual item)",
        "findings": findings or ("none in this run" if record.item.checks else ""),
        "tick": (f"{tick.state} by {tick.actor}, {_when(tick.at)}" + (f": {tick.note}" if tick.note else ""))
        if tick else "",
        "waivers": "; ".join(f"{w.reason} ({w.actor or w.source}, expires {w.expires or 'never'}"
                             + (", EXPIRED" if w.expired else "") + ")" for w in record.waivers),
        "conflict": record.conflict or "",
    }
