"""A run started from a front end: the CLI's runner in a background thread, watchable and cancellable.

The dashboard cannot block its script while twenty targets are collected, and a person wants
to see which target is slow and to stop a run started by mistake. `RunJob` runs the very same
`runner.execute` the CLI runs, records each target's phase as the runner reports it, and
exposes a thread-safe view (`progress()`) for a page that polls it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from scaleready.config import Config
from scaleready.results import RunResult
from scaleready.runner import RunCancelled, execute
from scaleready.store import Store

PHASE_SHARE = {"queued": 0.0, "collecting": 0.25, "collected": 0.75, "failed": 0.75, "evaluated": 1.0}


@dataclass
class TargetProgress:
    """Where one target is: queued → collecting → collected/failed → evaluated."""

    name: str
    kind: str
    phase: str = "queued"
    error: str | None = None
    collect_ms: float | None = None
    findings: int | None = None

    @property
    def fraction(self) -> float:
        return PHASE_SHARE.get(self.phase, 0.0)

    @property
    def label(self) -> str:
        if self.phase == "evaluated":
            took = f" in {format_ms(self.collect_ms)}" if self.collect_ms is not None else ""
            state = f"could not collect: {self.error}" if self.error else "collected"
            return f"{self.name} ({self.kind}): {state}{took}, {self.findings} findings"
        return f"{self.name} ({self.kind}): {self.phase}"


def format_ms(ms: float | None) -> str:
    """Durations as people read them: 850 ms, 2.4 s."""
    if ms is None:
        return "–"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


@dataclass
class RunJob:
    """One run in a daemon thread. ``state`` is running, done, cancelled or failed."""

    config: Config
    store: Store | None
    environment: str | None = None
    targets: dict[str, TargetProgress] = field(default_factory=dict)
    state: str = "pending"
    result: RunResult | None = None
    error: str | None = None
    started: float = 0.0
    finished: float | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        for configured in self.config.select(self.environment):
            t = configured.target
            self.targets[t.name] = TargetProgress(t.name, t.kind)

    def start(self) -> RunJob:
        self.state, self.started = "running", time.monotonic()
        self._thread = threading.Thread(target=self._run, name="scaleready-runjob", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the run has ended (any way)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state not in ("pending", "running")

    @property
    def done(self) -> bool:
        return self.state not in ("pending", "running")

    def progress(self) -> list[TargetProgress]:
        with self._lock:
            return [TargetProgress(**vars(t)) for t in self.targets.values()]

    def overall(self) -> float:
        rows = self.progress()
        return sum(r.fraction for r in rows) / len(rows) if rows else 1.0

    def _on_progress(self, target: str, phase: str, info: dict[str, Any]) -> None:
        with self._lock:
            row = self.targets.get(target)
            if row is None:
                return
            row.phase = phase if phase != "failed" else "failed"
            if "error" in info:
                row.error = info["error"]
            if phase in ("collected", "failed"):
                row.collect_ms = info.get("duration_ms")
            if phase == "evaluated":
                row.findings = info.get("findings")

    def _run(self) -> None:
        try:
            self.result, _ = execute(self.config, store=self.store, environment=self.environment,
                                     progress=self._on_progress, cancel=self._cancel)
            self.state = "done"
        except RunCancelled as exc:
            self.error, self.state = str(exc), "cancelled"
        except Exception as exc:  # shown on the page as one line, never a traceback
            self.error, self.state = f"{type(exc).__name__}: {exc}", "failed"
        finally:
            self.finished = time.monotonic()
