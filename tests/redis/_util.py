"""Collect a redis snapshot through the engine and evaluate only the redis checks."""

from __future__ import annotations

import asyncio
from typing import Any

from scaleready.api import Finding, Snapshot, Target
from scaleready.plugins import Registry


def registry() -> Registry:
    import checks.redis as module

    reg = Registry()
    reg.add_module(module, "redis", "test")
    return reg


def run(options: dict[str, Any], timeout: float = 20) -> tuple[Snapshot, list[Finding]]:
    from scaleready import engine

    options = {"hit_window_seconds": 0, **options}
    target = Target("cache", "redis", options, timeout=timeout)
    reg = registry()
    snap = asyncio.run(engine.collect_target(target, reg))
    return snap, engine.evaluate(snap, target, reg)


def one(findings: list[Finding], check: str, subject: str | None = None) -> Finding:
    got = [f for f in findings if f.check == check and f.subject == subject]
    assert len(got) == 1, (check, subject, [(f.subject, f.status, f.message) for f in findings if f.check == check])
    return got[0]
