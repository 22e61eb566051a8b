"""The guide's emergency playbooks (10) as data, and whether live signals say one should run now.

Shared by the playbook checks (over a stored Prometheus snapshot) and the dashboard's
Playbooks page (over the same signals read live), so both judge one set of triggers.

Triggers are the guide's own numbers where it has them and a stated margin beyond them where
it has none: the guide's 1.2 targets say when a service is *unhealthy* (P99 < 500 ms, errors
< 0.1 %, DB CPU < 70 %); a playbook is an emergency, so it starts where the guide's HighErrorRate
alert fires (6.2: 5xx > 1 %), at twice the P99 target, and at 80 % of DB CPU or connections, or
a replica 10 s behind (the replication check's default limit).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Trigger:
    """One signal and the level above which the playbook should run."""

    signal: str
    title: str
    above: float
    unit: str  # "ratio", "seconds"

    def show(self, value: float) -> str:
        if self.unit == "ratio":
            return f"{value * 100:.3g} %"
        if self.unit == "seconds" and self.signal == "p99_latency":
            return f"{value * 1000:.0f} ms"
        return f"{value:.3g} s"


@dataclass(frozen=True)
class Playbook:
    """One section-10 playbook: triggers (any one starts it), steps, and the switches it needs."""

    key: str
    item: str
    section: str
    title: str
    triggers: tuple[Trigger, ...]
    immediately: tuple[str, ...]
    next: tuple[str, ...]
    switches: tuple[str, ...]  # the service's emergency switches this playbook flips (globs)
    switch_hint: str = ""


PLAYBOOKS: dict[str, Playbook] = {
    p.key: p
    for p in (
        Playbook(
            "db_overload", "emergency.db_overload", "10.1", "Database overload",
            (Trigger("db_cpu", "Database CPU", 0.80, "ratio"),
             Trigger("db_connections", "Connections used", 0.80, "ratio"),
             Trigger("replication_lag", "Replication lag", 10.0, "seconds")),
            ("Enable read-only mode", "Scale up database instance"),
            ("Add read replicas", "Review slow queries"),
            ("read_only",),
            "export emergency_switch{switch=\"read_only\"} (1 when on) from the service",
        ),
        Playbook(
            "api_degradation", "emergency.api_degradation", "10.2", "API degradation",
            (Trigger("error_rate", "Error rate", 0.01, "ratio"),
             Trigger("p99_latency", "P99 latency", 1.0, "seconds")),
            ("Enable rate limiting", "Return cached responses"),
            ("Scale out application layer", "Disable non-critical features"),
            ("serve_stale", "disable_*"),
            "export emergency_switch{switch=\"serve_stale\"} for cached responses and disable_<feature> flags",
        ),
    )
}


@dataclass
class TriggerState:
    trigger: Trigger
    value: float | None
    reason: str | None = None

    @property
    def crossed(self) -> bool:
        return self.value is not None and self.value > self.trigger.above

    def describe(self) -> str:
        t = self.trigger
        if self.value is None:
            return f"{t.title}: not measured ({self.reason or 'no data'})"
        mark = ">" if self.crossed else "≤"
        return f"{t.title} {t.show(self.value)} {mark} {t.show(t.above)}"


@dataclass
class PlaybookState:
    """A playbook judged against live signals: should it run now, and can it be run?"""

    playbook: Playbook
    triggers: list[TriggerState]
    switches_seen: dict[str, float] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return any(t.crossed for t in self.triggers)

    @property
    def measured(self) -> list[TriggerState]:
        return [t for t in self.triggers if t.value is not None]

    @property
    def missing_switches(self) -> list[str]:
        return [s for s in self.playbook.switches if not fnmatch.filter(self.switches_seen, s)]

    @property
    def switches_on(self) -> list[str]:
        return [s for s, v in self.switches_seen.items() if v and v > 0]


def evaluate(playbook: Playbook, signals: Mapping[str, float | None],
             reasons: Mapping[str, str] | None = None,
             switches: Mapping[str, float] | None = None) -> PlaybookState:
    """Judge one playbook: ``signals`` maps signal names to their current value (None = unknown)."""
    reasons = reasons or {}
    states = [TriggerState(t, signals.get(t.signal), reasons.get(t.signal)) for t in playbook.triggers]
    return PlaybookState(playbook, states, dict(switches or {}))


def signal_names() -> list[str]:
    """Every signal any playbook reads, in a stable order."""
    return list(dict.fromkeys(t.signal for p in PLAYBOOKS.values() for t in p.triggers))


SIGNAL_CHECKS = frozenset({
    "prometheus.slo.db_cpu", "prometheus.slo.error_rate", "prometheus.slo.p99_latency",
    "postgres.connections.usage", "postgres.replication.lag",
})
"""Checks whose findings measure the playbooks' trigger signals (shown as the evidence behind them)."""


def findings_behind(playbook: Playbook, findings: Iterable[Any]) -> list[dict[str, str]]:
    """Rows for a run's findings behind one playbook: its own check and its signals' checks."""
    wanted = {f"prometheus.playbook.{playbook.key}", *SIGNAL_CHECKS}
    return [{"status": str(f.status), "check": f.check, "target": f.target, "subject": f.subject or "",
             "message": f.message} for f in findings if f.check in wanted]
