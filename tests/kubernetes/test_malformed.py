"""Malformed manifests: wrong types anywhere in an object never crash a check.

Each case mutates one value somewhere in the sample app (a string where a mapping belongs,
a number for a list, ...) and runs every check through the engine: either the object loads
and every check judges it, or it is a load error naming file and line. A check that raised
would show up as "check failed to evaluate".
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import yaml

from checks.kubernetes.manifests import ManifestSet, load_text
from scaleready import engine
from scaleready.api import Snapshot, Status, Target
from tests.kubernetes.helpers import DEMO

REPLACEMENTS: list[Any] = ["x", 7, [], {}, None, ["a", 1], {"k": "v"}, True]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


def test_random_type_errors_never_crash_a_check() -> None:
    docs = [d for p in sorted(Path(DEMO).rglob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    rng = random.Random(20260411)
    target = Target("fuzz", "kubernetes", {"manifests": ["fuzz.yaml"]})
    load_errors = evaluated = 0
    for _ in range(150):
        mutated = copy.deepcopy(docs)
        victim = rng.randrange(len(mutated))
        path = rng.choice(_paths(mutated[victim]))
        _set(mutated[victim], path, rng.choice(REPLACEMENTS))
        out = ManifestSet()
        load_text(yaml.safe_dump_all(mutated, sort_keys=False), "fuzz.yaml", out)
        data = {"source": {"mode": "manifests"}, "objects": out.objects, "cluster": {"nodes": None, "crds": []},
                "access_errors": [], "load_errors": out.errors}
        findings = engine.evaluate(Snapshot("fuzz", "kubernetes", data=data), target)
        crashed = [f"{f.check}: {f.message}" for f in findings if f.message.startswith("check failed")]
        assert not crashed, (path, crashed)
        load_errors += bool(out.errors)
        evaluated += sum(f.status.evaluated for f in findings)
        for error in out.errors:
            assert error["file"] == "fuzz.yaml" and isinstance(error["line"], int)
    # Both branches were exercised: some mutations are rejected at load, the rest still get judged.
    assert 10 < load_errors < 140 and evaluated > 1000


def test_shape_errors_name_the_field() -> None:
    out = ManifestSet()
    text = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
            "spec:\n  template:\n    spec:\n      containers: nginx\n---\n"
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\n"
            "spec: {scaleTargetRef: web}\n")
    load_text(text, "bad.yaml", out)
    assert out.objects == []
    assert out.errors == [
        {"file": "bad.yaml", "line": 1, "message": "Deployment web: spec.template.spec.containers must be a list"},
        {"file": "bad.yaml", "line": 9, "message": "HorizontalPodAutoscaler web: spec.scaleTargetRef must be a "
                                                   "mapping"},
    ]
    snap = Snapshot("t", "kubernetes", data={"objects": [], "load_errors": out.errors})
    findings = engine.evaluate(snap, Target("t", "kubernetes", {}))
    load = [f for f in findings if f.check == "kubernetes.load"]
    assert [(f.status, f.location) for f in load] == [(Status.ERROR, "bad.yaml:1"), (Status.ERROR, "bad.yaml:9")]
