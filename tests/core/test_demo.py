"""The demo: the sample app's files plus a live reference service, labelled, deletable, from the CLI."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaleready import demo_stack
from scaleready.cli import main
from scaleready.config import parse_config
from scaleready.demo import (
    DEMO_ENVIRONMENT,
    delete_demo_runs,
    items_with_evidence,
    reference_service,
    run_demo,
    run_demo_detailed,
)
from scaleready.runner import execute
from scaleready.store import Store

pytestmark = pytest.mark.slow


def test_the_demo_checks_a_live_reference_service(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    files_only = run_demo(store, with_service=False)
    run = run_demo(store, local=False)  # the service on its embedded default, nothing else started
    kinds = {s.kind: s for s in run.snapshots}
    assert set(kinds) == {"kubernetes", "gitops", "http", "logs"}  # logs: the service's JSON log file
    assert all(s.error is None for s in run.snapshots), [s.error for s in run.snapshots]
    http = [f for f in run.findings if f.target == "reference-service"]
    assert {f.check for f in http} >= {"http.jwt", "http.rate_limit", "http.sql_injection"}
    assert all(f.status.value in ("pass", "skip") for f in http), [(f.check, f.message) for f in http]
    proven, total = items_with_evidence(run)
    assert proven > items_with_evidence(files_only)[0]
    assert run.environment == DEMO_ENVIRONMENT and run.score.coverage == pytest.approx(proven / total)
    secrets_seen = " ".join(f.message + str(f.evidence) for f in http)
    assert "eyJ" not in secrets_seen  # the session token never lands in a finding
    audit = [e for e in store.audit_log() if e.action == "demo.run"]
    assert len(audit) == 2


def test_demo_runs_are_deleted_and_nothing_else(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    repo = tmp_path / "repo"
    repo.mkdir()
    config = parse_config(f"targets:\n  - {{name: r, kind: gitops, path: '{repo}'}}\n", tmp_path / "c.yaml")
    kept, _ = execute(config, store=store, environment="staging")
    run_demo(store, with_service=False)
    run_demo(store, with_service=False)
    assert delete_demo_runs(store) == 2
    assert [r.id for r in store.runs()] == [kept.id]
    assert any(e.action == "demo.deleted" for e in store.audit_log())


def test_the_service_stops_with_the_demo():
    import httpx

    with reference_service(products=20) as service:
        assert httpx.get(f"{service.url}/readyz").status_code == 200
        assert service.token_file.stat().st_mode & 0o077 == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{service.url}/readyz", timeout=2)
    assert not service.token_file.exists()


def test_scaleready_demo_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALEREADY_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    result = CliRunner().invoke(main, ["demo", "--no-service"])
    assert result.exit_code == 0, result.output
    assert "items with live evidence" in result.output and "sample-app-repo (gitops): collected" in result.output
    assert "skipped service: not asked for (--no-service)" in result.output
    deleted = CliRunner().invoke(main, ["demo", "--delete"])
    assert deleted.exit_code == 0 and "deleted 1 demo run(s)" in deleted.output


@pytest.mark.postgres
@pytest.mark.redis
def test_with_local_postgres_and_redis_the_demo_covers_most_of_the_guide(tmp_path):
    import psycopg
    import redis

    from scaleready.demo import DemoBackends
    from tests.conftest import PG_ADMIN_DSN

    redis_url = "redis://127.0.0.1:6379/11"
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    run = run_demo(store, backends=DemoBackends(PG_ADMIN_DSN, redis_url), local=False)
    assert {s.kind: s.error for s in run.snapshots} == {"kubernetes": None, "gitops": None, "http": None, "logs": None,
                                                       "postgres": None, "redis": None}
    proven, total = items_with_evidence(run)
    assert proven / total >= 0.6, (proven, total)
    assert {"db.shared_buffers", "cache.rule.product_details", "cache.rule.user_sessions"} <= {
        i.id for a in run.score.areas for i in a.items if i.source == "evidence"}
    with psycopg.connect(PG_ADMIN_DSN) as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'scaleready_demo_%'").fetchone()
    assert left == (0,)
    assert not list(redis.Redis.from_url(redis_url).scan_iter("rs:*"))
    stored = " ".join(f.message + str(f.evidence) for f in store.load_run(run.id).findings)
    assert "postgresql://" not in stored  # the service's DSN is referenced like a secret, so scrubbed


def test_backends_that_cannot_be_used_are_one_clear_error(tmp_path):
    from scaleready.demo import DemoBackends, DemoError

    with pytest.raises(DemoError, match="could not use the given backends"):
        run_demo(None, backends=DemoBackends(postgres_admin_dsn="postgresql://nobody@127.0.0.1:1/x"))


def _gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for init to reap it counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


@pytest.fixture
def private_tmp(monkeypatch):
    """The demo's temp dirs go to a fresh dir (readable by the postgres OS user, unlike pytest's
    0700 tmp_path), so the test can see that nothing is left behind."""
    folder = Path(tempfile.mkdtemp(prefix="scaleready-demo-test-"))
    folder.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


LOCAL_BINARIES = {"postgres": (demo_stack.PG_BIN / "initdb").exists(), "redis": bool(shutil.which("redis-server")),
                  "prometheus": bool(shutil.which("prometheus"))}


@pytest.mark.skipif(not all(LOCAL_BINARIES.values()), reason=f"needs the local binaries: {LOCAL_BINARIES}")
def test_with_the_local_binaries_the_demo_covers_most_of_the_guide_and_stops_everything(tmp_path, private_tmp):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    outcome = run_demo_detailed(store)
    run = outcome.run
    assert outcome.skipped == {}, outcome.skipped
    assert {s.kind: s.error for s in run.snapshots} == {
        "kubernetes": None, "gitops": None, "http": None, "postgres": None, "redis": None, "prometheus": None,
        "logs": None}
    proven, total = items_with_evidence(run)
    assert proven / total >= 0.6, (proven, total)
    evidence = {i.id for a in run.score.areas for i in a.items if i.source == "evidence"}
    # one item from each part the demo started: its database, cache, Prometheus (rules and the
    # service's breakers) and the service's JSON log
    assert {"db.shared_buffers", "cache.rule.product_details", "monitoring.alert.high_error_rate",
            "comm.circuit_breaker", "roadmap.p2.structured_logging"} <= evidence
    by_check = {f.check: f.status.value for f in run.findings}
    assert by_check["postgres.config.shared_buffers"] == "pass"  # the cluster runs with guide 3.1's settings
    assert by_check["postgres.replication.replicas"] == "pass"  # and a streaming hot standby (guide 3.2)
    assert by_check["logs.structured"] == "pass"
    # node cost is recorded from on-prem list prices, but its growth needs a month of history
    assert by_check["prometheus.cost.metrics"] == "pass"
    assert by_check["prometheus.cost.compute_growth"] == "error"
    # everything the demo started is stopped and its temp dirs are removed
    assert len(outcome.pids) >= 6  # primary, standby, redis, exporters, prometheus, the service
    assert all(_gone(pid) for pid in outcome.pids), [p for p in outcome.pids if not _gone(p)]
    assert list(private_tmp.iterdir()) == []


def test_without_the_local_binaries_the_demo_says_what_it_skipped(tmp_path, private_tmp, monkeypatch):
    monkeypatch.setattr(demo_stack, "PG_BIN", tmp_path / "no-postgres")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no redis-server, exporters or prometheus
    outcome = run_demo_detailed(None)
    assert set(outcome.skipped) == {"postgres", "redis", "prometheus"}
    assert "redis-server is not installed" in outcome.skipped["redis"]
    assert {s.kind for s in outcome.run.snapshots} == {"kubernetes", "gitops", "http", "logs"}
    assert all(s.error is None for s in outcome.run.snapshots)
    assert items_with_evidence(outcome.run)[0] > items_with_evidence(run_demo(None, with_service=False))[0]
    assert all(_gone(pid) for pid in outcome.pids) and list(private_tmp.iterdir()) == []
