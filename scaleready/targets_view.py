"""The targets of a run as a person audits them, and why an area of the scorecard is empty.

For each target: kind, when it was collected and how long it took, whether the collection
worked, the snapshot hash an auditor can verify, and its stored (redacted) description. For
each area: which target kinds can prove its items, so an empty area explains itself ("no
prometheus target: the 4 items of 'Metric targets' cannot be proven").
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlmodel import col, select

from scaleready.config_builder import SENSITIVE_KEY
from scaleready.framework import Framework
from scaleready.models import RunRecord, SnapshotRecord
from scaleready.plugins import Registry, default_registry
from scaleready.runjob import format_ms
from scaleready.secrets import MASK, URL_PASSWORD
from scaleready.store import Store, StoreError, _utc

TARGET_COLUMNS = ["target", "kind", "status", "collected at", "duration", "snapshot sha256", "environment",
                  "active", "reason"]


def targets_frame(store: Store, run_id: str) -> pd.DataFrame:
    """One row per target of a run, from its stored snapshots and redacted target summary."""
    with store.session() as session:
        record = session.get(RunRecord, run_id)
        if record is None:
            raise StoreError(f"no run {run_id}")
        snaps = session.exec(
            select(SnapshotRecord.target, SnapshotRecord.kind, SnapshotRecord.collected_at,
                   SnapshotRecord.duration_ms, SnapshotRecord.sha256, SnapshotRecord.error)
            .where(SnapshotRecord.run_id == run_id).order_by(col(SnapshotRecord.id))
        ).all()
        summary = {t.get("name"): t for t in json.loads(record.targets_json or "[]")}
    rows = []
    for name, kind, collected_at, duration_ms, sha256, error in snaps:
        described = summary.get(name, {})
        rows.append({
            "target": name, "kind": kind, "status": "error" if error else "collected",
            "collected at": f"{_utc(collected_at):%Y-%m-%d %H:%M:%S} UTC" if collected_at else "–",
            "duration": format_ms(duration_ms), "snapshot sha256": sha256,
            "environment": described.get("environment") or "", "active": bool(described.get("active")),
            "reason": error or "",
        })
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


def kinds_per_item(framework: Framework, registry: Registry | None = None) -> dict[str, set[str]]:
    """The target kinds whose checks prove each item (from the installed checks' kinds)."""
    registry = registry or default_registry()
    kinds: dict[str, set[str]] = {}
    for item in framework.items:
        found = {registry.checks[c].kind for c in item.checks if c in registry.checks}
        found |= {c.kind for c in registry.checks.values() if item.id in c.items}
        kinds[item.id] = found
    return kinds


@dataclass
class AreaNeed:
    """What an area needs and what the run had."""

    area: str
    title: str
    kinds: list[str]
    missing: list[str]
    blocked_items: int
    manual_items: int
    explanation: str


def area_needs(framework: Framework, collected_kinds: set[str], registry: Registry | None = None) -> list[AreaNeed]:
    """Per area: the target kinds that can prove its items, and which of them the run lacked."""
    per_item = kinds_per_item(framework, registry)
    needs = []
    for area in framework.areas:
        items = framework.items_in(area.id)
        by_kind: dict[str, int] = defaultdict(int)
        manual = 0
        for item in items:
            if not per_item[item.id]:
                manual += 1
            for kind in per_item[item.id]:
                by_kind[kind] += 1
        blocked = [i for i in items if per_item[i.id] and not per_item[i.id] & collected_kinds]
        missing = sorted(k for k in by_kind if k not in collected_kinds)
        blocked_by = {kind: sum(1 for i in blocked if kind in per_item[i.id]) for kind in missing}
        parts = [f"no {kind} target: {n} item(s) of this area cannot be proven" for kind, n in blocked_by.items()
                 if n]
        if manual:
            parts.append(f"{manual} item(s) are decided by a manual tick only")
        needs.append(AreaNeed(area.id, area.title, sorted(by_kind), missing, len(blocked), manual,
                              "; ".join(parts) if parts else "every item can be proven by the targets of this run"))
    return needs


def needs_frame(needs: list[AreaNeed]) -> pd.DataFrame:
    return pd.DataFrame([{"area": n.title, "target kinds that prove it": ", ".join(n.kinds) or "(manual only)",
                          "missing kinds": ", ".join(n.missing), "items blocked": n.blocked_items,
                          "explanation": n.explanation} for n in needs],
                        columns=["area", "target kinds that prove it", "missing kinds", "items blocked",
                                 "explanation"])


def collected_kinds(frame: pd.DataFrame) -> set[str]:
    """Kinds with at least one successfully collected target in a `targets_frame`."""
    return set(frame.loc[frame["status"] == "collected", "kind"]) if not frame.empty else set()


def redacted_options(options: dict[str, Any]) -> dict[str, Any]:
    """A target's options for display: secret values and passwords inside URLs shown as ***,
    references (``${ENV}``) kept, since they name where the secret lives, not the secret."""
    shown: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, dict):
            shown[key] = redacted_options(value)
        elif isinstance(value, str):
            literal = "${" not in value
            shown[key] = MASK if literal and SENSITIVE_KEY.search(key) else URL_PASSWORD.sub(
                lambda m: m.group(0) if "${" in m.group("pw") else f"{m.group('scheme')}{m.group('user')}:{MASK}@",
                value)
        else:
            shown[key] = value
    return shown
