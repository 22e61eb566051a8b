"""SARIF 2.1.0 output, shaped for GitHub code scanning.

Which statuses become what (GitHub turns every result into an alert, so only findings that
need action are results by default):

* ``fail`` -> result, ``kind: fail``, level from severity (danger->error,
  warning->warning, info->note).
* ``warn`` -> result, ``kind: fail``, level from severity but never above ``warning``:
  a partly met target is not a build-breaking error.
* ``error`` (could not evaluate) -> not a result but a ``toolExecutionNotification`` of the
  run's invocation: SARIF's way to say "the tool could not do this part", which GitHub
  shows as a tool problem instead of a code alert.
* ``pass`` / ``skip`` -> omitted; with ``include_all=True`` they are results with
  ``kind: pass`` / ``kind: notApplicable`` and ``level: none`` (the spec requires ``none``
  for any kind other than ``fail``).

Waived findings stay in the log with an accepted external suppression, so code scanning
shows them as dismissed instead of dropping the evidence. A finding with a ``file:line``
location gets a physical location; others get a logical location (target / subject), plus,
when ``artifact`` is given (e.g. the scaleready.yaml path), a physical location on that file,
since GitHub only accepts results that point into a file.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

import scaleready
from scaleready.api import Finding, Severity, Status
from scaleready.evidence import evidence_records
from scaleready.reports._common import by_identity, duration_seconds, parse_location, pretty_json, utc_z
from scaleready.results import RunResult

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/scaleready/scaleready"
FINGERPRINT_KEY = "scalereadyFinding/v1"

LEVEL = {Severity.DANGER: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
SECURITY_SEVERITY = {Severity.DANGER: "8.0", Severity.WARNING: "5.0", Severity.INFO: "2.0"}
_KIND = {Status.FAIL: "fail", Status.WARN: "fail", Status.PASS: "pass", Status.SKIP: "notApplicable"}


def result_level(f: Finding) -> str:
    """The SARIF level of a finding's result (see the module docstring)."""
    if f.status == Status.FAIL:
        return LEVEL[f.severity]
    if f.status == Status.WARN:
        return "note" if f.severity == Severity.INFO else "warning"
    return "none"


def _uri(path: str) -> tuple[str, bool]:
    """A URI reference for a file path, and whether it is relative to the source root."""
    posix = path.replace("\\", "/")
    if posix.startswith("/"):
        return "file://" + quote(posix), False
    return quote(str(PurePosixPath(posix))), True


def _artifact(path: str, line: int | None, column: int | None) -> dict[str, Any]:
    uri, relative = _uri(path)
    location: dict[str, Any] = {"uri": uri}
    if relative:
        location["uriBaseId"] = "%SRCROOT%"
    physical: dict[str, Any] = {"artifactLocation": location}
    region: dict[str, Any] = {}
    if line:
        region["startLine"] = line
        if column:
            region["startColumn"] = column
    physical["region"] = region or {"startLine": 1}
    return physical


def _logical(f: Finding) -> list[dict[str, Any]]:
    target = {"name": f.target, "fullyQualifiedName": f.target, "kind": "resource"}
    if not f.subject:
        return [target]
    return [{"name": f.subject, "fullyQualifiedName": f"{f.target}/{f.subject}", "kind": "object"}]


def _locations(f: Finding, artifact: str | None) -> list[dict[str, Any]]:
    loc = parse_location(f.location)
    location: dict[str, Any] = {"logicalLocations": _logical(f)}
    if loc is not None:
        location["physicalLocation"] = _artifact(loc.path, loc.line, loc.column)
    elif artifact:
        location["physicalLocation"] = _artifact(artifact, None, None)
    return [location]


def _rule(check: str, findings: list[Finding]) -> dict[str, Any]:
    first = findings[0]
    items = sorted({i for f in findings for i in f.items})
    remediation = next((f.remediation for f in findings if f.remediation), "") or first.title
    tags = ["scaleready", *items]
    props: dict[str, Any] = {"tags": tags, "items": items, "severity": first.severity.value}
    if first.section:
        props["section"] = first.section
    if any(i.startswith("security.") for i in items):
        tags.insert(1, "security")
        props["security-severity"] = SECURITY_SEVERITY[first.severity]
    return {
        "id": check,
        "name": "".join(p[:1].upper() + p[1:] for p in check.replace("_", ".").split(".")),
        "shortDescription": {"text": first.title or check},
        "fullDescription": {"text": first.title or check},
        "help": {"text": remediation, "markdown": remediation},
        "defaultConfiguration": {"level": LEVEL[first.severity]},
        "properties": props,
    }


def _message(f: Finding) -> str:
    where = f"{f.target}/{f.subject}" if f.subject else f.target
    return f"{f.message or f.title} [{where}]"


def _result(f: Finding, rule_index: int, artifact: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.check,
        "ruleIndex": rule_index,
        "kind": _KIND[f.status],
        "level": result_level(f),
        "message": {"text": _message(f)},
        "locations": _locations(f, artifact),
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {
            "target": f.target,
            "subject": f.subject,
            "status": f.status.value,
            "severity": f.severity.value,
            "items": list(f.items),
            "evidence": f.evidence,
        },
    }
    if f.waived:
        suppression: dict[str, Any] = {"kind": "external", "status": "accepted"}
        if f.waiver_reason:
            suppression["justification"] = f.waiver_reason
        result["suppressions"] = [suppression]
    return result


def _notification(f: Finding, rule_index: int) -> dict[str, Any]:
    return {
        "level": "warning" if f.waived else "error",
        "message": {"text": f"{f.check} could not be evaluated: {f.message} [{f.target}]"},
        "associatedRule": {"id": f.check, "index": rule_index},
        "locations": [{"logicalLocations": _logical(f)}],
        "properties": {"target": f.target, "subject": f.subject, "evidence": f.evidence},
    }


def to_document(run: RunResult, *, include_all: bool = False, artifact: str | None = None) -> dict[str, Any]:
    findings = by_identity(run.findings)
    by_check: dict[str, list[Finding]] = {}
    for f in findings:
        by_check.setdefault(f.check, []).append(f)
    rule_ids = sorted(by_check)
    index = {rid: i for i, rid in enumerate(rule_ids)}

    results, notifications = [], []
    for f in findings:
        if f.status == Status.ERROR:
            notifications.append(_notification(f, index[f.check]))
        elif f.status in (Status.FAIL, Status.WARN) or include_all:
            results.append(_result(f, index[f.check], artifact))

    invocation: dict[str, Any] = {
        "executionSuccessful": True,
        "startTimeUtc": utc_z(run.started_at),
        "toolExecutionNotifications": notifications,
        "properties": {"durationSeconds": round(duration_seconds(run), 3)},
    }
    if run.finished_at is not None:
        invocation["endTimeUtc"] = utc_z(run.finished_at)
    version = run.tool_version or scaleready.__version__
    sarif_run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "scaleready",
                "version": version,
                "semanticVersion": version,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(rid, by_check[rid]) for rid in rule_ids],
            }
        },
        "automationDetails": {"id": f"scaleready/{run.environment or 'default'}/{run.id}"},
        "invocations": [invocation],
        "results": results,
        "properties": {
            "framework": dict(run.framework or {}),
            "score": {"overall": round(run.score.overall, 1), "coverage": round(run.score.coverage, 3),
                      "level": run.score.level},
            "project": run.project,
            "auditChainHead": run.audit_head,
            "evidenceRecord": [r.to_json() for r in evidence_records(run)],
            **({"milestone": run.milestone} if run.milestone else {}),
        },
    }
    if any(parse_location(f.location) for f in findings) or artifact:
        sarif_run["originalUriBaseIds"] = {"%SRCROOT%": {"description": {"text": "The checked repository"}}}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [sarif_run]}


def render(run: RunResult, *, include_all: bool = False, artifact: str | None = None) -> str:
    return pretty_json(to_document(run, include_all=include_all, artifact=artifact))
