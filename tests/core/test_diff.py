"""Run comparison matches findings by fingerprint and ranks status changes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from scaleready.api import Finding, Severity, Status
from scaleready.diff import diff_rows, diff_runs
from scaleready.results import RunResult, Scorecard


def run(findings: list[Finding], overall: float) -> RunResult:
    return RunResult(str(uuid.uuid4()), datetime.now(UTC), None, {"id": "fw"}, findings, Scorecard(overall, 0.5))


def f(check: str, status: Status, subject: str | None = None, waived: bool = False) -> Finding:
    return Finding(check, "t", status, Severity.WARNING, check, f"{check} {status}", subject=subject, waived=waived)


def test_diff_classifies_changes():
    before = run([f("a", Status.PASS), f("b", Status.FAIL), f("c", Status.WARN, "x"), f("gone", Status.PASS)], 40)
    after = run([f("a", Status.FAIL), f("b", Status.PASS), f("c", Status.WARN, "y"), f("d", Status.FAIL, waived=True),
                 f("e", Status.WARN)], 55)
    change = diff_runs(before, after)
    assert [(b.check, a.status) for b, a in change.worse] == [("a", Status.FAIL)]
    assert [(b.check, a.status) for b, a in change.better] == [("b", Status.PASS)]
    assert sorted((x.check, x.subject) for x in change.appeared) == [("c", "y"), ("d", None), ("e", None)]
    assert sorted((x.check, x.subject) for x in change.disappeared) == [("c", "x"), ("gone", None)]
    assert change.regressions == 1 + 2  # a got worse; c/y (warn) and e (warn) are new; d is waived
    assert change.score_delta == 15
    assert {r["change"] for r in diff_rows(change)} == {"worse", "better", "new", "gone"}
