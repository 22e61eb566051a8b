"""Collect snapshots from every target concurrently, then evaluate the checks over them.

Collection is the slow, failure-prone half: each collector runs under its target's timeout,
sync collectors run in daemon threads (a hung driver can then never stall the run nor the
process exit), and any failure becomes a snapshot ``error``. Evaluation is pure and instant:
each check becomes findings; a check that cannot decide yields ``error``, never ``pass``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import inspect
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NoReturn, TypeVar

from scaleready.api import (
    Check,
    CollectError,
    EvidenceUnavailable,
    Finding,
    Outcome,
    Severity,
    Snapshot,
    Status,
    Target,
)
from scaleready.faults import describe_failure, server_text
from scaleready.plugins import Registry, default_registry
from scaleready.secrets import Redactor

T = TypeVar("T")


@dataclass(frozen=True)
class Waiver:
    """An accepted risk: matching fail/warn findings are reported as waived until ``expires``."""

    check: str
    reason: str
    target: str = "*"
    subject: str = "*"
    expires: date | None = None

    def matches(self, finding: Finding) -> bool:
        return (
            fnmatch.fnmatchcase(finding.check, self.check)
            and fnmatch.fnmatchcase(finding.target, self.target)
            and fnmatch.fnmatchcase(finding.subject or "", self.subject)
        )

    def active_on(self, day: date) -> bool:
        return self.expires is None or day <= self.expires


@dataclass(frozen=True)
class Policy:
    """What the config says about findings: severity overrides (globs allowed) and waivers."""

    severity: Mapping[str, Severity] | None = None
    waivers: Sequence[Waiver] = ()

    def severity_for(self, check_id: str, default: Severity) -> Severity:
        overrides = self.severity or {}
        if check_id in overrides:
            return overrides[check_id]
        for pattern, level in overrides.items():
            if fnmatch.fnmatchcase(check_id, pattern):
                return level
        return default


_collector_threads: set[threading.Thread] = set()
_threads_lock = threading.Lock()


def stray_collector_threads() -> list[threading.Thread]:
    """Collector threads still running: ones a timeout abandoned inside a hung driver call."""
    with _threads_lock:
        return [t for t in _collector_threads if t.is_alive()]


def exit_process(code: int) -> NoReturn:
    """Leave the process with exactly ``code``, even while abandoned collector threads still run.

    A daemon thread that wakes from its socket timeout while the interpreter finalises can
    abort the process (SIGABRT, exit 134) after the run was stored, turning a documented
    exit code into a crash. When such threads are alive the buffers are flushed and the
    process ends with ``os._exit``, which does not finalise them; otherwise it exits normally.
    """
    if stray_collector_threads():
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    sys.exit(code)


def _in_daemon_thread(fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """Run a blocking call in a daemon thread and expose it as an awaitable future."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            setter(value)

    def runner() -> None:
        try:
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to the awaiting side, not raised here
                outcome: tuple[Callable[[Any], None], Any] = (future.set_exception, exc)
            else:
                outcome = (future.set_result, result)
            # RuntimeError: the loop closed while we hung, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, *outcome)
        finally:
            with _threads_lock:
                _collector_threads.discard(threading.current_thread())

    thread = threading.Thread(target=runner, name=f"collector-{getattr(fn, '__name__', 'fn')}", daemon=True)
    with _threads_lock:
        _collector_threads.add(thread)
    thread.start()
    return future


def _reason(exc: BaseException) -> str:
    """One readable, bounded line for an exception: its real cause (see `describe_failure`)."""
    if isinstance(exc, CollectError):
        return server_text(exc, 600)
    text = describe_failure(exc)
    return text if text == type(exc).__name__ else f"{type(exc).__name__}: {text}"


async def collect_target(
    target: Target, registry: Registry | None = None, redactor: Redactor | None = None
) -> Snapshot:
    """Collect one target's snapshot; every failure is captured in ``snapshot.error``."""
    registry = registry or default_registry()
    redactor = redactor or Redactor()
    started = time.perf_counter()
    snapshot = Snapshot(target=target.name, kind=target.kind)
    collector = registry.collectors.get(target.kind)
    if collector is None:
        snapshot.error = f"no collector is installed for target kind '{target.kind}'"
        return snapshot
    if inspect.iscoroutinefunction(collector.fn):
        pending: Any = asyncio.ensure_future(collector.fn(target))
    else:
        pending = _in_daemon_thread(collector.fn, target)
    done, _ = await asyncio.wait({pending}, timeout=target.timeout)
    if not done:
        pending.cancel()  # not awaited: a collector that ignores cancellation must not stall us
        snapshot.error = f"timed out after {target.timeout:g}s"
    else:
        try:
            result = pending.result()
        except Exception as exc:
            snapshot.error = _reason(exc)
        else:
            if isinstance(result, Snapshot):
                snapshot.data, snapshot.errors, snapshot.error = result.data, result.errors, result.error
            elif isinstance(result, dict):
                snapshot.data = result
            else:
                snapshot.error = f"collector returned {type(result).__name__}, expected a dict of sections"
    snapshot.duration_ms = (time.perf_counter() - started) * 1000
    snapshot.data = redactor.scrub(snapshot.data)
    snapshot.errors = redactor.scrub(snapshot.errors)
    if snapshot.error:
        snapshot.error = redactor.text(snapshot.error)
    return snapshot


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, also from code that already runs an event loop (notebooks, Playwright)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scaleready-run") as pool:
        return pool.submit(asyncio.run, coro).result()


def collect_one(target: Target, registry: Registry | None = None) -> Snapshot:
    """Synchronous convenience for tests and scripts."""
    return run_blocking(collect_target(target, registry))


async def collect_all(
    targets: Sequence[Target], registry: Registry | None = None, redactor: Redactor | None = None
) -> list[Snapshot]:
    """All targets at once; the run takes as long as the slowest, bounded by its timeout."""
    return list(await asyncio.gather(*(collect_target(t, registry, redactor) for t in targets)))


def _finding(check: Check, target: Target, snapshot_sha: str | None, outcome: Outcome, policy: Policy) -> Finding:
    evidence = dict(outcome.evidence)
    evidence["snapshot"] = snapshot_sha
    if outcome.pointer:
        evidence["pointer"] = outcome.pointer
    return Finding(
        check=check.id,
        target=target.name,
        status=outcome.status,
        severity=outcome.severity or policy.severity_for(check.id, check.severity),
        title=check.title,
        message=outcome.message,
        evidence=evidence,
        remediation=outcome.remediation or check.remediation,
        items=list(check.items),
        section=check.section,
        subject=outcome.subject,
        location=outcome.location,
    )


def _outcomes(check: Check, snapshot: Snapshot, target: Target) -> list[Outcome]:
    if snapshot.error:
        return [Outcome(Status.ERROR, f"could not collect from {target.name}: {snapshot.error}")]
    try:
        outcomes = check.evaluate(snapshot, target)
    except EvidenceUnavailable as exc:
        return [Outcome(Status.ERROR, f"evidence unavailable: {exc}")]
    except Exception as exc:  # a buggy check is one error finding, not a crashed run
        return [Outcome(Status.ERROR, f"check failed to evaluate: {_reason(exc)}")]
    return outcomes or [Outcome(Status.SKIP, "nothing to evaluate for this target")]


def apply_waivers(findings: Iterable[Finding], waivers: Sequence[Waiver], today: date | None = None) -> None:
    """Mark fail/warn findings covered by an unexpired waiver; note the expired ones."""
    today = today or datetime.now(UTC).date()
    for finding in findings:
        if finding.status not in (Status.FAIL, Status.WARN):
            continue
        for waiver in waivers:
            if not waiver.matches(finding):
                continue
            if waiver.active_on(today):
                finding.waived, finding.waiver_reason = True, waiver.reason
                break
            finding.evidence["expired_waiver"] = {"reason": waiver.reason, "expired": str(waiver.expires)}


def evaluate(
    snapshot: Snapshot,
    target: Target,
    registry: Registry | None = None,
    policy: Policy | None = None,
    checks: Iterable[Check] | None = None,
) -> list[Finding]:
    """Every check of the target's kind over one snapshot, as findings."""
    registry = registry or default_registry()
    policy = policy or Policy()
    selected = list(checks) if checks is not None else registry.checks_for(target.kind)
    # Hashing serialises the whole snapshot (tens of ms for a large cluster): once per snapshot, not per finding.
    snapshot_sha = snapshot.sha256 if snapshot.data or snapshot.error else None
    findings = [
        _finding(check, target, snapshot_sha, outcome, policy)
        for check in selected
        for outcome in _outcomes(check, snapshot, target)
    ]
    apply_waivers(findings, policy.waivers)
    return findings
