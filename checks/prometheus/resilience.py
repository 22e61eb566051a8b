"""Live evidence for circuit breakers (4.1), event consumers (4.2), tracing (8) and log analysis (7.2).

Pure over the ``evidence`` and ``rules`` sections of a Prometheus snapshot. A probe that could
not run is ``error`` with the collector's reason; series that simply are not there say what to
export, never pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from checks.prometheus.evidence import evidence_options, finite, probe, scalar, step_for
from checks.prometheus.expr import RecordExpander
from checks.prometheus.queries import parse_duration
from scaleready.api import (
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

KIND = "prometheus"
BREAKER_ITEMS = ["comm.circuit_breaker", "roadmap.p2.circuit_breakers"]
EVENT_ITEMS = ["comm.outbox", "roadmap.p3.event_driven"]
BREAKER_METRIC = re.compile(r"(?i)circuit_?breaker|breaker_state|hystrix_circuit")
LOG_METRIC = re.compile(
    r"(?i)^(\w*log\w*_(messages|lines|entries|events|records|errors?)\w*|logback_events_total"
    r"|log4j2?_events_total|promtail_custom_\w+|\w+_log_errors\w*)$"
)
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
SPAN_LOSS_LIMIT = 0.01


def _name(labels: dict[str, Any]) -> str:
    return str(labels.get("name") or labels.get("command_name") or "(unnamed)")


def _unusable(entry: dict[str, Any], pointer: str) -> Outcome | None:
    """``error`` when the probe itself failed (API error), ``None`` when it ran."""
    reason = entry.get("reason")
    if reason and reason != "the query returned no series":
        return errored(f"could not read the series: {reason}", pointer=pointer, query=entry.get("query"))
    return None


@check("prometheus.breakers.exported", kind=KIND, title="Circuit-breaker state is exported for each dependency",
       severity=Severity.DANGER, items=BREAKER_ITEMS, section="4.1",
       remediation="Wrap each downstream call in a breaker (gobreaker: trip after 5 consecutive failures, open "
                   "30 s, 5 half-open requests) and export its state, e.g. circuit_breaker_state{name} (0 closed, "
                   "1 half-open, 2 open); name the dependencies under evidence.breakers.")
def breakers_exported(snapshot: Snapshot, target: Target) -> Outcome:
    """Breaker state series exist, and one per dependency named in ``evidence.breakers``."""
    entry = probe(snapshot, "breaker_open")
    pointer = "/evidence/probes/breaker_open"
    if bad := _unusable(entry, pointer):
        return bad
    names = sorted({_name(v["labels"]) for v in entry.get("values") or []})
    wanted = evidence_options(target.option("evidence")).breakers
    if not names:
        return failed("no circuit-breaker state series in Prometheus (circuit_breaker_state, "
                      "resilience4j_circuitbreaker_state, hystrix_circuit_breaker_open)",
                      pointer=pointer, query=entry.get("query"))
    missing = [w for w in wanted if w not in names]
    if missing:
        return failed(f"no breaker state for {', '.join(missing)} (seen: {', '.join(names)})",
                      pointer=pointer, breakers=names, expected=wanted, missing=missing)
    return passed(f"{len(names)} breaker(s) export their state: {', '.join(names)}",
                  pointer=pointer, breakers=names, expected=wanted or None)


@check("prometheus.breakers.stuck_open", kind=KIND, title="No circuit breaker is stuck open",
       severity=Severity.DANGER, items=BREAKER_ITEMS, section="4.1",
       remediation="A breaker open for the whole window means its dependency is down or the breaker never "
                   "probes again: check the dependency and the half-open trial requests.")
def breakers_stuck_open(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Per breaker: open for the whole ``breaker_stuck_after`` window = fail, open now = warn."""
    now = probe(snapshot, "breaker_open")
    stuck = probe(snapshot, "breaker_stuck")
    samples = probe(snapshot, "breaker_samples")
    for entry, key in ((now, "breaker_open"), (stuck, "breaker_stuck"), (samples, "breaker_samples")):
        if bad := _unusable(entry, f"/evidence/probes/{key}"):
            yield bad
            return
    if not finite(now):
        yield skipped("no breaker state series to judge (see prometheus.breakers.exported)")
        return
    opts = evidence_options(target.option("evidence"))
    window = opts.breaker_stuck_after
    expected = parse_duration(window) / parse_duration(step_for(opts))
    stuck_by = {_name(v["labels"]): v["value"] for v in finite(stuck)}
    count_by = {_name(v["labels"]): v["value"] for v in finite(samples)}
    for value in finite(now):
        name = _name(value["labels"])
        covered = (count_by.get(name) or 0) / expected
        evidence = {"open_now": value["value"] >= 1, "open_whole_window": stuck_by.get(name) == 1,
                    "window": window, "window_covered": round(min(covered, 1.0), 3)}
        if stuck_by.get(name) == 1 and covered >= 0.8:
            yield failed(f"breaker {name} has been open for all of the last {window}", subject=name,
                         pointer="/evidence/probes/breaker_stuck", evidence=evidence)
        elif value["value"] >= 1:
            yield warned(f"breaker {name} is open now (not for the whole {window})", subject=name,
                         pointer="/evidence/probes/breaker_open", evidence=evidence)
        else:
            yield passed(f"breaker {name} is not open", subject=name, pointer="/evidence/probes/breaker_open",
                         evidence=evidence)


def _rules(snapshot: Snapshot) -> list[tuple[str, dict[str, Any]]]:
    return [(g.get("name") or "?", r) for g in snapshot.section("rules").get("groups") or []
            for r in g.get("rules") or []]


def _records(rules: list[tuple[str, dict[str, Any]]]) -> RecordExpander:
    """Recording rules inlined, so an alert over ``job:breaker_open`` still reads a breaker metric."""
    return RecordExpander({r["name"]: r.get("query") or "" for _, r in rules
                           if r.get("type") == "recording" and r.get("name")})


@check("prometheus.breakers.alerted", kind=KIND, title="Breaker trips are alerted on",
       severity=Severity.WARNING, items=BREAKER_ITEMS, section="4.1",
       remediation="Load an alert on the breaker state, e.g. max by (name) (circuit_breaker_state) == 2 for 1m, "
                   "or on increase(circuit_breaker_state_changes_total{to=\"open\"}[5m]) > 0.")
def breakers_alerted(snapshot: Snapshot, target: Target) -> Outcome:
    """A loaded, healthy alerting rule whose expression reads a breaker metric."""
    every = _rules(snapshot)
    records = _records(every)
    rules = [(g, r) for g, r in every if r.get("type") == "alerting"
             and BREAKER_METRIC.search(records.expand(r.get("query") or ""))]
    healthy = [(g, r) for g, r in rules if r.get("health") == "ok"]
    found = [{"group": g, "alert": r.get("name"), "query": r.get("query"), "health": r.get("health")}
             for g, r in rules]
    if healthy:
        group, rule = healthy[0]
        return passed(f"alert {rule.get('name')} fires on breaker state", subject=f"{group}/{rule.get('name')}",
                      alerts=found, pointer="/rules")
    if rules:
        return failed(f"breaker alert {rules[0][1].get('name')} is unhealthy: "
                      f"{rules[0][1].get('last_error') or rules[0][1].get('health')}", alerts=found)
    return failed("no loaded alert reads a circuit-breaker metric", pointer="/rules")


@check("prometheus.events.consumer_lag", kind=KIND, title="Event consumers keep up (bounded lag)",
       severity=Severity.DANGER, items=EVENT_ITEMS, section="4.2",
       remediation="Scale the consumer group or fix the slow consumer; alert when lag grows. Kafka: run "
                   "kafka_exporter (kafka_consumergroup_lag); Redis Streams: redis_exporter with check-streams; "
                   "or set evidence.queries.consumer_lag.")
def consumer_lag(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Per consumer group: lag now and its peak over ``lag_window`` against ``consumer_lag_max``."""
    now = probe(snapshot, "consumer_lag")
    peak = probe(snapshot, "consumer_lag_peak")
    if bad := _unusable(now, "/evidence/probes/consumer_lag"):
        yield bad
        return
    opts = evidence_options(target.option("evidence"))
    limit = opts.consumer_lag_max
    if not finite(now):
        yield skipped("no consumer-lag series (kafka_consumergroup_lag, redis_stream_group_messages_pending); "
                      "set evidence.queries.consumer_lag for another broker", query=now.get("query"))
        return

    def key(labels: dict[str, Any]) -> str:
        group = labels.get("consumergroup") or labels.get("group") or "?"
        topic = labels.get("topic") or labels.get("stream")
        return f"{group}/{topic}" if topic else str(group)

    peaks = {key(v["labels"]): v["value"] for v in finite(peak)}
    for value in finite(now):
        subject = key(value["labels"])
        top = max(peaks.get(subject, value["value"]), value["value"])
        evidence = {"lag": value["value"], "peak": top, "limit": limit, "window": opts.lag_window}
        if value["value"] > limit:
            yield failed(f"consumer {subject} lags {value['value']:.0f} messages (limit {limit:.0f})",
                         subject=subject, pointer="/evidence/probes/consumer_lag", evidence=evidence)
        elif top > limit:
            yield warned(f"consumer {subject} lags {value['value']:.0f} now but peaked at {top:.0f} in the last "
                         f"{opts.lag_window} (limit {limit:.0f})", subject=subject,
                         pointer="/evidence/probes/consumer_lag_peak", evidence=evidence)
        else:
            yield passed(f"consumer {subject} lag {value['value']:.0f}, peak {top:.0f} over {opts.lag_window} "
                         f"(limit {limit:.0f})", subject=subject, pointer="/evidence/probes/consumer_lag",
                         evidence=evidence)


@check("prometheus.tracing.spans", kind=KIND, title="Spans reach the OpenTelemetry collector",
       severity=Severity.WARNING, items=["roadmap.p3.distributed_tracing"], section="8",
       remediation="Run an OpenTelemetry collector, scrape its own metrics (port 8888), send spans from every "
                   "service, and keep refused/failed spans under 1 %.")
def tracing_spans(snapshot: Snapshot, target: Target) -> Outcome:
    """The collector accepts spans now and loses under 1 % of them (refused or failed to export)."""
    entries = {k: probe(snapshot, k) for k in ("spans_accepted", "spans_refused", "spans_sent", "spans_failed")}
    if bad := _unusable(entries["spans_accepted"], "/evidence/probes/spans_accepted"):
        return bad
    rates = {k: scalar(e) for k, e in entries.items()}
    pointer = "/evidence/probes/spans_accepted"
    accepted = rates["spans_accepted"]
    if accepted is None:
        return warned("no OpenTelemetry collector span metrics (otelcol_receiver_accepted_spans) in Prometheus",
                      pointer=pointer, rates=rates)
    if accepted <= 0:
        return failed("the OpenTelemetry collector accepted no spans in the window", pointer=pointer, rates=rates)
    lost = (rates["spans_refused"] or 0) + (rates["spans_failed"] or 0)
    share = lost / (accepted + (rates["spans_refused"] or 0))
    if share > SPAN_LOSS_LIMIT:
        return warned(f"spans arrive ({accepted:.3g}/s) but {share * 100:.3g} % are refused or fail to export",
                      pointer=pointer, rates=rates)
    return passed(f"the collector accepts {accepted:.3g} spans/s, {share * 100:.2g} % lost", pointer=pointer,
                  rates=rates)


def _log_metrics(query: str) -> list[str]:
    return sorted({m for m in _NAME.findall(query) if LOG_METRIC.match(m)})


@check("prometheus.logs.analysis", kind=KIND, title="Log-derived error rates are analysed by a rule",
       severity=Severity.WARNING, items=["security.audit.log_analysis"], section="7.2",
       remediation="Count log lines by level (e.g. log_messages_total{level}, logback_events_total, a promtail "
                   "metrics stage) and alert on the error-line rate, so the weekly review is automated.")
def log_analysis(snapshot: Snapshot, target: Target) -> Outcome:
    """A loaded rule over a log-derived metric that looks at errors (recording rules inlined); an alert
    is preferred."""
    rules = _rules(snapshot)
    records = _records(rules)
    found = []
    for group, rule in rules:
        expanded = records.expand(rule.get("query") or "")
        names = _log_metrics(expanded)
        if names:
            found.append({"group": group, "rule": rule.get("name"), "type": rule.get("type"), "metrics": names,
                          "health": rule.get("health"), "errors": "error" in expanded.lower(),
                          "query": rule.get("query")})
    good = [f for f in found if f["health"] == "ok" and f["errors"]]
    alerts = [f for f in good if f["type"] == "alerting"]
    if alerts:
        best = alerts[0]
        return passed(f"alert {best['rule']} analyses log errors ({', '.join(best['metrics'])})",
                      subject=f"{best['group']}/{best['rule']}", rules=found, pointer="/rules")
    if good:
        return warned(f"recording rule {good[0]['rule']} derives log error rates, but no alert reads them",
                      subject=f"{good[0]['group']}/{good[0]['rule']}", rules=found, pointer="/rules")
    if found:
        return warned("rules read log-derived metrics but none looks at errors (or they are unhealthy)",
                      rules=found, pointer="/rules")
    return failed("no loaded rule reads a log-derived metric", pointer="/rules")
