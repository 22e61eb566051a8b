"""Structured logging and trace propagation on real log samples: the reference service's own JSON logs
(with its traceparent continuation), a badly-logging test app, logfmt lines, an HTTP log source."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

import checks.logs
from refservice import logs as refservice_logs
from scaleready.api import Finding, Snapshot, Status, Target
from scaleready.engine import collect_target, evaluate
from scaleready.plugins import Registry
from tests.refservice.support import ServerThread, create_app, settings


def run(options: dict[str, Any]) -> tuple[Snapshot, dict[str, list[Finding]]]:
    reg = Registry()
    reg.add_module(checks.logs, "logs", "test")
    target = Target("app-logs", "logs", options, timeout=10)
    snapshot = asyncio.run(collect_target(target, reg))
    found: dict[str, list[Finding]] = {}
    for finding in evaluate(snapshot, target, reg):
        found.setdefault(finding.check, []).append(finding)
    return snapshot, found


def only(found: dict[str, list[Finding]], check_id: str) -> Finding:
    (finding,) = found[check_id]
    return finding


@pytest.fixture
def refservice_with_log(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The reference service on a free port, its JSON log going to a file, some traffic done."""
    log_file = tmp_path / "refservice.log"
    stream = log_file.open("a", buffering=1)
    app = create_app(settings(access_log=True, warm_products=10), seed=20, configure_logging=False)
    handler = refservice_logs.configure("INFO", stream)
    try:
        with ServerThread(app) as server:
            with httpx.Client(base_url=server.url) as client:
                for pid in range(1, 15):
                    client.get(f"/products/{pid}")
            yield server.url, log_file
    finally:
        logging.getLogger("refservice").removeHandler(handler)
        stream.close()


def test_refservice_logs_and_traceparent(refservice_with_log: tuple[str, Path]) -> None:
    url, log_file = refservice_with_log
    snapshot, found = run({"files": [str(log_file)], "trace_probe": f"{url}/products/3", "settle_seconds": 0.2})
    assert only(found, "logs.structured").status is Status.PASS
    fields = only(found, "logs.fields")
    assert fields.status is Status.PASS, fields.message
    trace = only(found, "logs.trace_propagation")
    assert trace.status is Status.PASS and "traceparent response header" in trace.message
    assert "refservice.log line" in trace.message  # found in the logs too
    source = snapshot.data["sources"][0]
    assert source["formats"] == {"json": source["lines"]} and "trace_id" in source["keys"]
    # only key names are kept: no value of any line is in the snapshot
    # the first access line (a start-up warning without a request id may come before it)
    first = next(d for d in map(json.loads, log_file.read_text().splitlines()) if d.get("request_id"))
    assert first["request_id"] not in snapshot.canonical() and first["time"] not in snapshot.canonical()


class _BadApp(BaseHTTPRequestHandler):
    """Logs free text, and answers every request with a trace of its own (drops the caller's)."""

    log_path: Path

    def do_GET(self) -> None:
        with self.log_path.open("a") as handle:
            handle.write(f"INFO handling {self.path}\n")
            handle.write(f'127.0.0.1 - - "GET {self.path} HTTP/1.1" 200 -\n')
            handle.write("level=info msg=served\n")  # one logfmt line without time or ids
        self.send_response(200)
        self.send_header("traceparent", f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def test_badly_logging_app_fails(tmp_path: Path) -> None:
    log_path = tmp_path / "bad.log"
    log_path.write_text("Starting server\nTraceback (most recent call last):\n  File 'x.py', line 1\n")
    handler = type("Handler", (_BadApp,), {"log_path": log_path})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        for _ in range(3):
            httpx.get(f"http://127.0.0.1:{port}/x")
        _, found = run({"files": [str(log_path)], "trace_probe": f"http://127.0.0.1:{port}/y", "settle_seconds": 0})
    finally:
        server.shutdown()
        server.server_close()
    structured = only(found, "logs.structured")
    assert structured.status is Status.FAIL and "free text at line(s) 1, 2, 3" in structured.message
    fields = only(found, "logs.fields")
    assert fields.status is Status.FAIL and "timestamp" in fields.message and "request/trace id" in fields.message
    trace = only(found, "logs.trace_propagation")
    assert trace.status is Status.FAIL and "new trace" in trace.message


LOGFMT = """\
time=2026-11-30T05:00:01Z level=info msg="request served" method=GET path=/products/1 status=200 trace_id=4bf92f3577b34da6a3ce929d0e0e4736
time=2026-11-30T05:00:02Z level=warn msg="slow query" duration_ms=812 trace_id=5cf92f3577b34da6a3ce929d0e0e4737
time=2026-11-30T05:00:03Z level=info msg="request served" method=GET path=/products/2 status=200 trace_id=6df92f3577b34da6a3ce929d0e0e4738
"""


def test_logfmt_served_over_http_passes(tmp_path: Path) -> None:
    body = LOGFMT.encode()

    class Source(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/logs" else 404)
            self.send_header("Content-Length", str(len(body) if self.path == "/logs" else 0))
            self.end_headers()
            if self.path == "/logs":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Source)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        snapshot, found = run({"urls": [f"{base}/logs", f"{base}/missing"]})
    finally:
        server.shutdown()
        server.server_close()
    by_subject = {f.subject: f for f in found["logs.structured"]}
    assert by_subject[f"{base}/logs"].status is Status.PASS
    assert by_subject[f"{base}/missing"].status is Status.ERROR and "HTTP 404" in by_subject[f"{base}/missing"].message
    assert {f.status for f in found["logs.fields"] if f.subject == f"{base}/logs"} == {Status.PASS}
    assert snapshot.data["sources"][0]["formats"] == {"logfmt": 3}
    assert only(found, "logs.trace_propagation").status is Status.SKIP


def test_tail_is_bounded_and_bad_input_is_clear(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    big.write_text("free text line\n" * 100_000 + '{"ts": 1, "level": "info", "msg": "x", "request_id": "a"}\n' * 50)
    snapshot, found = run({"files": [str(big)], "max_lines": 50})
    assert snapshot.data["sources"][0]["lines"] == 50
    assert only(found, "logs.structured").status is Status.PASS  # only the recent tail is judged
    snapshot, _ = run({"files": [str(tmp_path / "nope-*.log")]})
    assert snapshot.error and "no file matches" in snapshot.error
    snapshot, _ = run({})
    assert snapshot.error and "files:, urls: or kubernetes:" in snapshot.error
    snapshot, _ = run({"files": ["x"], "max_lines": 0})
    assert snapshot.error and "max_lines" in snapshot.error and "\n" not in snapshot.error


def _pod(name: str, app: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop", "labels": {"app": app}},
            "spec": {"containers": [{"name": "app", "image": f"shop/{app}:1"}]}}


def test_pod_logs_in_live_mode_are_bounded_and_judged_per_pod(tmp_path: Path) -> None:
    from tests.support.k8s_api_server import FakeApiServer

    good = "".join(f'{{"time":"2026-11-30T05:00:{i:02d}Z","level":"info","msg":"served","trace_id":"{i:032x}"}}\n'
                   for i in range(40))
    bad = "Started checkout\nGET /cart 200\nGET /cart 500\n"
    objects = [_pod("checkout-1", "checkout"), _pod("checkout-2", "checkout"), _pod("search-1", "search")]
    with FakeApiServer(objects, pod_logs={"shop/checkout-1": good, "shop/checkout-2": bad}) as server:
        kube = {"kubeconfig": server.write_kubeconfig(), "namespace": "shop", "selector": "app=checkout"}
        snapshot, found = run({"kubernetes": kube, "max_lines": 10})
        log_calls = [p for m, p in server.requests if p.split("?")[0].endswith("/log")]
        _, none = run({"kubernetes": {**kube, "selector": "app=nothing"}})
    by_pod = {f.subject: f for f in found["logs.structured"]}
    assert by_pod["pod shop/checkout-1"].status is Status.PASS
    assert by_pod["pod shop/checkout-2"].status is Status.FAIL
    assert snapshot.data["sources"][0]["lines"] == 10  # tailLines honoured: the last 10 of 40
    assert log_calls and all("tailLines=10" in p and "limitBytes=" in p for p in log_calls)
    assert "search-1" not in snapshot.canonical()  # only the selected workload's pods
    assert {f.status for f in none["logs.structured"]} == {Status.ERROR}
    assert "no pod matches" in none["logs.structured"][0].message
