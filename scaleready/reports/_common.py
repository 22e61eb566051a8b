"""Shared helpers for the report formats: ordering, area mapping, counts, location parsing.

Every format must agree on what comes first and which area a finding belongs to, or a
SARIF upload and the HTML report of the same run would tell different stories. Those
decisions live here, once.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from scaleready.api import Finding, Severity, Status
from scaleready.results import AreaScore, RunResult

# Worst first: what a reader must act on comes before what merely passed.
STATUS_RANK = {Status.FAIL: 0, Status.WARN: 1, Status.ERROR: 2, Status.SKIP: 3, Status.PASS: 4}
SEVERITY_RANK = {Severity.DANGER: 0, Severity.WARNING: 1, Severity.INFO: 2}
STATUS_ORDER = sorted(Status, key=lambda s: STATUS_RANK[s])

UNMAPPED_AREA = AreaScore(id="unmapped", title="Other checks", score=0.0, coverage=0.0)

_LOCATION = re.compile(r"^(?P<path>.+?)(?::(?P<line>\d+))?(?::(?P<col>\d+))?$")


def pretty_json(doc: Any) -> str:
    """``doc`` as two-space indented JSON text ending in a newline, UTF-8 characters kept.

    orjson writes it about seventeen times faster than the standard library, whose indenting
    encoder is pure Python: 0.012 s instead of 0.21 s for the 10,440 findings of a 5,000-object
    cluster.
    The standard library stays the fallback for what orjson refuses (integers beyond 64 bits).
    """
    try:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode() + "\n"
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"


def identity_key(f: Finding) -> tuple[str, str, str, str]:
    """Deterministic key for stable machine-readable output (json, sarif, junit)."""
    return (f.check, f.target, f.subject or "", f.location or "")


def attention_key(f: Finding) -> tuple[Any, ...]:
    """Worst first, then most severe, then by identity: the order humans read in."""
    return (STATUS_RANK[f.status], SEVERITY_RANK[f.severity], f.waived, *identity_key(f))


def by_identity(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=identity_key)


def by_attention(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=attention_key)


def status_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Count per status value, every status present (0 when absent), worst first."""
    counts = Counter(f.status for f in findings)
    return {s.value: counts.get(s, 0) for s in STATUS_ORDER}


def areas_of(run: RunResult) -> dict[str, list[AreaScore]]:
    """Framework item id -> the scorecard areas that list it (normally exactly one)."""
    index: dict[str, list[AreaScore]] = {}
    for area in run.score.areas:
        for item in area.items:
            index.setdefault(item.id, []).append(area)
    return index


def finding_areas(f: Finding, index: dict[str, list[AreaScore]]) -> list[AreaScore]:
    """Every area one of the finding's items belongs to, in scorecard order, no repeats.

    A finding whose items the framework does not know lands in `UNMAPPED_AREA`, so no
    evidence is ever silently dropped from an area-based report.
    """
    seen: dict[str, AreaScore] = {}
    for item in f.items:
        for area in index.get(item, []):
            seen.setdefault(area.id, area)
    return list(seen.values()) or [UNMAPPED_AREA]


def group_by_area(run: RunResult) -> list[tuple[AreaScore, list[Finding]]]:
    """(area, its findings) for every area with findings, scorecard order, then unmapped."""
    index = areas_of(run)
    groups: dict[str, list[Finding]] = {}
    areas: dict[str, AreaScore] = {}
    for f in by_identity(run.findings):
        for area in finding_areas(f, index):
            areas.setdefault(area.id, area)
            groups.setdefault(area.id, []).append(f)
    order = [a.id for a in run.score.areas] + [UNMAPPED_AREA.id]
    return [(areas[a], groups[a]) for a in order if a in groups]


@dataclass(frozen=True)
class FileLocation:
    path: str
    line: int | None = None
    column: int | None = None


def parse_location(location: str | None) -> FileLocation | None:
    """Split ``file``, ``file:line`` or ``file:line:col``; None for an empty location."""
    if not location or not location.strip():
        return None
    m = _LOCATION.match(location.strip())
    if m is None:  # pragma: no cover - the pattern matches any non-empty text
        return FileLocation(location)
    line = int(m["line"]) if m["line"] else None
    col = int(m["col"]) if m["col"] else None
    return FileLocation(m["path"], line if line and line > 0 else None, col if col and col > 0 else None)


def iso(ts: datetime | None) -> str | None:
    """ISO-8601 text of a timestamp (naive ones are taken as UTC)."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.isoformat()


def utc_z(ts: datetime | None) -> str | None:
    """``2024-05-01T10:00:00.000Z``: the UTC form SARIF and most CI tools expect."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def duration_seconds(run: RunResult) -> float:
    if run.finished_at is None:
        return 0.0
    start, end = run.started_at, run.finished_at
    if (start.tzinfo is None) != (end.tzinfo is None):
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    return max(0.0, (end - start).total_seconds())


def subject_label(f: Finding) -> str:
    """``target`` or ``target / subject``: how a finding is named in human formats."""
    return f"{f.target} / {f.subject}" if f.subject else f.target


def framework_label(run: RunResult) -> str:
    fw = run.framework or {}
    title = fw.get("title") or fw.get("id") or "framework"
    return f"{title} {fw.get('version', '')}".strip()


MAX_EVIDENCE_ROWS = 40


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def flatten_evidence(value: Any, limit: int = MAX_EVIDENCE_ROWS) -> tuple[list[tuple[str, str]], int]:
    """Evidence as (key path, value) rows a person reads, and how many rows were left out.

    Nested mappings become dotted paths (``answers.alg_none``), lists of plain values one
    comma-separated cell, lists of mappings indexed paths (``rows[0].name``). Reports show these
    as key/value tables instead of a JSON dump; the JSON report keeps the evidence whole.
    """
    rows: list[tuple[str, str]] = []
    total = 0

    def walk(path: str, node: Any) -> None:
        nonlocal total
        if isinstance(node, dict) and node:
            for key in sorted(node, key=str):
                walk(f"{path}.{key}" if path else str(key), node[key])
        elif isinstance(node, list | tuple) and node and any(isinstance(v, dict | list | tuple) for v in node):
            for i, item in enumerate(node):
                walk(f"{path}[{i}]", item)
        else:
            total += 1
            if len(rows) < limit:
                if isinstance(node, list | tuple):
                    text = ", ".join(_scalar(v) for v in node) if node else "(none)"
                elif isinstance(node, dict):
                    text = "(empty)"
                else:
                    text = _scalar(node)
                rows.append((path or "value", text))

    walk("", value)
    return rows, total - len(rows)


def short_time(iso_text: str | None) -> str:
    """``2026-11-30 05:41 UTC`` from ISO text (what a person reads in a tick or a waiver)."""
    if not iso_text:
        return ""
    try:
        moment = datetime.fromisoformat(iso_text)
    except ValueError:
        return iso_text
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
