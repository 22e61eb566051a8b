"""Built-in prometheus checks: the guide's metric targets (1.2) and monitoring stack (6) from live evidence.

Registered through the ``scaleready.checks`` entry point. Everything here is pure over the
snapshot the collector in ``checks.prometheus.collector`` takes; a signal without data is
an ``error`` with the reason, never a pass. The alert checks read each rule's expression
for its meaning (``checks.prometheus.expr``), so a renamed or recording-rule-based HighErrorRate
counts and a "HighErrorRate" that fires at 5 % does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checks.prometheus.collector import collect
from checks.prometheus.expr import RecordExpander, analyse
from checks.prometheus.queries import ESSENTIALS, SIGNALS, Signal
from checks.prometheus.rulefiles import lint
from scaleready.api import (
    Check,
    EvidenceUnavailable,
    Outcome,
    Severity,
    Snapshot,
    Target,
    check,
    errored,
    failed,
    passed,
    skipped,
    warned,
)

__all__ = ["collect"]

KIND = "prometheus"
GUIDE_ALERT_THRESHOLD = 0.01  # guide 6.2: 5xx ratio > 0.01
_PLOT_POINTS = 60


def _show(sig: Signal, value: float) -> str:
    if sig.unit == "seconds":
        return f"{value * 1000:.0f} ms"
    return f"{value * 100:.3g} %"


def _slo_check(key: str, remediation: str) -> Check:
    sig = SIGNALS[key]
    limit = _show(sig, sig.threshold)
    word = "<" if sig.better == "below" else ">"

    def evaluate(snapshot: Snapshot, target: Target) -> Outcome:
        entry = snapshot.section("slo").get(key)
        if not isinstance(entry, dict):
            raise EvidenceUnavailable(f"snapshot has no '{key}' signal")
        series = entry.get("series") or []
        evidence: dict[str, Any] = {
            "query": entry.get("query"), "window": entry.get("window"), "unit": entry.get("unit"),
            "recommended": f"{word} {limit}", "why": f"guide 1.2: {sig.title} {word} {limit}",
            "series": {"labels": series[0]["labels"], "points": series[0]["points"][-_PLOT_POINTS:]}
            if series else None,
        }
        pointer = f"/slo/{key}"
        value = entry.get("value")
        if value is None:
            reason = entry.get("reason") or "no data"
            return errored(f"{sig.title} could not be measured: {reason}", pointer=pointer,
                           remediation=f"check the metric names or set queries.{key} for this target",
                           evidence=evidence)
        evidence.update(observed=_show(sig, value), value=value, labels=entry.get("labels") or {})
        over = f"over {entry.get('window')}"
        if sig.ok(value):
            return passed(f"{sig.title} is {_show(sig, value)} {over} (target {word} {limit})",
                          pointer=pointer, evidence=evidence)
        return failed(f"{sig.title} is {_show(sig, value)} {over}, outside the target {word} {limit}",
                      pointer=pointer, evidence=evidence)

    evaluate.__doc__ = f"{sig.title} {word} {limit} (guide 1.2), measured with PromQL over the target's window."
    return check(
        f"prometheus.slo.{key}", kind=KIND, title=f"{sig.title} {word} {limit}", severity=Severity.DANGER,
        items=[sig.item], section="1.2", remediation=remediation,
    )(evaluate)


p99_latency = _slo_check(
    "p99_latency", "Find the slow endpoints (histogram by route), add caching (guide 2) and indexes (3).")
error_rate = _slo_check(
    "error_rate", "Look at the 5xx by route and dependency; add circuit breakers (4.1) and fix the top errors.")
db_cpu = _slo_check(
    "db_cpu", "Review slow queries, add read replicas (3.2) and caching; scale the instance up if needed.")
cache_hit_ratio = _slo_check(
    "cache_hit_ratio", "Cache the hot reads with the guide's TTLs (2.2), warm the cache, check evictions.")


def _rules(snapshot: Snapshot) -> list[tuple[str, dict[str, Any]]]:
    return [(g.get("name") or "?", r) for g in snapshot.section("rules").get("groups") or []
            for r in g.get("rules") or []]


def _records(rules: list[tuple[str, dict[str, Any]]]) -> RecordExpander:
    return RecordExpander(
        {r["name"]: r.get("query") or "" for _, r in rules if r.get("type") == "recording" and r.get("name")}
    )


def _pct(value: float) -> str:
    return f"{value * 100:.3g} %"


@check("prometheus.rules.high_error_rate", kind=KIND, title="HighErrorRate alert (5xx ratio > 1 %) is loaded",
       severity=Severity.DANGER, items=["monitoring.alert.high_error_rate"], section="6.2",
       remediation="Load the guide's 6.2 rule: alert on sum(rate(http_requests_total{status=~\"5..\"}[5m])) / "
                   "sum(rate(http_requests_total[5m])) > 0.01 for 10m with severity and summary.")
def high_error_rate(snapshot: Snapshot, target: Target) -> Outcome:
    """An alert whose expression is a 5xx/all-requests ratio above ≤ 1 %, loaded and healthy."""
    rules = _rules(snapshot)
    records = _records(rules)
    matches, near = [], []
    for group, rule in rules:
        if rule.get("type") != "alerting":
            continue
        result = analyse(rule.get("query") or "", records)
        tight = result.tightest
        info = {"alert": rule.get("name"), "group": group, "health": rule.get("health"),
                "threshold": tight, "for_seconds": rule.get("for_seconds"), "query": rule.get("query"),
                "longest_window_seconds": max(result.windows, default=None)}
        if tight is not None and 0 < tight <= GUIDE_ALERT_THRESHOLD:
            matches.append(info)
        elif tight is not None:
            near.append({**info, "why_not": f"fires only above {_pct(tight)}"})
        elif "error" in str(rule.get("name", "")).lower():
            near.append({**info, "why_not": "; ".join(sorted(set(result.notes)))})
    healthy = [m for m in matches if m["health"] == "ok"]
    if healthy:
        # Closest to the guide first: its name, then the fastest detection, then the tightest threshold.
        best = min(healthy, key=lambda m: (str(m["alert"]).lower() != "higherrorrate",
                                           m["longest_window_seconds"] or 0, m["threshold"]))
        return passed(f"alert {best['alert']} fires on the 5xx ratio above {_pct(best['threshold'])}",
                      subject=f"{best['group']}/{best['alert']}", observed=best, matches=matches,
                      recommended="5xx ratio > 1 % for 10m")
    if matches:
        bad = matches[0]
        last = next((r.get("last_error") for g, r in rules if r.get("name") == bad["alert"]), None)
        return failed(f"alert {bad['alert']} matches the guide's HighErrorRate but is unhealthy "
                      f"({bad['health']}): {last or 'not evaluated yet'}",
                      subject=f"{bad['group']}/{bad['alert']}", observed=matches)
    message = "no loaded alert fires on the ratio of 5xx responses to all requests at or below 1 %"
    if near:
        message += "; closest: " + ", ".join(f"{n['alert']} ({n['why_not']})" for n in near[:3])
    return failed(message, candidates=near[:10], alerts=sum(1 for _, r in rules if r.get("type") == "alerting"),
                  recommended="5xx ratio > 1 % for 10m")


@check("prometheus.rules.health", kind=KIND, title="Loaded rules evaluate without errors",
       severity=Severity.WARNING, section="6.2",
       remediation="Fix the rule's expression (see its last error); a rule in error never fires.")
def rules_health(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Every loaded alerting/recording rule reports health ``ok``."""
    rules = _rules(snapshot)
    if not rules:
        yield skipped("Prometheus has no rules loaded")
        return
    bad = [(g, r) for g, r in rules if r.get("health") == "err"]
    for group, rule in bad:
        yield failed(f"rule {rule.get('name')} is in error: {rule.get('last_error')}",
                     subject=f"{group}/{rule.get('name')}", last_error=rule.get("last_error"),
                     query=rule.get("query"))
    if not bad:
        pending = sum(1 for _, r in rules if r.get("health") != "ok")
        note = f" ({pending} not evaluated yet)" if pending else ""
        yield passed(f"all {len(rules)} rules are healthy{note}", rules=len(rules))


def _burn_rate(rule: dict[str, Any], records: RecordExpander) -> dict[str, Any] | None:
    result = analyse(rule.get("query") or "", records)
    if not result.comparisons:
        return None
    text = " ".join([str(rule.get("name", ""))] + [str(v) for v in (rule.get("annotations") or {}).values()])
    named = any(word in text.lower() for word in ("burn", "budget"))
    windows = sorted(result.windows)
    if len(windows) >= 2 or named:
        return {"alert": rule.get("name"), "windows_seconds": windows, "multiwindow": len(windows) >= 2,
                "thresholds": [c.threshold for c in result.comparisons]}
    return None


@check("prometheus.rules.burn_rate", kind=KIND, title="SLO burn-rate alerts exist",
       severity=Severity.WARNING, section="6.2",
       remediation="Add multi-window burn-rate alerts on the error budget (SRE workbook ch. 5): e.g. "
                   "1h and 5m error ratios both > 14.4 x (1 - SLO) for paging, 6h/30m > 6x for tickets.")
def burn_rate(snapshot: Snapshot, target: Target) -> Outcome:
    """Burn-rate alerts (error ratio over two windows, or named as budget burn) are loaded; warns if not."""
    rules = _rules(snapshot)
    records = _records(rules)
    found = [b for _, r in rules if r.get("type") == "alerting" and (b := _burn_rate(r, records))]
    if found:
        names = ", ".join(sorted({str(b["alert"]) for b in found}))
        return passed(f"burn-rate alerts loaded: {names}", observed=found)
    return warned("no SLO burn-rate alert found (an error-ratio alert over a long and a short window)",
                  recommended="multi-window, multi-burn-rate alerts")


@check("prometheus.targets.up", kind=KIND, title="All scrape targets are up",
       severity=Severity.WARNING, section="6.1",
       remediation="Fix the failing scrape (see its last error): metrics from a down target are missing.")
def targets_up(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Every active scrape target's last scrape succeeded."""
    active = snapshot.section("targets").get("active") or []
    if not active:
        yield failed("Prometheus has no active scrape targets")
        return
    down = [t for t in active if t.get("health") != "up"]
    for item in down:
        yield failed(f"target {item.get('job')}/{item.get('instance')} is {item.get('health')}: "
                     f"{item.get('last_error') or 'not scraped yet'}",
                     subject=f"{item.get('job')}/{item.get('instance')}", observed=item)
    if not down:
        yield passed(f"all {len(active)} scrape targets are up", targets=len(active))


@check("prometheus.metrics.essential", kind=KIND, title="Guide 6.1 essential metrics are collected",
       severity=Severity.WARNING,
       items=["monitoring.metrics.api", "monitoring.metrics.database", "monitoring.metrics.cache",
              "monitoring.metrics.infrastructure"],
       section="6.1",
       remediation="Install the matching exporter (app instrumentation, postgres_exporter, redis_exporter, "
                   "node_exporter) or set `essential:` selectors for your metric names.")
def essential(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """One outcome per 6.1 signal: some series for it exists now."""
    section = snapshot.section("essential")
    for key, spec in ESSENTIALS.items():
        entry = section.get(key)
        pointer = f"/essential/{key}"
        if not isinstance(entry, dict):
            yield errored(f"{spec.title}: not collected", subject=key)
        elif entry.get("reason"):
            yield errored(f"{spec.title}: {entry['reason']}", subject=key, pointer=pointer)
        elif entry.get("found"):
            yield passed(f"{spec.title}: {', '.join(entry['found'][:5])}", subject=key, pointer=pointer,
                         observed=entry["found"])
        else:
            yield failed(f"{spec.title}: no series found", subject=key, pointer=pointer,
                         selectors=entry.get("selectors"))


@check("prometheus.rules.files", kind=KIND, title="Rule files pass promtool and the alert style",
       severity=Severity.WARNING, section="6.2",
       remediation="Fix what promtool reports; give every alert a non-zero `for`, a `severity` label and a "
                   "`summary` annotation, as the guide's 6.2 HighErrorRate does. Install promtool "
                   "(Debian: prometheus package) where the check runs: without it only the file structure "
                   "is checked and the PromQL stays unvalidated, so no file can pass.")
def rule_files(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Each configured rule file passes ``promtool check rules`` and lints clean.

    A pass needs promtool's own verdict. Without promtool each file is still checked by
    ``checks.prometheus.rulestructure`` (what ``rulefmt`` rejects, PromQL aside) and linted,
    but a clean file is ``error`` ("not validated"), never ``pass``. Files beyond the
    collector's limit are counted in one ``error`` finding: unknown, not passed.
    """
    section = snapshot.section("rule_files")
    if not section.get("configured"):
        yield skipped("no rule_files configured for this target")
        return
    for pattern in section.get("unmatched") or []:
        yield errored(f"rule_files pattern {pattern!r} matched no file", subject=pattern)
    promtool = section.get("promtool") or {}
    if not promtool.get("available"):
        yield errored(f"rule files were not validated by promtool: {promtool.get('reason') or 'unavailable'}; "
                      "only their structure and style were checked", subject="promtool")
    left_out = int(section.get("left_out") or 0)
    if left_out:
        yield errored(f"{left_out} of {section.get('matched')} rule files were not checked "
                      f"(limit {section.get('limit')} per target); narrow rule_files or split the target",
                      subject="left_out", left_out=left_out, sample=section.get("left_out_sample") or [])
    for entry in section.get("files") or []:
        yield from _file_outcomes(entry)


def _file_outcomes(entry: dict[str, Any]) -> Iterator[Outcome]:
    path = entry["path"]
    if entry.get("read_error"):
        yield errored(f"{path}: cannot read: {entry['read_error']}", subject=path)
        return
    problems = 0
    result = entry.get("promtool") or {}
    if result.get("ran") is False:
        yield errored(f"{path}: {result.get('reason')}", subject=path)
    for issue in result.get("problems") or []:
        problems += 1
        line = issue.get("line")
        yield failed(f"{path}:{line or '?'}: promtool: {issue['message']}", subject=f"{path}:{line or 0}",
                     location=f"{path}:{line}" if line else path)
    if result.get("ran") and result.get("ok") is False and not problems:
        problems += 1
        yield failed(f"{path}: promtool rejected the file without a readable reason", subject=path,
                     location=path)
    parse_error = entry.get("parse_error")
    if parse_error and not problems:
        problems += 1
        yield failed(f"{path}:{parse_error['line']}: {parse_error['message']}",
                     subject=f"{path}:{parse_error['line']}", location=f"{path}:{parse_error['line']}")
    if not result.get("ran"):  # promtool's verdict is missing: the structure check stands in for it
        for issue in entry.get("structure") or []:
            problems += 1
            where = f"{path}:{issue['line']}"
            yield failed(f"{where}: {issue['message']} (structure check; promtool not run)",
                         subject=f"{where}:{issue['message']}", location=where)
    for issue in lint(entry):
        problems += 1
        where = f"{path}:{issue['line']}"
        yield warned(f"{where}: {issue['problem']}", subject=f"{where}:{issue['problem']}", location=where,
                     rule=issue["rule"], group=issue["group"])
    if problems:
        return
    rules = sum(len(g.get("rules") or []) for g in entry.get("groups") or [])
    if result.get("ran") and result.get("ok"):
        yield passed(f"{path}: {rules} rules, promtool ok, style ok", subject=path, location=path)
    elif not result.get("ran"):
        yield errored(f"{path}: {rules} rules, structure and style ok, but the PromQL was not validated "
                      "(promtool did not run)", subject=path, location=path)
