"""The demo: real checks over the bundled sample app and a live reference service, any time.

It needs no external service. The Kubernetes manifests and the repository under
``data/demo/`` are checked as they are, and the reference service is started on its embedded
default (SQLite and in-process stores) on a free loopback port and checked over HTTP, so a
new user sees real findings, right and wrong, across most of the guide before pointing
scaleready at their own systems. Demo runs carry the environment ``demo``: they are labelled
as such everywhere and `delete_demo_runs` removes them.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import delete
from sqlmodel import col, select

from scaleready.config import Config, parse_config
from scaleready.models import FindingRecord, RunRecord, SnapshotRecord
from scaleready.paths import data_dir
from scaleready.plugins import default_registry
from scaleready.results import RunResult
from scaleready.runner import Progress, execute
from scaleready.store import Store

DEMO_ENVIRONMENT = "demo"
STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DemoService:
    """A running reference service: its URL and where its demo secrets are kept (files, 0600)."""

    url: str
    token_file: Path
    key_file: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def reference_service(products: int = 200) -> Iterator[DemoService]:
    """The reference service on its embedded default, on a free loopback port, for the demo's length.

    Its JWT key and a session token go to private files the demo config references with
    ``${file:…}``, so no secret is written into a config, the store or a report.
    """
    folder = Path(tempfile.mkdtemp(prefix="scaleready-demo-"))
    key = secrets.token_hex(32)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(folder / "refservice.log", "wb")  # noqa: SIM115 - closed below, with the process
    proc = subprocess.Popen(
        [sys.executable, "-c", "from scaleready.cli import main; main()", "refservice", "--host", "127.0.0.1",
         "--port", str(port), "--seed", str(products), "--warm", str(products), "--no-access-log"],
        env={**os.environ, "REFSERVICE_JWT_SECRET": key}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_ready(url, proc, folder / "refservice.log")
        token = httpx.post(f"{url}/sessions", json={"username": "demo", "password": "demo"},
                           timeout=10).json()["token"]
        token_file, key_file = folder / "token", folder / "jwt-key"
        for path, value in ((token_file, token), (key_file, key)):
            path.write_text(value)
            path.chmod(0o600)
        yield DemoService(url, token_file, key_file)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        for path in folder.iterdir():
            path.unlink(missing_ok=True)
        folder.rmdir()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-400:]
            raise RuntimeError(f"the reference service exited with code {proc.returncode}: {tail}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the reference service did not become ready within {STARTUP_TIMEOUT_S:g}s")


def demo_config(service: DemoService | None = None) -> Config:
    """The demo targets that are installed and whose sample data is present (plus the service)."""
    demo = data_dir() / "demo"
    registry = default_registry()
    blocks = []
    if "kubernetes" in registry.collectors and (demo / "k8s").is_dir():
        blocks.append(f"  - name: sample-app-manifests\n    kind: kubernetes\n    manifests: ['{demo / 'k8s'}']\n")
    if "gitops" in registry.collectors and (demo / "repo").is_dir():
        blocks.append(f"  - name: sample-app-repo\n    kind: gitops\n    path: '{demo / 'repo'}'\n")
    if service is not None and "http" in registry.collectors:
        blocks.append(
            f"  - name: reference-service\n    kind: http\n    url: {service.url}\n"
            "    probe_path: /products/1\n    protected_path: /sessions/me\n    query_path: /search\n"
            f"    jwt_token: '${{file:{service.token_file}}}'\n"
            f"    jwt_signing_key: '${{file:{service.key_file}}}'\n"
            "    active: true\n    timeout: 60\n"
        )
    text = "targets:\n" + "".join(blocks) if blocks else "targets: []\n"
    return parse_config(text, demo / "scaleready.yaml", registry)


def run_demo(store: Store | None, *, with_service: bool = True, actor: str = "dashboard",
             progress: Progress | None = None) -> RunResult:
    """One demo run, stored under the environment ``demo``. If the service cannot start, the run
    still happens over the sample files and the reason is in the audit log."""
    service_error: str | None = None
    if with_service:
        try:
            with reference_service() as service:
                run, _ = execute(demo_config(service), store=store, environment=DEMO_ENVIRONMENT, progress=progress)
        except RuntimeError as exc:
            service_error = str(exc)
            run, _ = execute(demo_config(), store=store, environment=DEMO_ENVIRONMENT, progress=progress)
    else:
        run, _ = execute(demo_config(), store=store, environment=DEMO_ENVIRONMENT, progress=progress)
    if store is not None:
        store.audit(actor, "demo.run", run.id, {"targets": len(run.snapshots), "service_error": service_error})
    return run


def items_with_evidence(run: RunResult) -> tuple[int, int]:
    """(items decided by live evidence, all items): the share of the guide the run really looked at."""
    items = [i for a in run.score.areas for i in a.items]
    return sum(1 for i in items if i.source in ("evidence", "conflict")), len(items)


def delete_demo_runs(store: Store, actor: str = "dashboard") -> int:
    """Remove every demo run (its findings and snapshots too); the deletion is audited."""
    with store.session() as session:
        ids = list(session.exec(select(RunRecord.id).where(RunRecord.environment == DEMO_ENVIRONMENT)).all())
        if ids:
            session.execute(delete(FindingRecord).where(col(FindingRecord.run_id).in_(ids)))
            session.execute(delete(SnapshotRecord).where(col(SnapshotRecord.run_id).in_(ids)))
            session.execute(delete(RunRecord).where(col(RunRecord.id).in_(ids)))
            session.commit()
    if ids:
        store.audit(actor, "demo.deleted", DEMO_ENVIRONMENT, {"runs": len(ids)})
    return len(ids)
