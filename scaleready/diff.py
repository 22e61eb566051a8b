"""What changed between two runs: new failures, fixes and regressions, matched by fingerprint.

Findings are matched on (check, target, subject) — `Finding.fingerprint` — so a run compared
with last week's says exactly which evidence got worse, which got better, and what is new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scaleready.api import Finding
from scaleready.results import RunResult

RANK = {"pass": 0, "skip": 1, "warn": 2, "error": 3, "fail": 4}


@dataclass
class RunDiff:
    worse: list[tuple[Finding, Finding]] = field(default_factory=list)  # (before, after)
    better: list[tuple[Finding, Finding]] = field(default_factory=list)
    appeared: list[Finding] = field(default_factory=list)
    disappeared: list[Finding] = field(default_factory=list)
    score_delta: float = 0.0
    coverage_delta: float = 0.0

    @property
    def regressions(self) -> int:
        """Findings that got worse plus new findings that do not pass."""
        return len(self.worse) + sum(1 for f in self.appeared if _effective(f) in ("warn", "fail"))


def _effective(f: Finding) -> str:
    return "pass" if f.waived else f.status.value


def diff_runs(before: RunResult, after: RunResult) -> RunDiff:
    old = {f.fingerprint: f for f in before.findings}
    new = {f.fingerprint: f for f in after.findings}
    result = RunDiff(score_delta=after.score.overall - before.score.overall,
                     coverage_delta=after.score.coverage - before.score.coverage)
    for key, finding in new.items():
        previous = old.get(key)
        if previous is None:
            result.appeared.append(finding)
        elif RANK[_effective(finding)] > RANK[_effective(previous)]:
            result.worse.append((previous, finding))
        elif RANK[_effective(finding)] < RANK[_effective(previous)]:
            result.better.append((previous, finding))
    result.disappeared = [f for key, f in old.items() if key not in new]
    return result


def diff_rows(d: RunDiff) -> list[dict[str, str]]:
    """Flat rows for a table: change, check, target, subject, before, after, message."""
    rows = [{"change": label, "check": a.check, "target": a.target, "subject": a.subject or "",
             "before": b.status.value, "after": a.status.value, "message": a.message}
            for label, pairs in (("worse", d.worse), ("better", d.better)) for b, a in pairs]
    rows += [{"change": "new", "check": f.check, "target": f.target, "subject": f.subject or "", "before": "",
              "after": f.status.value, "message": f.message} for f in d.appeared]
    rows += [{"change": "gone", "check": f.check, "target": f.target, "subject": f.subject or "",
              "before": f.status.value, "after": "", "message": f.message} for f in d.disappeared]
    return rows
