"""The demo: real checks over the bundled sample app and a live reference service, any time.

It needs no external service. The Kubernetes manifests and the repository under
``data/demo/`` are checked as they are, and the reference service is started on its embedded
default (SQLite and in-process stores) on a free loopback port and checked over HTTP, so a
new user sees real findings, right and wrong, before pointing scaleready at their own systems.

Given a PostgreSQL server and a Redis database (`DemoBackends`, opt-in: the demo writes to
them), the service runs on them instead, and the demo checks them too: a throw-away database
``scaleready_demo_<hex>`` is created and dropped afterwards, and the service's keys (``rs:*``)
are removed from the Redis database afterwards, so name an unused database number.

Without named backends the demo starts its own when their binaries are installed
(`scaleready.demo_stack`): a throw-away PostgreSQL cluster, a Redis, exporters and a Prometheus
scraping the service with the demo's alert rules, plus a ``logs`` target on the service's JSON
log; whatever is missing is skipped and named in the run's audit entry and the CLI's output.

Demo runs carry the environment ``demo``: they are labelled as such everywhere and
`delete_demo_runs` removes them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import delete
from sqlmodel import col, select

from scaleready.config import Config, parse_config
from scaleready.demo_stack import (
    local_stack,
    start_postgres,
    start_prometheus,
    start_redis,
    stop_process,
    wait_prometheus_data,
    wait_prometheus_scraping,
)
from scaleready.models import FindingRecord, RunRecord, SnapshotRecord
from scaleready.paths import data_dir
from scaleready.plugins import default_registry
from scaleready.results import RunResult
from scaleready.runner import Progress, execute
from scaleready.store import Store

DEMO_ENVIRONMENT = "demo"
STARTUP_TIMEOUT_S = 60.0


class DemoError(ValueError):
    """The demo could not run as asked (e.g. the named PostgreSQL refused the demo database)."""


@dataclass(frozen=True)
class DemoBackends:
    """Optional real backends for the demo: a PostgreSQL admin DSN and a Redis URL with a db number."""

    postgres_admin_dsn: str | None = None
    redis_url: str | None = None
    postgres_replica_dsn: str | None = None  # a hot standby of that server (the demo's own cluster)


@dataclass(frozen=True)
class DemoService:
    """A running reference service: its URL, where its demo secrets are kept (files, 0600), and the
    backends it runs on (None: its embedded default)."""

    url: str
    token_file: Path
    key_file: Path
    database_file: Path | None = None  # the service's database DSN, when it runs on PostgreSQL
    replica_file: Path | None = None  # the same database on the standby, when there is one
    redis_file: Path | None = None  # its Redis URL, when it runs on Redis
    log_file: Path | None = None  # its JSON log lines (stdout and stderr)
    pid: int | None = None


@contextmanager
def _throwaway_database(admin_dsn: str) -> Iterator[str]:
    """A fresh database on the given server for the demo's length; dropped afterwards."""
    import psycopg

    name = f"scaleready_demo_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = admin_dsn.partition("?")
        with contextlib.suppress(psycopg.Error), \
                psycopg.connect(f"{base.rsplit('/', 1)[0]}/{name}", autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")  # where preloaded: slow queries
    except psycopg.Error as exc:
        raise RuntimeError(f"cannot create the demo database: {' '.join(str(exc).split())}") from None
    except Exception as exc:  # e.g. a malformed DSN
        raise RuntimeError(f"cannot create the demo database: {exc}") from None
    base, _, _ = admin_dsn.partition("?")
    try:
        yield f"{base.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _remove_service_keys(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        keys = list(client.scan_iter("rs:*", count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def reference_service(products: int = 200, backends: DemoBackends | None = None) -> Iterator[DemoService]:
    """The reference service on a free loopback port for the demo's length: on its embedded default,
    or on the given PostgreSQL (a throw-away database) and Redis.

    Its JWT key and a session token go to private files the demo config references with
    ``${file:…}``, so no secret is written into a config, the store or a report.
    """
    backends = backends or DemoBackends()
    with contextlib.ExitStack() as stack:
        database_url = (stack.enter_context(_throwaway_database(backends.postgres_admin_dsn))
                        if backends.postgres_admin_dsn else None)
        replica_url = (_replicated(database_url, backends.postgres_replica_dsn)
                       if database_url and backends.postgres_replica_dsn else None)
        if backends.redis_url:
            stack.callback(_remove_service_keys, backends.redis_url)
        yield stack.enter_context(_service_process(products, database_url, backends.redis_url, replica_url))


def _replicated(database_url: str, replica_admin_dsn: str, timeout: float = 20.0) -> str:
    """The demo database's URL on the standby, once WAL replay has created it there."""
    import psycopg

    url = f"{replica_admin_dsn.partition('?')[0].rsplit('/', 1)[0]}/{database_url.rsplit('/', 1)[1]}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return url
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise RuntimeError("the demo database did not reach the standby within "
                                   f"{timeout:g}s") from None
            time.sleep(0.2)


@contextmanager
def _service_process(products: int, database_url: str | None, redis_url: str | None,
                     replica_url: str | None = None) -> Iterator[DemoService]:
    folder = Path(tempfile.mkdtemp(prefix="scaleready-demo-"))
    key = secrets.token_hex(32)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    backend_args = [*(["--database-url", database_url] if database_url else []),
                    *(["--replica-url", replica_url] if replica_url else []),
                    *(["--redis-url", redis_url] if redis_url else [])]
    log = open(folder / "refservice.log", "wb")  # noqa: SIM115 - closed below, with the process
    proc = subprocess.Popen(
        [sys.executable, "-c", "from scaleready.cli import main; main()", "refservice", "--host", "127.0.0.1",
         "--port", str(port), "--seed", str(products), "--warm", str(products), *backend_args],
        env={**os.environ, "REFSERVICE_JWT_SECRET": key}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_ready(url, proc, folder / "refservice.log")
        token = _warm_up(url)
        files = {"token": token, "jwt-key": key, "database-url": database_url, "redis-url": redis_url,
                 "replica-url": replica_url}
        for name, value in files.items():
            if value is not None:
                (folder / name).write_text(value)
                (folder / name).chmod(0o600)
        yield DemoService(url, folder / "token", folder / "jwt-key",
                          database_file=folder / "database-url" if database_url else None,
                          replica_file=folder / "replica-url" if replica_url else None,
                          redis_file=folder / "redis-url" if redis_url else None,
                          log_file=folder / "refservice.log", pid=proc.pid)
    finally:
        stop_process(proc)
        log.close()
        for path in folder.iterdir():
            path.unlink(missing_ok=True)
        folder.rmdir()


def _warm_up(url: str) -> str:
    """A session token, and one read of each cached data type (so the caches hold what the checks read)."""
    with httpx.Client(base_url=url, timeout=10) as client:
        token = client.post("/sessions", json={"username": "demo", "password": "demo"}).json()["token"]
        client.get("/sessions/me", headers={"Authorization": f"Bearer {token}"})
        client.get("/products", params={"limit": 10})
        for pid in range(1, 11):
            client.get(f"/products/{pid}")
    return token


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


def demo_config(service: DemoService | None = None, prometheus_url: str | None = None) -> Config:
    """The demo targets that are installed and whose sample data is present (plus the service, the
    backends it runs on, its log file and the Prometheus scraping it)."""
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
    # backend addresses are referenced like secrets: an admin DSN may carry a password
    if service is not None and service.database_file and "postgres" in registry.collectors:
        blocks.append("  - name: reference-service-db\n    kind: postgres\n"
                      f"    dsn: '${{file:{service.database_file}}}'\n"
                      + (f"    replicas: ['${{file:{service.replica_file}}}']\n" if service.replica_file else "")
                      + "    memory: 1GB\n    cpus: 2\n    storage: ssd\n    workload: web\n")
    if service is not None and service.redis_file and "redis" in registry.collectors:
        blocks.append(f"  - name: reference-service-cache\n    kind: redis\n    url: '${{file:{service.redis_file}}}'\n"
                      "    key_types:\n      'rs:product:*': product_details\n"
                      "      'rs:session:*': user_sessions\n      'rs:listing:*': product_listings\n")
    if prometheus_url is not None and "prometheus" in registry.collectors:
        blocks.append(f"  - name: reference-service-metrics\n    kind: prometheus\n    url: {prometheus_url}\n"
                      f"    rule_files: ['{demo / 'prometheus' / 'rules.yml'}']\n"
                      "    evidence:\n      breakers: [PaymentService]\n")
    if service is not None and service.log_file is not None and "logs" in registry.collectors:
        blocks.append(f"  - name: reference-service-logs\n    kind: logs\n    files: ['{service.log_file}']\n"
                      f"    max_lines: 300\n    trace_probe: {service.url}/products/2\n")
    text = "targets:\n" + "".join(blocks) if blocks else "targets: []\n"
    return parse_config(text, demo / "scaleready.yaml", registry)


@dataclass
class DemoRun:
    """A demo run and what the demo could not show (part -> reason), for the CLI and the dashboard."""

    run: RunResult
    skipped: dict[str, str]
    pids: list[int] = field(default_factory=list)  # every process the demo started (all stopped by now)


def run_demo(store: Store | None, *, with_service: bool = True, backends: DemoBackends | None = None,
             actor: str = "dashboard", progress: Progress | None = None, local: bool = True) -> RunResult:
    """One demo run, stored under the environment ``demo``. If the service cannot start, the run
    still happens over the sample files and the reason is in the audit log."""
    return run_demo_detailed(store, with_service=with_service, backends=backends, actor=actor,
                             progress=progress, local=local).run


def run_demo_detailed(store: Store | None, *, with_service: bool = True, backends: DemoBackends | None = None,
                      actor: str = "dashboard", progress: Progress | None = None, local: bool = True) -> DemoRun:
    """`run_demo`, also saying which parts were skipped and why. ``local``: without named backends,
    start the local ones whose binaries are installed (`scaleready.demo_stack`)."""
    named = backends is not None and bool(backends.postgres_admin_dsn or backends.redis_url)
    skipped: dict[str, str] = {}
    pids: list[int] = []
    if not with_service:
        skipped["service"] = "not asked for (--no-service)"
        run, _ = execute(demo_config(), store=store, environment=DEMO_ENVIRONMENT, progress=progress)
    else:
        try:
            with local_stack() as stack:
                if local and not named:
                    start_postgres(stack)
                    start_redis(stack)
                    backends = DemoBackends(stack.postgres_admin_dsn, stack.redis_url, stack.postgres_replica_dsn)
                elif not local:
                    skipped["local backends"] = "not asked for (--no-local)"
                with reference_service(backends=backends) as service:
                    prometheus_url = None
                    if local:
                        start_prometheus(stack, service.url, [data_dir() / "demo" / "prometheus" / "rules.yml"],
                                         [u for u in (_read(service.database_file), _read(service.replica_file)) if u])
                        prometheus_url = stack.prometheus_url
                        if prometheus_url:
                            wait_prometheus_scraping(prometheus_url)
                            _traffic(service.url)
                            if not wait_prometheus_data(prometheus_url):
                                skipped["prometheus data"] = "no request rate or unevaluated rules after 20 s"
                    skipped.update(stack.skipped)
                    pids = [*stack.pids, *([service.pid] if service.pid else [])]
                    run, _ = execute(demo_config(service, prometheus_url), store=store,
                                     environment=DEMO_ENVIRONMENT, progress=progress)
        except RuntimeError as exc:
            if named:
                raise DemoError(f"the demo could not use the given backends: {exc}") from None
            skipped["service"] = str(exc)
            run, _ = execute(demo_config(), store=store, environment=DEMO_ENVIRONMENT, progress=progress)
    if store is not None:
        store.audit(actor, "demo.run", run.id, {"targets": len(run.snapshots),
                                                "service_error": skipped.get("service") if with_service else None,
                                                "skipped": skipped})
    return DemoRun(run, skipped, pids)


def _read(path: Path | None) -> str | None:
    return path.read_text() if path is not None else None


def _traffic(url: str, requests: int = 60) -> None:
    """Some reads and one admin delete (the outbox and its consumers run), so metrics have rates."""
    with httpx.Client(base_url=url, timeout=10) as client:
        admin = client.post("/sessions", json={"username": "admin", "password": "admin"}).json()["token"]
        client.delete("/products/199", headers={"Authorization": f"Bearer {admin}"})
        for n in range(requests):
            client.get(f"/products/{n % 50 + 1}")
            if n % 10 == 0:
                client.get("/products", params={"limit": 10})


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
