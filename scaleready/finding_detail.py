"""One finding made readable: its evidence split into facts, tables and series, and its context.

Evidence is free-form JSON written by each check. A person reads it best as a few labelled
facts, a table per list of records, a plot per numeric series, and the pointer into the
snapshot it was read from. This module does that split (and the number formatting) so the
dashboard's detail view only lays it out, and tests can check it without a browser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from scaleready.api import Finding
from scaleready.framework import Framework, FrameworkError, Item

HIDDEN_KEYS = {"snapshot", "pointer"}


def readable(value: Any) -> str:
    """A number or value as a person reads it: no raw floats, no 'inf ms'."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "–"}[value]
    if isinstance(value, float):
        if math.isinf(value):
            return "unbounded (overloaded)" if value > 0 else "-unbounded"
        if math.isnan(value):
            return "not measured"
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        magnitude = abs(value)
        return f"{value:,.0f}" if magnitude >= 1000 else f"{value:.3g}" if magnitude < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {readable(v)}" for k, v in value.items())
    return str(value)


def _is_series(value: Any) -> bool:
    return (isinstance(value, list) and len(value) >= 3
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value))


def _is_pair_series(value: Any) -> bool:
    """Prometheus-style [[timestamp, value], ...]."""
    return (isinstance(value, list) and len(value) >= 3
            and all(isinstance(v, list | tuple) and len(v) == 2 for v in value)
            and all(_number(v[1]) is not None for v in value))


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass
class Evidence:
    """Evidence laid out: facts (label, text), tables by name, numeric series by name."""

    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    series: dict[str, pd.DataFrame] = field(default_factory=dict)
    nested: dict[str, Any] = field(default_factory=dict)  # structures kept whole, shown as JSON
    pointer: str | None = None
    snapshot: str | None = None


def split_evidence(evidence: dict[str, Any]) -> Evidence:
    out = Evidence(pointer=evidence.get("pointer"), snapshot=evidence.get("snapshot"))
    for key, value in evidence.items():
        if key in HIDDEN_KEYS:
            continue
        label = key.replace("_", " ")
        if _is_pair_series(value):
            out.series[label] = pd.DataFrame({"x": [p[0] for p in value], "value": [_number(p[1]) for p in value]})
        elif _is_series(value):
            out.series[label] = pd.DataFrame({"x": range(len(value)), "value": value})
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out.tables[label] = pd.DataFrame([{k: readable(v) for k, v in row.items()} for row in value])
        elif isinstance(value, list) and len(value) > 6:
            out.tables[label] = pd.DataFrame({label: [readable(v) for v in value]})
        elif isinstance(value, dict) and any(isinstance(v, dict | list) for v in value.values()):
            out.nested[label] = value
        elif isinstance(value, dict) and len(value) > 6:
            out.tables[label] = pd.DataFrame([{"key": k, "value": readable(v)} for k, v in value.items()])
        else:
            out.facts.append((label, readable(value)))
    return out


@dataclass
class FindingContext:
    """What the guide says around a finding: the items it proves and its section's items."""

    items: list[Item]
    section_items: list[Item]


def context(framework: Framework | None, finding: Finding) -> FindingContext:
    if framework is None:
        return FindingContext([], [])
    proven: list[Item] = []
    for item_id in finding.items:
        try:
            proven.append(framework.item(item_id))
        except (KeyError, FrameworkError):
            continue
    for item in framework.items_for_check(finding.check):
        if item not in proven:
            proven.append(item)
    section = finding.section or (proven[0].section if proven else None)
    section_items = [i for i in framework.items if section and i.section == section] if section else []
    return FindingContext(proven, section_items)


def finding_label(finding: Finding) -> str:
    subject = f" · {finding.subject}" if finding.subject else ""
    waived = " (waived)" if finding.waived else ""
    return f"{finding.status.value}{waived} · {finding.check} · {finding.target}{subject}"
