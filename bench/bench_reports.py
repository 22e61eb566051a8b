"""Report rendering benchmark (issue 10): a run of 6,000 findings to HTML and to PDF.

Run: ``python bench/bench_reports.py``. Targets: HTML in under 3 s, PDF in under 30 s. The run is
scored against the built-in framework with manual ticks (one contradicting the evidence) and
waivers (one expired), so the evidence record, the conflicts and the waiver tables are all
drawn. The JSON render of the same run in the same process is printed as the baseline the
two figures are compared with (their ratio to it), so a slow machine shows as a slow baseline
rather than as a regression. Exits 1 when a target is missed.
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from scaleready.api import Finding, Severity, Status
from scaleready.engine import Waiver, apply_waivers
from scaleready.framework import load_framework
from scaleready.reports import render
from scaleready.results import RunResult, SnapshotRef, WaiverRef
from scaleready.scoring import score

FINDINGS = 6000
HTML_TARGET_S, PDF_TARGET_S = 3.0, 30.0


@dataclass
class Tick:
    state: str
    actor: str
    note: str
    at: datetime


def build_run(n: int = FINDINGS) -> RunResult:
    rng = random.Random(10)
    framework = load_framework()
    checks = [(c, item.id) for item in framework.items for c in item.checks]
    statuses = [Status.PASS] * 5 + [Status.FAIL] * 2 + [Status.WARN, Status.ERROR, Status.SKIP]
    findings = []
    for i in range(n):
        check, item = checks[i % len(checks)]
        status = rng.choice(statuses)
        findings.append(Finding(
            check=check, target=f"target-{i % 40}", status=status, severity=rng.choice(list(Severity)),
            title=f"{check} holds", message=f"{check} observed value {rng.random():.3f} on object {i}",
            evidence={"observed": {"value": rng.random(), "unit": "ratio", "samples": [rng.randint(0, 99)
                                                                                        for _ in range(5)]},
                      "target": {"min": 0.9}, "pointer": f"/objects/{i}", "snapshot": uuid.uuid4().hex * 2},
            remediation="Raise the value to the guide's target.", items=[item], section="1.2",
            subject=f"ns-{i % 12}/Deployment/app-{i}", location=f"k8s/app-{i}.yaml:{i % 90 + 1}" if i % 3 else None,
        ))
    waivers = [Waiver("kubernetes.*", "migration window", expires=datetime(2099, 1, 1).date()),
               Waiver("redis.*", "lapsed", expires=datetime(2020, 1, 1).date())]
    apply_waivers(findings, waivers)
    now = datetime.now(UTC)
    ticks = {"comm.circuit_breaker": Tick("done", "bo", "breaker PR #42", now),
             "principles.horizontal_stateless": Tick("done", "ana", "HPA everywhere", now)}
    return RunResult(
        id=str(uuid.uuid4()), started_at=now, finished_at=now,
        framework={"id": framework.id, "title": framework.title, "version": str(framework.version)},
        findings=findings, score=score(framework, findings, ticks),
        snapshots=[SnapshotRef(f"target-{t}", "kubernetes", uuid.uuid4().hex * 2) for t in range(40)],
        tool_version="bench", project="bench",
        waivers=[WaiverRef("config", "config:1", "kubernetes.*", "*", "*", "migration window", "bench", "2099-01-01"),
                 WaiverRef("config", "config:2", "redis.*", "*", "*", "lapsed", "bench", "2020-01-01", True)],
        audit_head="ab" * 32,
    )


def timed(fmt: str, run: RunResult) -> tuple[float, int]:
    started = time.perf_counter()
    out = render(run, fmt)
    return time.perf_counter() - started, len(out)


def main() -> int:
    run = build_run()
    baseline, _ = timed("json", run)
    html_s, html_size = timed("html", run)
    pdf_s, pdf_size = timed("pdf", run)
    print(f"{len(run.findings)} findings; json (baseline) {baseline:.2f} s")
    figures = (("html", html_s, html_size, HTML_TARGET_S), ("pdf", pdf_s, pdf_size, PDF_TARGET_S))
    for name, took, size, target in figures:
        print(f"{name:<4} {took:.2f} s ({size / 1e6:.1f} MB), {took / baseline:.1f}x json; target < {target:g} s")
    missed = [name for name, took, target in (("html", html_s, HTML_TARGET_S), ("pdf", pdf_s, PDF_TARGET_S))
              if took >= target]
    if missed:
        print(f"MISSED: {', '.join(missed)}")
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
