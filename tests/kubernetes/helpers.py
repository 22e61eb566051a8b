"""Helpers shared by the kubernetes tests: run the collector and every check like the engine does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import checks.kubernetes as k8s
from checks.kubernetes.collector import collect_kubernetes
from scaleready.api import Check, Outcome, Snapshot, Status, Target

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo" / "k8s"


def _installed() -> dict[str, Check]:
    """Every kubernetes check as the plugin registry installs it (walking the package's modules)."""
    from scaleready.plugins import Registry

    registry = Registry()
    registry.add_module(k8s, "builtin", "test")
    return dict(registry.checks)


CHECKS: dict[str, Check] = _installed()


def snapshot_of(options: dict[str, Any], name: str = "t") -> tuple[Snapshot, Target]:
    target = Target(name, "kubernetes", options)
    data = collect_kubernetes.fn(target)
    return Snapshot(name, "kubernetes", data=data), target


def run(check_id: str, snapshot: Snapshot, target: Target) -> list[Outcome]:
    return CHECKS[check_id].evaluate(snapshot, target)


def table(snapshot: Snapshot, target: Target) -> dict[tuple[str, str | None], Status]:
    """(check id, subject) -> status for every check over one snapshot."""
    out: dict[tuple[str, str | None], Status] = {}
    for check_id in CHECKS:
        for outcome in run(check_id, snapshot, target):
            out[(check_id, outcome.subject)] = outcome.status
    return out


def objects_snapshot(objects: list[dict[str, Any]], *, mode: str = "manifests",
                     **sections: Any) -> tuple[Snapshot, Target]:
    """A snapshot over hand-written objects, normalized exactly as the collector does."""
    from checks.kubernetes.objects import normalize

    data: dict[str, Any] = {"source": {"mode": mode}, "objects": [normalize(o) for o in objects],
                            "cluster": {"nodes": None, "crds": [], "namespaces": [], "api_groups": None},
                            "access_errors": [], "load_errors": []}
    for key, value in sections.items():
        if key in data and isinstance(data[key], dict):
            data[key].update(value)
        else:
            data[key] = value
    return Snapshot("t", "kubernetes", data=data), Target("t", "kubernetes", {})


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
