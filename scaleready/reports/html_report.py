"""The HTML audit report: one self-contained file (inline CSS and SVG, no scripts, no links out).

An auditor opens it offline months later, so everything the run knew is inside: the summary
and an area chart, roadmap progress, the security checklist with its evidence, the evidence
record of every item (verdict, checks and findings, the manual tick, waivers, conflicts),
findings grouped by area with their evidence as key/value tables, the waivers, the sha256 of
each snapshot, the audit chain head and, for a milestone, its sign-offs.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2
from markupsafe import Markup

import scaleready
from scaleready.api import Status
from scaleready.evidence import EvidenceRecord, evidence_records
from scaleready.reports._charts import area_chart_svg
from scaleready.reports._common import (
    areas_of,
    attention_key,
    duration_seconds,
    finding_areas,
    flatten_evidence,
    framework_label,
    iso,
    short_time,
    status_counts,
    subject_label,
)
from scaleready.results import RunResult

SECURITY_AREA = "security"

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("scaleready.reports", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True, default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False, default=str)
_ENV.filters["pct"] = lambda v: f"{float(v) * 100:.0f}%"
_ENV.filters["evidence"] = flatten_evidence
_ENV.filters["when"] = short_time


def findings_by_area(run: RunResult) -> list[tuple[str, str, list[Any]]]:
    """(area id, title, findings worst first) in scorecard order; a finding sits under its first area."""
    index = areas_of(run)
    groups: dict[str, tuple[str, list[Any]]] = {}
    for f in sorted(run.findings, key=attention_key):
        area = finding_areas(f, index)[0]
        groups.setdefault(area.id, (area.title, []))[1].append(f)
    order = [a.id for a in run.score.areas] + [a for a in groups if a not in {x.id for x in run.score.areas}]
    return [(a, groups[a][0], groups[a][1]) for a in order if a in groups]


def records_by_area(run: RunResult) -> list[tuple[str, str, list[EvidenceRecord]]]:
    records = evidence_records(run)
    out = []
    for area in run.score.areas:
        mine = [r for r in records if r.item.area == area.id]
        if mine:
            out.append((area.id, area.title, mine))
    return out


def context(run: RunResult) -> dict[str, Any]:
    by_area = records_by_area(run)
    return {
        "run": run,
        "score": run.score,
        "framework": framework_label(run),
        "started": iso(run.started_at),
        "finished": iso(run.finished_at),
        "duration": duration_seconds(run),
        "version": run.tool_version or scaleready.__version__,
        "counts": status_counts(run.findings),
        "chart": Markup(area_chart_svg(run)) if run.score.areas else "",
        "records": by_area,
        "security": next((r for a, _, r in by_area if a == SECURITY_AREA), []),
        "finding_groups": findings_by_area(run),
        "conflicts": [r for _, _, rs in by_area for r in rs if r.conflict],
        "waived": sum(1 for f in run.findings if f.waived),
        "label": subject_label,
        "Status": Status,
        "milestone": run.milestone,
    }


def render(run: RunResult) -> str:
    return _ENV.get_template("report.html.j2").render(context(run))
