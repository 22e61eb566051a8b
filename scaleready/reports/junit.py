"""JUnit XML output: one test suite per framework area, one test case per check x target x subject.

CI systems (GitLab, Jenkins, Azure) read JUnit, not scorecards, so the run is mapped onto
their vocabulary:

* A finding lands in the suite of every area one of its framework items belongs to (the
  area really does depend on it); items the framework does not know go to "Other checks".
* ``fail`` and ``warn`` -> ``<failure>`` (``type`` is the status, the message says which):
  both mean the target is not met, and CI readers want to see them.
* ``skip`` -> ``<skipped message=...>``; ``error`` (could not evaluate) -> ``<skipped>``
  too, with "could not evaluate: ..." in the message, because unknown is neither a pass nor
  a failure of the checked system. A waived finding is ``<skipped>`` "waived: reason".
* Checks are pure and instant, so a case's time is 0; a suite's time is the sum of its
  cases; the root ``time`` is the run's wall-clock time (collection included).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from scaleready.api import Finding, Status
from scaleready.evidence import evidence_records, record_texts
from scaleready.reports._common import duration_seconds, group_by_area, iso, parse_location, subject_label
from scaleready.results import RunResult

# Characters XML 1.0 cannot carry at all; evidence from live systems may contain them.
_BAD_XML = dict.fromkeys(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))


def _clean(text: str | None) -> str:
    return (text or "").translate(_BAD_XML)


def _case_name(f: Finding) -> str:
    return f"{f.check} [{subject_label(f)}]"


def _detail(f: Finding) -> str:
    lines = [f"{f.status.value.upper()}: {f.message}", f"severity: {f.severity.value}"]
    if f.location:
        lines.append(f"location: {f.location}")
    if f.items:
        lines.append(f"framework items: {', '.join(f.items)}")
    if f.evidence:
        lines.append("evidence: " + json.dumps(f.evidence, sort_keys=True, default=str))
    if f.remediation:
        lines.append(f"remediation: {f.remediation}")
    return _clean("\n".join(lines))


def _testcase(suite: ET.Element, area_id: str, f: Finding, counts: dict[str, int]) -> None:
    case = ET.SubElement(suite, "testcase", {
        "name": _clean(_case_name(f)),
        "classname": f"scaleready.{area_id}.{f.check}",
        "time": "0.000",
    })
    loc = parse_location(f.location)
    if loc is not None:
        case.set("file", _clean(loc.path))
        if loc.line:
            case.set("line", str(loc.line))
    counts["tests"] += 1
    if f.waived and f.status != Status.PASS:
        reason = f"waived: {f.waiver_reason or 'no reason given'} ({f.status.value}: {f.message})"
        ET.SubElement(case, "skipped", {"message": _clean(reason)})
        counts["skipped"] += 1
    elif f.status in (Status.FAIL, Status.WARN):
        el = ET.SubElement(case, "failure", {"message": _clean(f.message), "type": f.status.value})
        el.text = _detail(f)
        counts["failures"] += 1
    elif f.status == Status.SKIP:
        ET.SubElement(case, "skipped", {"message": _clean(f.message or "not applicable")})
        counts["skipped"] += 1
    elif f.status == Status.ERROR:
        ET.SubElement(case, "skipped", {"message": _clean(f"could not evaluate: {f.message}")})
        counts["skipped"] += 1
    else:
        out = ET.SubElement(case, "system-out")
        out.text = _detail(f)


def _suites(run: RunResult) -> list[tuple[Any, list[Finding]]]:
    """Areas with findings, plus areas whose items have only manual evidence (their suite then
    carries just the items' evidence record), in scorecard order."""
    grouped = {area.id: (area, findings) for area, findings in group_by_area(run)}
    ordered = [grouped.get(a.id) or (a, []) for a in run.score.areas if a.id in grouped or a.items]
    return ordered + [g for a, g in grouped.items() if a not in {x.id for x in run.score.areas}]


def to_element(run: RunResult) -> ET.Element:
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    root = ET.Element("testsuites", {"name": f"scaleready run {run.id}"})
    stamp = (iso(run.started_at) or "")[:19]
    records: dict[str, list[Any]] = {}
    for r in evidence_records(run):
        records.setdefault(r.item.area, []).append(r)
    for suite_id, (area, findings) in enumerate(_suites(run)):
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        suite = ET.SubElement(root, "testsuite", {"name": _clean(area.title or area.id), "id": str(suite_id)})
        props = ET.SubElement(suite, "properties")
        for name, value in (("area", area.id), ("score", f"{area.score:.1f}"),
                            ("coverage", f"{area.coverage:.3f}"), ("run", run.id),
                            ("environment", run.environment or ""), ("project", run.project),
                            ("audit_chain_head", run.audit_head or "not stored (spooled)")):
            ET.SubElement(props, "property", {"name": name, "value": _clean(value)})
        for r in records.get(area.id, []):  # the evidence record of each item of this area
            t = record_texts(r)
            value = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in t.items() if v)
            ET.SubElement(props, "property", {"name": f"item:{r.item.id}", "value": _clean(value)})
        for f in findings:
            _testcase(suite, area.id, f, counts)
        attrs: dict[str, Any] = {**counts, "time": "0.000", "timestamp": stamp}
        for key, value in attrs.items():
            suite.set(key, str(value))
        for key in total:
            total[key] += counts[key]
    for key, value in total.items():
        root.set(key, str(value))
    root.set("time", f"{duration_seconds(run):.3f}")
    return root


def render(run: RunResult) -> str:
    root = to_element(run)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
