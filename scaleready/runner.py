"""One run end to end: collect → evaluate → score → store. The CLI and the dashboard both call this.

Targets whose secrets could not be resolved, or whose collector fails, still produce
findings (``error``, with the reason); nothing a single target does can abort the run.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scaleready import __version__
from scaleready.api import Finding, Snapshot
from scaleready.config import Config, ConfiguredTarget, redacted_target_summary
from scaleready.engine import Policy, Waiver, collect_all, evaluate, run_blocking
from scaleready.framework import Framework, FrameworkError, load_framework
from scaleready.paths import data_dir
from scaleready.plugins import Registry, default_registry
from scaleready.results import RunResult, SnapshotRef
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


def _store_waivers(store: Store | None) -> list[Waiver]:
    if store is None:
        return []
    return [
        Waiver(w.check_id, w.reason, w.target, w.subject, w.expires.date() if w.expires else None)
        for w in store.waivers()
    ]


async def _collect(config: Config, selected: list[ConfiguredTarget], registry: Registry) -> list[Snapshot]:
    reachable = [t.target for t in selected if t.secret_error is None]
    collected = iter(await collect_all(reachable, registry, config.redactor))
    snapshots = []
    for configured in selected:
        if configured.secret_error is not None:
            snapshots.append(Snapshot(configured.target.name, configured.target.kind,
                                      error=f"secret not resolved: {configured.secret_error}"))
        else:
            snapshots.append(next(collected))
    return snapshots


def execute(
    config: Config,
    *,
    store: Store | None = None,
    registry: Registry | None = None,
    framework: Framework | None = None,
    environment: str | None = None,
) -> tuple[RunResult, list[Snapshot]]:
    """Run every selected target's checks, score them and (given a store) save the run."""
    registry = registry or default_registry()
    base_dir = config.path.parent if config.path else None
    framework = framework or resolve_framework(config.framework, base_dir, config.framework_where)
    framework.verify_check_ids(registry.checks)
    selected = config.select(environment)
    started = datetime.now(UTC)
    snapshots = run_blocking(_collect(config, selected, registry))
    policy = Policy(config.policy.severity, [*config.policy.waivers, *_store_waivers(store)])
    findings: list[Finding] = []
    for configured, snapshot in zip(selected, snapshots, strict=True):
        findings += evaluate(snapshot, configured.target, registry, policy)
    # A check may quote its target's resolved options: every text a finding carries is scrubbed.
    findings = [replace(f, message=config.redactor.text(f.message), evidence=config.redactor.scrub(f.evidence),
                        subject=config.redactor.text(f.subject) if f.subject else f.subject) for f in findings]
    manual = store.item_states(framework.id) if store else {}
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
    )
    if store is not None:
        summary: list[dict[str, Any]] = redacted_target_summary(selected)
        store.save_run(run, snapshots, str(config.path) if config.path else None, summary)
    return run, snapshots


def rescore(run: RunResult, framework: Framework, store: Store | None = None) -> RunResult:
    """A stored run scored again, e.g. after the framework changed or a tick was added."""
    manual = store.item_states(framework.id) if store else {}
    return replace(run, score=score(framework, run.findings, manual))
