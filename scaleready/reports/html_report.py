"""The HTML audit report: one self-contained file (inline CSS, no scripts, no external links).

An auditor opens it offline months later, so everything the run knew is inside: the scores,
roadmap progress, every item's verdict, every finding with its evidence and remediation,
and the sha256 of each snapshot the findings were drawn from (the evidence can be matched
to the stored snapshot byte for byte). The page prints cleanly, which is also the basis of
the PDF report.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2

import scaleready
from scaleready.api import Status
from scaleready.reports._common import (
    STATUS_ORDER,
    by_attention,
    duration_seconds,
    framework_label,
    iso,
    status_counts,
    subject_label,
)
from scaleready.results import RunResult

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("scaleready.reports", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True, default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False, default=str)
_ENV.filters["pct"] = lambda v: f"{float(v) * 100:.0f}%"


def context(run: RunResult) -> dict[str, Any]:
    findings = by_attention(run.findings)
    groups = [(s.value, [f for f in findings if f.status == s]) for s in STATUS_ORDER]
    return {
        "run": run,
        "score": run.score,
        "framework": framework_label(run),
        "started": iso(run.started_at),
        "finished": iso(run.finished_at),
        "duration": duration_seconds(run),
        "version": run.tool_version or scaleready.__version__,
        "counts": status_counts(run.findings),
        "groups": [(s, fs) for s, fs in groups if fs],
        "waived": sum(1 for f in findings if f.waived),
        "label": subject_label,
        "Status": Status,
    }


def render(run: RunResult) -> str:
    return _ENV.get_template("report.html.j2").render(context(run))
