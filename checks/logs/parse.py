"""Recognises a structured log line (JSON or logfmt) and the fields the guide asks for.

Roadmap phase 2 asks for JSON lines with timestamp, level, service, request/trace id and
message. Teams spell those keys differently (``ts``/``time``/``@timestamp``, ``level``/``lvl``/
``severity``, ``request_id``/``trace_id``/``traceId``), so each field is a set of accepted
spellings, matched case-insensitively on the flattened keys (``log.level`` counts as ``level``).
Only key *names* leave this module: values are never stored, since log lines may carry data
that must not end up in a report.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

LEVEL_KEYS = frozenset({"level", "lvl", "severity", "log.level", "levelname", "@l", "loglevel", "severity_text"})
TIME_KEYS = frozenset({"ts", "time", "timestamp", "@timestamp", "t", "@t", "datetime", "asctime", "date"})
ID_KEYS = frozenset({
    "request_id", "requestid", "req_id", "reqid", "x-request-id", "x_request_id", "trace_id", "traceid",
    "trace.id", "traceparent", "dd.trace_id", "logging.googleapis.com/trace", "correlation_id", "correlationid",
    "span_id", "spanid", "@tr", "otel.trace_id",
})
MAX_KEYS = 30


@dataclass
class Line:
    """What one line is: ``json``, ``logfmt`` or ``text``, its flattened key names, and its keys' values
    for the id fields only (used in memory to find a trace id; never stored)."""

    format: str
    keys: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


def _flatten(doc: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and depth < 2:
            out.update(_flatten(value, f"{name}.", depth + 1))
        else:
            out[name] = value
    return out


def _logfmt(text: str) -> dict[str, str] | None:
    """``key=value key2="quoted value"`` pairs, or None when most tokens are not pairs."""
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError:
        return None
    pairs = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep and key and " " not in key:
            pairs[key] = value
    if len(pairs) < 2 or len(pairs) < 0.6 * len(tokens):
        return None
    return pairs


def parse_line(text: str) -> Line:
    """Classify one log line and extract its key names."""
    stripped = text.strip()
    fields: dict[str, Any] | None = None
    kind = "text"
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            fields, kind = _flatten(doc), "json"
    if fields is None and "=" in stripped:
        pairs = _logfmt(stripped)
        if pairs is not None:
            fields, kind = dict(pairs), "logfmt"
    if fields is None:
        return Line("text")
    keys = list(fields)
    ids = [str(v) for k, v in fields.items() if k.lower() in ID_KEYS and v not in (None, "")]
    return Line(kind, keys, ids)


def has(keys: list[str], accepted: frozenset[str]) -> bool:
    return any(k.lower() in accepted for k in keys)


def summarise(lines: list[str]) -> dict[str, Any]:
    """Counts over a sample: formats, lines with level/timestamp/id, the commonest keys, unstructured line numbers."""
    formats: Counter[str] = Counter()
    key_counts: Counter[str] = Counter()
    with_level = with_time = with_id = 0
    unstructured: list[int] = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        line = parse_line(text)
        formats[line.format] += 1
        if line.format == "text":
            if len(unstructured) < 10:
                unstructured.append(number)
            continue
        key_counts.update(line.keys)
        with_level += has(line.keys, LEVEL_KEYS)
        with_time += has(line.keys, TIME_KEYS)
        with_id += has(line.keys, ID_KEYS)
    return {
        "lines": sum(formats.values()), "formats": dict(formats), "structured": formats["json"] + formats["logfmt"],
        "with_level": with_level, "with_timestamp": with_time, "with_id": with_id,
        "keys": dict(key_counts.most_common(MAX_KEYS)), "unstructured_lines": unstructured,
    }


def find_id(lines: list[str], wanted: str) -> int | None:
    """The 1-based number of the first line whose id fields (or text) contain ``wanted``."""
    for number, text in enumerate(lines, 1):
        if wanted in text:
            line = parse_line(text)
            if any(wanted in value for value in line.ids) or line.format == "text":
                return number
    return None
