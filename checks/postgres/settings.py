"""The six postgresql.conf settings of guide 3.1, judged against the host with PGTune's formulas.

The formulas, their sources and the known differences from PGTune are in ``checks.postgres.tuning``;
every warn/fail names the recommended value and the formula that gave it in its remediation.

Each check reports the value the collector's session saw (with its ``source``: configuration
file, database, user...) and then every per-database / per-role override of the same setting
found in ``pg_db_role_setting`` (``ALTER DATABASE ... SET``, ``ALTER ROLE ... SET``), because an
override is what the application's sessions actually run with.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checks.postgres.common import host_of
from checks.postgres.tuning import Rule, pg_value_bytes, rules
from scaleready.api import Check, EvidenceUnavailable, Outcome, Snapshot, Target, check, failed, passed, skipped, warned

_VERDICT = {"pass": passed, "warn": warned, "fail": failed}


def _observed(name: str, raw: str, unit: str | None, rule: Rule) -> float | None:
    if rule.memory:
        value = pg_value_bytes(raw, unit)
        return None if value is None else float(value)
    try:
        return float(raw)
    except ValueError:
        return None


def _max_connections(settings: dict[str, Any]) -> int | None:
    try:
        return int(settings["max_connections"]["setting"])
    except (KeyError, TypeError, ValueError):
        return None


def _judge(rule: Rule, observed: float, subject: str, pointer: str, source: str, host: Any) -> Outcome:
    verdict, ratio = rule.judge(observed)
    facts = {k: v for k, v in (("memory", rule.show(host.memory) if host.memory else None),
                               ("cpus", host.cpus), ("storage", host.storage),
                               ("workload", host.workload)) if v is not None}
    how = {"pass": "within range of", "warn": "a little off"}.get(verdict, "far from")
    message = (f"{rule.name} = {rule.show(observed)} ({source}) is {how} the recommended "
               f"{rule.show(rule.recommended)} for this host (x{ratio:.2f}): {rule.why}")
    remediation = None if verdict == "pass" else (
        f"Set {rule.name} = {rule.show(rule.recommended)} for this host: {rule.why} (PGTune's formula).")
    return _VERDICT[verdict](
        message, subject=subject, pointer=pointer, remediation=remediation,
        observed=rule.show(observed), observed_value=observed, recommended=rule.show(rule.recommended),
        recommended_value=rule.recommended, ratio=round(ratio, 3), why=rule.why, source=source,
        pass_band=list(rule.pass_band), warn_band=list(rule.warn_band), host=facts,
    )


def evaluate_setting(name: str, snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    settings = snapshot.section("settings")
    if name not in settings:
        yield skipped(f"{name} is not reported by this server", subject=f"setting/{name}")
        return
    host = host_of(snapshot, target)
    rule = rules(host, _max_connections(settings))[name]
    if rule.missing:
        yield skipped(f"cannot judge {name}: {rule.missing}", subject=f"setting/{name}",
                      observed=settings[name]["setting"], unit=settings[name].get("unit"))
        return
    row = settings[name]
    observed = _observed(name, row["setting"], row.get("unit"), rule)
    if observed is None:
        yield skipped(f"{name} has an unreadable value {row['setting']!r}", subject=f"setting/{name}")
        return
    yield _judge(rule, observed, f"setting/{name}", f"/settings/{name}", row.get("source") or "?", host)
    try:
        overrides = snapshot.section("role_settings")
    except EvidenceUnavailable:
        return  # the main value was judged; overrides are a bonus
    for index, entry in enumerate(overrides):
        raw = (entry.get("settings") or {}).get(name)
        if raw is None:
            continue
        value = _observed(name, raw, row.get("unit"), rule)
        if value is None:
            continue
        scope = f"database={entry['database']} role={entry['role']}"
        yield _judge(rule, value, f"setting/{name}@{scope}", f"/role_settings/{index}/settings/{name}",
                     f"ALTER ... SET for {scope}", host)


def _make(name: str, item: str, title: str, remediation: str) -> Check:
    def fn(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
        return evaluate_setting(name, snapshot, target)

    fn.__doc__ = f"{name} against the host's memory, CPUs, storage and workload (guide 3.1, PGTune rules)."
    return check(f"postgres.config.{name}", kind="postgres", title=title, severity="warning",
                 items=[item], section="3.1", remediation=remediation)(fn)


shared_buffers = _make(
    "shared_buffers", "db.shared_buffers", "shared_buffers is about 25% of RAM",
    "Set shared_buffers = RAM / 4 (desktop: RAM / 16) in postgresql.conf and restart.")
effective_cache_size = _make(
    "effective_cache_size", "db.effective_cache_size", "effective_cache_size is about 75% of RAM",
    "Set effective_cache_size = RAM x 3 / 4 (desktop: RAM / 4); a planner hint, reload is enough.")
maintenance_work_mem = _make(
    "maintenance_work_mem", "db.maintenance_work_mem", "maintenance_work_mem fits the host",
    "Set maintenance_work_mem = RAM / 16 (dw: RAM / 8), at most 8GB.")
work_mem = _make(
    "work_mem", "db.work_mem", "work_mem fits RAM and connections",
    "Set work_mem = (RAM - shared_buffers) / ((max_connections + max_worker_processes) x 3), "
    "max_worker_processes = CPUs from 4 CPUs up (else 8); / 2 for dw and mixed, / 6 for desktop; at least "
    "4MB. Raise it per role or per query (SET LOCAL) for reporting jobs rather than globally.")
random_page_cost = _make(
    "random_page_cost", "db.random_page_cost", "random_page_cost matches the storage",
    "Set random_page_cost = 1.1 on SSD, SAN or NVMe so the planner uses indexes; 4 on spinning disks and "
    "for a data warehouse (dw), whose large reads are faster as sequential scans.")
max_connections = _make(
    "max_connections", "db.max_connections", "max_connections fits the workload",
    "Keep max_connections near the workload's profile (web 200, oltp 300, dw 40, desktop 20, mixed 100) "
    "and put PgBouncer in front of many clients instead of raising it.")

CHECKS = (shared_buffers, effective_cache_size, maintenance_work_mem, work_mem, random_page_cost,
          max_connections)
