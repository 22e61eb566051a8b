"""Runs a real Prometheus (Debian's binary) for tests, on a free loopback port with temp storage.

Reusable by any test that needs live PromQL: give it scrape jobs (and optionally rule
files), start it, and wait until what you need has data. Every wait is bounded and a
missing binary fails loudly: CI installs the package, so a skip would hide a broken setup.

    jobs = [ScrapeJob("api", [exporter.target], metrics_path="/healthy/metrics")]
    with PrometheusServer(jobs, rule_files=[path]) as prom:
        prom.wait_samples("http_requests_total", n=2)      # rate() has two samples
        prom.wait_rules_evaluated()
        prom.url  # "http://127.0.0.1:PORT"
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_UNVERIFIED = ssl._create_unverified_context()  # readiness only; tests check TLS through the collector


@dataclass
class ScrapeJob:
    """One ``scrape_configs`` entry with static targets (``host:port``)."""

    name: str
    targets: list[str]
    metrics_path: str = "/metrics"
    labels: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        static: dict[str, Any] = {"targets": list(self.targets)}
        if self.labels:
            static["labels"] = dict(self.labels)
        return {"job_name": self.name, "metrics_path": self.metrics_path, "static_configs": [static]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def binary(name: str = "prometheus") -> str:
    """Path of a Prometheus binary; RuntimeError (not a skip) when it is not installed."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        raise RuntimeError(f"'{name}' is not installed: apt-get install prometheus (the test setup does this)")
    return path


class PrometheusServer:
    """A Prometheus process owned by a test; ``stop()`` (or the ``with`` block) ends it."""

    def __init__(
        self,
        jobs: Sequence[ScrapeJob],
        rule_files: Sequence[str | Path] = (),
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        web_config: dict[str, Any] | None = None,
    ) -> None:
        """``web_config`` is Prometheus's --web.config.file content (TLS, basic-auth users)."""
        self.web_config = web_config
        self.jobs = list(jobs)
        self.rule_files = [str(Path(p).resolve()) for p in rule_files]
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        scheme = "https" if (self.web_config or {}).get("tls_server_config") else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        return {
            "global": {"scrape_interval": self.scrape_interval, "scrape_timeout": self.scrape_interval,
                       "evaluation_interval": self.evaluation_interval},
            "rule_files": self.rule_files,
            "scrape_configs": [job.config() for job in self.jobs],
        }

    def start(self, timeout: float = 20.0) -> PrometheusServer:
        """Start and wait for ``/-/ready``; retries once on a port race."""
        exe = binary()
        self._tmp = tempfile.TemporaryDirectory(prefix="scaleready-prom-")
        root = Path(self._tmp.name)
        (root / "prometheus.yml").write_text(yaml.safe_dump(self.config()))
        extra = []
        if self.web_config:
            (root / "web.yml").write_text(yaml.safe_dump(self.web_config))
            extra.append(f"--web.config.file={root / 'web.yml'}")
        last = ""
        for _attempt in range(3):
            self.port = free_port()
            log = (root / "prometheus.log").open("wb")
            self.proc = subprocess.Popen(
                [exe, f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h",
                 "--log.level=warn", *extra],
                stdout=log, stderr=subprocess.STDOUT,
            )
            log.close()
            if self._wait_ready(timeout):
                return self
            last = (root / "prometheus.log").read_text(errors="replace")[-2000:]
            self._kill()
        self.stop()
        raise RuntimeError(f"Prometheus did not become ready within {timeout:g}s:\n{last}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2, context=_UNVERIFIED) as resp:
                    if resp.status == 200:
                        return True
            except urllib.error.HTTPError:
                return True  # answering, behind authentication
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def api(self, path: str, **params: str) -> Any:
        """GET an API path and return its ``data`` (raises on an API error)."""
        query = urllib.parse.urlencode(params)
        url = f"{self.url}{path}{'?' + query if query else ''}"
        with urllib.request.urlopen(url, timeout=5, context=_UNVERIFIED) as response:
            body = json.loads(response.read())
        if body.get("status") != "success":
            raise RuntimeError(f"{path}: {body.get('error')}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        return list(self.api("/api/v1/query", query=promql)["result"])

    def wait_for(self, promql: str, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Poll until ``promql`` returns at least one series with a finite value."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if any(_finite(item) for item in result):
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"no data for {promql!r} after {timeout:g}s")
            time.sleep(0.3)

    def wait_samples(self, selector: str = "up", n: int = 2, window: str = "1m", timeout: float = 20.0) -> None:
        """Poll until every series matching ``selector`` has at least ``n`` samples in ``window``.

        ``rate(x[w])`` is exact once samples span the whole window ``w``: wait for about
        ``w / scrape_interval + 1`` samples before asserting absolute rates.
        """
        self.wait_for(f"min(count_over_time({selector}[{window}])) >= {n}", timeout=timeout)

    def wait_rules_evaluated(self, timeout: float = 20.0) -> None:
        """Poll until every loaded rule has been evaluated at least once (health not 'unknown')."""
        deadline = time.monotonic() + timeout
        while True:
            groups = self.api("/api/v1/rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            if all(r.get("health") not in (None, "unknown") for r in rules):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"rules not evaluated after {timeout:g}s")
            time.sleep(0.3)

    def wait_targets_scraped(self, timeout: float = 20.0) -> None:
        """Poll until every active target has been scraped at least once (health not 'unknown')."""
        deadline = time.monotonic() + timeout
        while True:
            active = self.api("/api/v1/targets", state="active")["activeTargets"]
            if active and all(t.get("health") != "unknown" for t in active):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"targets not scraped after {timeout:g}s")
            time.sleep(0.3)

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def stop(self) -> None:
        self._kill()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> PrometheusServer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _finite(item: dict[str, Any]) -> bool:
    try:
        value = float(item["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return False
    return value == value and value not in (float("inf"), float("-inf"))
