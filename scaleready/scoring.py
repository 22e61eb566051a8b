"""Fold findings and manual ticks into scorecards, roadmap progress and a readiness level.

The rule that matters: *unknown is never pass*. An item whose only evidence is ``error`` or
``skip`` is unknown; it scores 0 and lowers coverage, so a run that could not reach half
the systems can never look ready. A waived failure is accepted risk and scores as met,
visibly marked. Items ticked not-applicable leave both the score and the coverage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC
from typing import Any, Protocol

from scaleready.api import Finding, Status
from scaleready.results import STATUS_VALUE, AreaScore, ItemScore, ManualTick, PhaseProgress, Scorecard


class ManualState(Protocol):
    state: str
    actor: str
    note: str


def _tick(state: ManualState | None) -> ManualTick | None:
    """The tick as the run records it (who, when, why), from a store row or any look-alike."""
    if state is None:
        return None
    at = getattr(state, "at", None)
    if at is not None and hasattr(at, "isoformat"):
        at = (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)).isoformat()
    return ManualTick(state.state, state.actor, str(at or ""), state.note or "")


def _evidence_status(findings: Iterable[Finding]) -> str:
    statuses = set()
    for f in findings:
        status = Status.PASS if f.waived and f.status in (Status.FAIL, Status.WARN) else f.status
        statuses.add(status)
    for candidate in (Status.FAIL, Status.WARN, Status.PASS):
        if candidate in statuses:
            return candidate.value
    return "unknown"


def _decide(kind: str, evidence: str, manual: str | None) -> tuple[str, str, str | None]:
    """(status, source, note) for one item from its evidence and its manual tick."""
    ticked = {"done": "pass", "not_done": "fail"}.get(manual or "")
    if kind == "manual" or (kind == "both" and evidence == "unknown"):
        return (ticked, "manual", None) if ticked else ("unknown", "none", None)
    if kind == "both" and ticked and evidence != "unknown" and ticked != evidence:
        if evidence == "fail":
            return "fail", "conflict", "ticked done, but the live evidence fails"
        if ticked == "fail":
            return "warn", "conflict", "live evidence passes, but a person ticked it not done"
    if evidence == "unknown":
        return "unknown", "none", None
    return evidence, "evidence", None


def _slug(text: Any) -> str:
    return "_".join(str(text).lower().replace("-", " ").split())


def _same_scope(finding: Finding, item: Any) -> bool:
    """One check can prove several parametrised items (the three cache rules of guide 2.2 are
    all proven by ``redis.ttl_policy``); a finding that names its data type only counts for
    the item about that data type."""
    wanted, got = (item.params or {}).get("data_type"), finding.evidence.get("data_type")
    return not (wanted and got) or _slug(wanted) == _slug(got)


FindingIndex = tuple[dict[str, list[int]], dict[str, list[int]]]


def _index(findings: list[Finding]) -> FindingIndex:
    """Positions of the findings per check id and per item id they name: one pass, so scoring
    thousands of findings against every item is not items x findings comparisons."""
    by_check: dict[str, list[int]] = defaultdict(list)
    by_item: dict[str, list[int]] = defaultdict(list)
    for n, f in enumerate(findings):
        by_check[f.check].append(n)
        for item_id in f.items:
            by_item[item_id].append(n)
    return by_check, by_item


def _item_findings(findings: list[Finding], item: Any, index: FindingIndex | None = None) -> list[Finding]:
    """The findings behind an item, in run order: its checks' findings and those naming it."""
    by_check, by_item = index or _index(findings)
    positions = set(by_item.get(item.id, ()))
    for check_id in item.checks:
        positions.update(by_check.get(check_id, ()))
    return [findings[n] for n in sorted(positions) if _same_scope(findings[n], item)]


def score(
    framework: Any, findings: Iterable[Finding], manual: Mapping[str, ManualState] | None = None
) -> Scorecard:
    """The scorecard of a framework given a run's findings and the manual ticks."""
    manual = manual or {}
    findings = list(findings)
    index = _index(findings)
    by_area: dict[str, list[ItemScore]] = defaultdict(list)
    not_applicable: list[ItemScore] = []
    for item in framework.items:
        tick = manual.get(item.id)
        if tick is not None and tick.state == "not_applicable":
            not_applicable.append(ItemScore(
                id=item.id, title=item.title, area=item.area, section=item.section, kind=item.kind,
                weight=float(item.weight), status="not_applicable", source="manual", value=0.0,
                checks=list(item.checks), phase=item.phase, tick=_tick(tick),
                evidence=sorted({f.fingerprint for f in _item_findings(findings, item, index)}),
            ))
            continue
        behind = _item_findings(findings, item, index)
        status, source, note = _decide(item.kind, _evidence_status(behind), tick.state if tick else None)
        if tick is not None and source in ("manual", "conflict") and tick.note:
            note = f"{note}; {tick.actor}: {tick.note}" if note else f"{tick.actor}: {tick.note}"
        by_area[item.area].append(ItemScore(
            id=item.id, title=item.title, area=item.area, section=item.section, kind=item.kind,
            weight=float(item.weight), status=status, source=source, value=STATUS_VALUE[status],
            checks=list(item.checks), phase=item.phase, note=note, tick=_tick(tick),
            evidence=sorted({f.fingerprint for f in behind}),
        ))
    areas = [_area_score(area.id, area.title, by_area.get(area.id, [])) for area in framework.areas]
    every = [i for a in areas for i in a.items]
    overall = _area_score("overall", "Overall", every)
    phases = [
        PhaseProgress(
            phase.number, phase.title,
            done=sum(1 for i in every if i.phase == phase.number and i.status == "pass"),
            total=sum(1 for i in every if i.phase == phase.number),
        )
        for phase in framework.phases
    ]
    level = 0
    for phase in sorted(phases, key=lambda p: p.number):
        if not phase.complete:
            break
        level = phase.number
    return Scorecard(
        overall=overall.score, coverage=overall.coverage, areas=areas, phases=phases, level=level,
        not_applicable=not_applicable,
    )


def _area_score(area_id: str, title: str, items: list[ItemScore]) -> AreaScore:
    weight = sum(i.weight for i in items)
    achieved = sum(i.weight * i.value for i in items)
    evaluated = sum(1 for i in items if i.status != "unknown")
    return AreaScore(
        id=area_id,
        title=title,
        score=100.0 * achieved / weight if weight else 0.0,
        coverage=evaluated / len(items) if items else 0.0,
        items=items,
    )
