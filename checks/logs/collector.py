"""Samples recent log lines of a workload (files, HTTP, its pods in Kubernetes) and probes trace propagation.

Bounded on purpose: the last ``max_lines`` lines of each source (a file is read backwards from
its end, at most ``MAX_TAIL_BYTES``; an HTTP source's answer is cut the same way). The
snapshot keeps counts and key *names* only (``checks.logs.parse``), never a log line's values.

The trace probe (optional ``trace_probe: URL``) sends one GET with a fresh W3C ``traceparent``
and looks for its trace id in the response (``traceparent``/``traceresponse`` headers) and,
after ``settle_seconds``, in the sampled logs: the guide's distributed tracing (phase 3) means
the context a caller sends is continued, not replaced.
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import Field, ValidationError

from checks.logs.parse import find_id, summarise
from checks.logs.pods import PodLogsOptions, read_pod_logs
from scaleready.api import CollectError, ConfigPath, Snapshot, Target, TargetOptions, collector

MAX_TAIL_BYTES = 512 * 1024
MAX_SOURCES = 50
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


class LogsOptions(TargetOptions):
    """Keys of a ``logs`` target: where to sample lines, and optionally where to probe tracing."""

    files: list[ConfigPath] = Field(default_factory=list, description="log files or globs")
    urls: list[str] = Field(default_factory=list, description="HTTP sources answering recent lines as text")
    bearer_token: str | None = None
    kubernetes: PodLogsOptions | None = Field(None, description="live pod logs of one workload")
    max_lines: int = Field(200, ge=1, le=5000)
    trace_probe: str | None = Field(None, description="URL to GET with a traceparent header")
    settle_seconds: float = Field(1.0, ge=0, le=30)


def public_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def tail_file(path: str, max_lines: int) -> list[str]:
    """The last ``max_lines`` lines of a file, reading at most MAX_TAIL_BYTES from its end."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        start = max(0, size - MAX_TAIL_BYTES)
        handle.seek(start)
        data = handle.read()
    lines = data.decode("utf-8", errors="replace").splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # the first one is cut in the middle
    return lines[-max_lines:]


async def _read_sources(opts: LogsOptions, client: httpx.AsyncClient) -> list[tuple[dict[str, Any], list[str]]]:
    out: list[tuple[dict[str, Any], list[str]]] = []
    for pattern in opts.files:
        matches = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not matches:
            out.append(({"source": pattern, "kind": "file", "reason": "no file matches"}, []))
        for path in matches[:MAX_SOURCES]:
            try:
                lines = await asyncio.to_thread(tail_file, path, opts.max_lines)
                out.append(({"source": path, "kind": "file", "reason": None}, lines))
            except OSError as exc:
                out.append(({"source": path, "kind": "file", "reason": exc.strerror or str(exc)}, []))
    for url in opts.urls:
        shown = public_url(url)
        try:
            response = await client.get(url)
        except httpx.HTTPError as exc:
            out.append(({"source": shown, "kind": "http", "reason": f"cannot read: {type(exc).__name__} "
                         f"{' '.join(str(exc).split())[:160]}"}, []))
            continue
        if response.status_code >= 400:
            out.append(({"source": shown, "kind": "http", "reason": f"HTTP {response.status_code}"}, []))
            continue
        text = response.text[-MAX_TAIL_BYTES:]
        out.append(({"source": shown, "kind": "http", "reason": None}, text.splitlines()[-opts.max_lines:]))
    return out


async def _probe(url: str, client: httpx.AsyncClient) -> dict[str, Any]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    entry: dict[str, Any] = {"url": public_url(url), "sent_trace_id": trace_id, "status": None, "reason": None,
                             "response_header": None, "response_trace_id": None, "continued_in_response": False}
    try:
        response = await client.get(url, headers={"traceparent": f"00-{trace_id}-{span_id}-01"})
    except httpx.HTTPError as exc:
        entry["reason"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
        return entry
    entry["status"] = response.status_code
    for name in ("traceparent", "traceresponse"):
        value = response.headers.get(name)
        match = _TRACEPARENT.match(value.strip().lower()) if value else None
        if match:
            entry.update(response_header=name, response_trace_id=match.group(1),
                         continued_in_response=match.group(1) == trace_id)
            break
    return entry


@collector("logs", options=LogsOptions)
async def collect(target: Target) -> Snapshot:
    """Recent log lines (files, HTTP) summarised into formats and key names, plus a traceparent probe."""
    try:
        opts = LogsOptions.model_validate(dict(target.options))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "options"
        raise CollectError(f"invalid logs target option '{where}': {first.get('msg')}") from None
    if not opts.files and not opts.urls and opts.kubernetes is None:
        raise CollectError("a logs target needs files:, urls: or kubernetes: to sample lines from")
    headers = {"Authorization": f"Bearer {opts.bearer_token}"} if opts.bearer_token else {}
    timeout = max(1.0, min(10.0, float(target.timeout) / 3))
    data: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=timeout, headers=headers) as client:
        probe = None
        if opts.trace_probe:
            probe = await _probe(opts.trace_probe, client)
            if probe["status"] is not None and opts.settle_seconds:
                await asyncio.sleep(opts.settle_seconds)  # let the service flush the probe's log line
        sources = await _read_sources(opts, client)
    if opts.kubernetes is not None:
        sources += await asyncio.to_thread(read_pod_logs, opts.kubernetes, opts.max_lines, MAX_TAIL_BYTES, timeout)
    data["sources"] = [{**meta, **(summarise(lines) if meta["reason"] is None else {})} for meta, lines in sources]
    if probe is not None:
        probe["found_in_logs"] = None
        for meta, lines in sources:
            line = find_id(lines, probe["sent_trace_id"])
            if line is not None:
                probe["found_in_logs"] = {"source": meta["source"], "line": line}
                break
    data["trace_probe"] = probe
    if all(s["reason"] for s in data["sources"]):
        raise CollectError("no log source could be read: " + "; ".join(
            f"{s['source']}: {s['reason']}" for s in data["sources"][:3]))
    return Snapshot(target=target.name, kind=target.kind, data=data)
