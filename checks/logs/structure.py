"""Structured logging (roadmap phase 2) and trace-context propagation (phase 3) from sampled lines.

Pure over the ``logs`` collector's snapshot. Each source is judged on its own, so one
well-logging service cannot hide a badly-logging one; a source that could not be read is an
``error`` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checks.logs.collector import collect
from scaleready.api import Outcome, Severity, Snapshot, Target, check, errored, failed, passed, skipped

__all__ = ["collect"]

KIND = "logs"
STRUCTURED_MIN = 0.95  # share of lines that must be JSON/logfmt
FIELDS_MIN = 0.95  # share of structured lines with level and timestamp
ID_MIN = 0.5  # share of structured lines with a request/trace id (startup lines have none)


def _sources(snapshot: Snapshot) -> Iterator[tuple[int, dict[str, Any]] | Outcome]:
    for index, source in enumerate(snapshot.section("sources")):
        if source.get("reason"):
            yield errored(f"{source['source']}: {source['reason']}", subject=source["source"],
                          pointer=f"/sources/{index}")
        elif not source.get("lines"):
            yield errored(f"{source['source']}: no log lines to judge", subject=source["source"],
                          pointer=f"/sources/{index}")
        else:
            yield index, source


@check("logs.structured", kind=KIND, title="Logs are structured (JSON or logfmt)", severity=Severity.WARNING,
       items=["roadmap.p2.structured_logging"], section="8",
       remediation="Log one JSON object per line (or logfmt) from every service: a JSON formatter for the "
                   "logging library, no print statements or free-text lines.")
def structured(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """At least 95 % of each source's sampled lines are JSON objects or logfmt pairs."""
    for item in _sources(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        index, source = item
        share = source["structured"] / source["lines"]
        evidence = {"lines": source["lines"], "formats": source["formats"], "share": round(share, 3),
                    "unstructured_lines": source["unstructured_lines"]}
        message = f"{source['structured']} of {source['lines']} sampled lines are structured ({share * 100:.0f} %)"
        if share >= STRUCTURED_MIN:
            yield passed(message, subject=source["source"], pointer=f"/sources/{index}", evidence=evidence)
        else:
            lines = ", ".join(map(str, source["unstructured_lines"][:5]))
            yield failed(f"{message}; free text at line(s) {lines}", subject=source["source"],
                         pointer=f"/sources/{index}", evidence=evidence)


@check("logs.fields", kind=KIND, title="Log lines carry level, timestamp and a request/trace id",
       severity=Severity.WARNING, items=["roadmap.p2.structured_logging"], section="8",
       remediation="Add timestamp and level to every line and the request or trace id to every line logged while "
                   "serving a request (a context variable set by the middleware).")
def fields(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Structured lines have level and timestamp (95 %), and at least half carry a request/trace id."""
    for item in _sources(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        index, source = item
        total = source["structured"]
        if not total:
            yield failed("no structured line to read fields from", subject=source["source"],
                         pointer=f"/sources/{index}")
            continue
        shares = {"level": source["with_level"] / total, "timestamp": source["with_timestamp"] / total,
                  "request/trace id": source["with_id"] / total}
        evidence = {"structured_lines": total, "shares": {k: round(v, 3) for k, v in shares.items()},
                    "keys": source["keys"]}
        missing = [k for k in ("level", "timestamp") if shares[k] < FIELDS_MIN]
        if shares["request/trace id"] < ID_MIN:
            missing.append("request/trace id")
        summary = ", ".join(f"{k} {v * 100:.0f} %" for k, v in shares.items())
        if missing:
            yield failed(f"lines lack {', '.join(missing)} ({summary})", subject=source["source"],
                         pointer=f"/sources/{index}/keys", evidence=evidence)
        else:
            yield passed(f"lines carry {summary}", subject=source["source"], pointer=f"/sources/{index}/keys",
                         evidence=evidence)


@check("logs.trace_propagation", kind=KIND, title="A traceparent sent is continued",
       severity=Severity.WARNING, items=["roadmap.p3.distributed_tracing"], section="8",
       remediation="Instrument the service with OpenTelemetry (or parse the W3C traceparent in the middleware): "
                   "continue the caller's trace id, log it on every line and pass it to downstream calls.")
def trace_propagation(snapshot: Snapshot, target: Target) -> Outcome:
    """The probe's trace id comes back in a ``traceparent``/``traceresponse`` header or shows up in the logs."""
    probe = snapshot.data.get("trace_probe")
    if not probe:
        return skipped("no trace_probe URL configured on this logs target")
    evidence = {k: probe.get(k) for k in ("url", "status", "sent_trace_id", "response_header", "response_trace_id",
                                           "found_in_logs")}
    if probe.get("reason"):
        return errored(f"the traceparent probe to {probe['url']} failed: {probe['reason']}", pointer="/trace_probe",
                       evidence=evidence)
    in_logs = probe.get("found_in_logs")
    where = []
    if probe.get("continued_in_response"):
        where.append(f"the {probe['response_header']} response header")
    if in_logs:
        where.append(f"{in_logs['source']} line {in_logs['line']}")
    if where:
        return passed(f"trace {probe['sent_trace_id']} was continued: seen in {' and '.join(where)}",
                      pointer="/trace_probe", evidence=evidence)
    if probe.get("response_trace_id"):
        return failed(f"the service answered a new trace ({probe['response_trace_id']}) instead of continuing "
                      f"{probe['sent_trace_id']}", pointer="/trace_probe", evidence=evidence)
    return failed(f"trace {probe['sent_trace_id']} was not seen in the response headers nor in the sampled logs",
                  pointer="/trace_probe", evidence=evidence)
