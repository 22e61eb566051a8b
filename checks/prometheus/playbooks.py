"""The emergency playbooks (10): should one be running now, and can it be run?

Each playbook's triggers (``scaleready.playbooks``) are read from the snapshot's live signals
(the 1.2 signals plus connection use and replication lag); the service's emergency switches
from its ``emergency_switch{switch}`` gauge. A playbook whose trigger is crossed fails (danger)
with the guide's steps; one whose switches are not exposed warns; nothing measured is ``error``.
"""

from __future__ import annotations

from typing import Any

from checks.prometheus.evidence import finite, probe, scalar
from scaleready.api import (
    EvidenceUnavailable,
    Outcome,
    Severity,
    Snapshot,
    Target,
    check,
    errored,
    failed,
    passed,
    warned,
)
from scaleready.playbooks import PLAYBOOKS, Playbook, PlaybookState, evaluate

KIND = "prometheus"
SLO_SIGNALS = ("db_cpu", "error_rate", "p99_latency")


def live_signals(snapshot: Snapshot) -> tuple[dict[str, float | None], dict[str, str]]:
    """Every playbook signal's value in the snapshot, and the reason for each one missing."""
    values: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    try:
        slo = snapshot.section("slo")
    except EvidenceUnavailable as exc:
        slo, reasons = {}, dict.fromkeys(SLO_SIGNALS, str(exc))
    for key in SLO_SIGNALS:
        entry = slo.get(key) or {}
        values[key] = entry.get("value")
        if values[key] is None:
            reasons.setdefault(key, entry.get("reason") or "no data")
    for key in ("db_connections", "replication_lag"):
        entry = probe(snapshot, key)
        values[key] = scalar(entry)
        if values[key] is None:
            reasons[key] = entry.get("reason") or "no data"
    return values, reasons


def switches(snapshot: Snapshot) -> dict[str, float]:
    return {str(v["labels"].get("switch")): v["value"] for v in finite(probe(snapshot, "switches"))}


def judge(state: PlaybookState) -> Outcome:
    """The finding for one evaluated playbook."""
    book = state.playbook
    steps = {"immediately": list(book.immediately), "next": list(book.next)}
    evidence: dict[str, Any] = {
        "triggers": [{"signal": t.trigger.signal, "title": t.trigger.title, "value": t.value,
                      "above": t.trigger.above, "crossed": t.crossed, "reason": t.reason} for t in state.triggers],
        "steps": steps, "switches_seen": state.switches_seen, "switches_needed": list(book.switches),
    }
    readings = "; ".join(t.describe() for t in state.triggers)
    if not state.measured:
        return errored(f"none of the {book.title} triggers could be measured: {readings}", evidence=evidence,
                       pointer="/evidence/probes")
    if state.active:
        crossed = ", ".join(t.describe() for t in state.triggers if t.crossed)
        on = f"; switches on: {', '.join(state.switches_on)}" if state.switches_on else ""
        return failed(f"the {book.title} playbook should be running now ({crossed}): immediately "
                      f"{' and '.join(book.immediately).lower()}{on}", evidence=evidence, severity=Severity.DANGER)
    if state.missing_switches:
        return warned(f"{book.title} not triggered ({readings}), but the service exposes no "
                      f"{', '.join(state.missing_switches)} switch", evidence=evidence,
                      remediation=book.switch_hint)
    return passed(f"{book.title} not triggered ({readings}); switches ready: {', '.join(book.switches)}",
                  evidence=evidence)


def _playbook_check(book: Playbook) -> Any:
    def evaluate_playbook(snapshot: Snapshot, target: Target) -> Outcome:
        values, reasons = live_signals(snapshot)
        return judge(evaluate(book, values, reasons, switches(snapshot)))

    triggers = ", ".join(f"{t.title} > {t.show(t.above)}" for t in book.triggers)
    evaluate_playbook.__doc__ = f"Playbook {book.section} {book.title}: triggers {triggers}, from live signals."
    return check(
        f"prometheus.playbook.{book.key}", kind=KIND, title=f"Playbook {book.section}: {book.title}",
        severity=Severity.WARNING, items=[book.item], section=book.section,
        remediation=f"Runbook: immediately {'; '.join(book.immediately)}; next {'; '.join(book.next)}. "
                    f"Keep the switches ({', '.join(book.switches)}) one command away and drill them.",
    )(evaluate_playbook)


db_overload = _playbook_check(PLAYBOOKS["db_overload"])
api_degradation = _playbook_check(PLAYBOOKS["api_degradation"])
