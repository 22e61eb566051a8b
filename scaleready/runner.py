"""One run end to end: collect → evaluate → score → store. The CLI and the dashboard both call this.

Targets whose secrets could not be resolved, or whose collector fails, still produce
findings (``error``, with the reason); nothing a single target does can abort the run.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scaleready import __version__
from scaleready.api import Finding, Snapshot
from scaleready.config import Config, ConfiguredTarget, redacted_target_summary
from scaleready.engine import Policy, Waiver, collect_target, evaluate, run_blocking
from scaleready.framework import Framework, FrameworkError, load_framework
from scaleready.paths import data_dir
from scaleready.plugins import Registry, default_registry
from scaleready.results import RunResult, SnapshotRef, WaiverRef
from scaleready.scoring import score
from scaleready.store import Store

BUILTIN_FRAMEWORK = "scaling-guide"


def resolve_framework(ref: str | None, base_dir: Path | None = None, where: str | None = None) -> Framework:
    """A built-in framework by name (``scaling-guide``) or a custom one by path.

    ``where`` (``scaleready.yaml:3``) is where the config names it, so a missing file is one
    line that says which config line to fix and which paths were tried.
    """
    if ref in (None, "", BUILTIN_FRAMEWORK):
        return load_framework(None)
    candidates = [Path(ref).expanduser()]
    if base_dir is not None:
        candidates.insert(0, base_dir / ref)
    candidates.append(data_dir() / "frameworks" / f"{ref}.yaml")
    for path in candidates:
        if path.is_file():
            return load_framework(path)
    tried = ", ".join(str(p) for p in candidates)
    problem = f"framework '{ref}' is neither a built-in name nor a readable file (tried: {tried})"
    if where:
        raise FrameworkError(f"framework: {problem}", path=where)
    raise FrameworkError(problem)


def _store_waivers(store: Store | None, project: str) -> list[tuple[Waiver, WaiverRef]]:
    """The project's unrevoked store waivers, as the engine applies them and as the run records them."""
    if store is None:
        return []
    today = datetime.now(UTC).date()
    out = []
    for w in store.waivers(project=project):
        expires = w.expires.date() if w.expires else None
        out.append((Waiver(w.check_id, w.reason, w.target, w.subject, expires),
                    WaiverRef("store", f"store:{w.id}", w.check_id, w.target, w.subject, w.reason, w.actor,
                              expires.isoformat() if expires else None, expires is not None and today > expires)))
    return out


def _config_waivers(config: Config) -> list[WaiverRef]:
    today = datetime.now(UTC).date()
    return [
        WaiverRef("config", f"config:{n}", w.check, w.target, w.subject, w.reason,
                  str(config.path or "scaleready.yaml"), w.expires.isoformat() if w.expires else None,
                  w.expires is not None and today > w.expires)
        for n, w in enumerate(config.policy.waivers, start=1)
    ]


Progress = Callable[[str, str, dict[str, Any]], None]
"""``progress(target, phase, info)``: phase is ``collecting``, ``collected``, ``evaluated`` or ``failed``."""


class RunCancelled(RuntimeError):
    """The user cancelled the run before it finished; nothing was stored."""


def _quiet(progress: Progress | None) -> Progress:
    return progress or (lambda _target, _phase, _info: None)


async def _watch_cancel(cancel: threading.Event, tasks: list[asyncio.Task[Snapshot]]) -> None:
    while not cancel.is_set():
        if all(t.done() for t in tasks):
            return
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()


async def _collect(config: Config, selected: list[ConfiguredTarget], registry: Registry,
                   progress: Progress, cancel: threading.Event | None) -> list[Snapshot]:
    """Every target's snapshot, in config order; a cancel stops waiting for the slow ones."""

    async def one(configured: ConfiguredTarget) -> Snapshot:
        target = configured.target
        if configured.secret_error is not None:
            snapshot = Snapshot(target.name, target.kind, error=f"secret not resolved: {configured.secret_error}")
        else:
            progress(target.name, "collecting", {})
            snapshot = await collect_target(target, registry, config.redactor)
        progress(target.name, "failed" if snapshot.error else "collected",
                 {"error": snapshot.error, "duration_ms": snapshot.duration_ms})
        return snapshot

    tasks = [asyncio.ensure_future(one(c)) for c in selected]
    if cancel is not None:
        watcher = asyncio.ensure_future(_watch_cancel(cancel, tasks))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    if cancel is not None:
        watcher.cancel()
        if cancel.is_set():
            raise RunCancelled("the run was cancelled; nothing was stored")
    return [r if isinstance(r, Snapshot) else Snapshot(c.target.name, c.target.kind, error=f"collection failed: {r}")
            for c, r in zip(selected, results, strict=True)]


def execute(
    config: Config,
    *,
    store: Store | None = None,
    registry: Registry | None = None,
    framework: Framework | None = None,
    environment: str | None = None,
    save: bool = True,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> tuple[RunResult, list[Snapshot]]:
    """Run every selected target's checks, score them and (given a store and ``save``) save the run.

    The store also supplies the project's ticks and waivers; ``save=False`` leaves storing to the
    caller (the CLI spools the run when the store cannot take it; a shard of a sharded run is
    merged by `scaleready.shard_store`). ``progress`` hears each target's phases (the dashboard
    draws a bar per target from it); setting ``cancel`` stops the run before anything is stored
    (raises `RunCancelled`).
    """
    report = _quiet(progress)
    registry = registry or default_registry()
    base_dir = config.path.parent if config.path else None
    framework = framework or resolve_framework(config.framework, base_dir, config.framework_where)
    framework.verify_check_ids(registry.checks)
    selected = config.select(environment)
    started = datetime.now(UTC)
    snapshots = run_blocking(_collect(config, selected, registry, report, cancel))
    stored_waivers = _store_waivers(store, config.project)
    policy = Policy(config.policy.severity, [*config.policy.waivers, *(w for w, _ in stored_waivers)])
    findings: list[Finding] = []
    for configured, snapshot in zip(selected, snapshots, strict=True):
        begun = time.perf_counter()
        produced = evaluate(snapshot, configured.target, registry, policy)
        findings += produced
        report(configured.target.name, "evaluated",
               {"findings": len(produced), "duration_ms": 1000 * (time.perf_counter() - begun)})
    if cancel is not None and cancel.is_set():
        raise RunCancelled("the run was cancelled; nothing was stored")
    # A check may quote its target's resolved options: every text a finding carries is scrubbed.
    findings = [replace(f, message=config.redactor.text(f.message), evidence=config.redactor.scrub(f.evidence),
                        subject=config.redactor.text(f.subject) if f.subject else f.subject) for f in findings]
    manual = store.item_states(framework.id, project=config.project) if store else {}
    run = RunResult(
        id=str(uuid.uuid4()),
        started_at=started,
        finished_at=datetime.now(UTC),
        framework={"id": framework.id, "title": framework.title, "version": str(framework.version)},
        findings=findings,
        score=score(framework, findings, manual),
        snapshots=[SnapshotRef(s.target, s.kind, s.sha256, s.error, s.duration_ms) for s in snapshots],
        tool_version=__version__,
        environment=environment or config.environment,
        project=config.project,
        config_path=str(config.path) if config.path else None,
        waivers=[*_config_waivers(config), *(ref for _, ref in stored_waivers)],
    )
    if store is not None and save:
        summary: list[dict[str, Any]] = redacted_target_summary(selected)
        store.save_run(run, snapshots, str(config.path) if config.path else None, summary)
    return run, snapshots


def rescore(run: RunResult, framework: Framework, store: Store | None = None) -> RunResult:
    """A stored run scored again, e.g. after the framework changed or a tick was added."""
    manual = store.item_states(framework.id, project=run.project) if store else {}
    return replace(run, score=score(framework, run.findings, manual))
