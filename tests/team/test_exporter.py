"""`scaleready exporter` scraped by a real Prometheus, and the example alert rules under promtool.

Two real runs (production and staging) go into a PostgreSQL store through the CLI; the
exporter serves that store; Prometheus scrapes it with the example alert rules loaded. What
PromQL returns must equal what the store holds, and the danger alert must be pending for a
failing danger check but not for a waived one.
"""

from __future__ import annotations

import subprocess
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
import yaml

from scaleready.demo_stack import stop_process
from scaleready.exporter import effective_status, worst_status
from scaleready.store import Store
from tests.support.prometheus_server import PrometheusServer, ScrapeJob, binary, free_port
from tests.team.conftest import REPO, cli_env, scaleready, scaleready_background

RULES = REPO / "deploy" / "prometheus" / "scaleready-alerts.yml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "scaleready-alerts.test.yml"


def test_alert_rules_pass_promtool() -> None:
    promtool = binary("promtool")
    checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout
    tested = subprocess.run([promtool, "test", "rules", RULE_TESTS.name], capture_output=True, text=True,
                            cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def _config(folder: Path) -> Path:
    targets = [
        {"name": "cart", "kind": "kubernetes", "environment": "production",
         "manifests": [str(REPO / "data/demo/k8s/cart-service")]},
        {"name": "legacy", "kind": "kubernetes", "environment": "production",
         "manifests": [str(REPO / "data/demo/k8s/legacy-worker")]},
        {"name": "products", "kind": "kubernetes", "environment": "staging",
         "manifests": [str(REPO / "data/demo/k8s/product-service")]},
        {"name": "api", "kind": "http", "url": "http://127.0.0.1:9/", "timeout": 60},
    ]
    path = folder / "scaleready.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "targets": targets}))
    return path


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError(url)


@pytest.mark.postgres
@pytest.mark.prometheus
@pytest.mark.slow
def test_exporter_scraped_by_prometheus_equals_the_store(tmp_path: Path, fresh_pg) -> None:
    url = fresh_pg()
    env = cli_env(url)
    Store(url).add_waiver("kubernetes.chaos", "drills next quarter", "alice@example.com", target="cart")
    config = _config(tmp_path)
    for environment in ("production", "staging"):
        done = scaleready("check", "-c", str(config), "-e", environment, "-f", "json", env=env)
        assert done.returncode in (0, 3), done.stderr

    port = free_port()
    exporter = scaleready_background("exporter", "--port", str(port), "--project", "shop", env=env)
    try:
        _wait_http(f"http://127.0.0.1:{port}/metrics")
        with PrometheusServer([ScrapeJob("scaleready", [f"127.0.0.1:{port}"])], rule_files=[RULES]) as prom:
            prom.wait_for('scaleready_score{job="scaleready"}')
            prom.wait_rules_evaluated()
            store = Store(url)
            latest = {r.environment: store.load_run(r.id) for r in reversed(store.runs())}
            assert set(latest) == {"production", "staging"}
            for environment, run in latest.items():
                sel = f'{{project="shop",environment="{environment}"}}'
                assert float(prom.query(f"scaleready_score{sel}")[0]["value"][1]) == pytest.approx(run.score.overall)
                assert float(prom.query(f"scaleready_coverage_ratio{sel}")[0]["value"][1]) == pytest.approx(
                    run.score.coverage)
                assert float(prom.query(f"scaleready_level{sel}")[0]["value"][1]) == run.score.level
                assert float(prom.query(f"scaleready_run_complete{sel}")[0]["value"][1]) == 1

                statuses: dict[tuple[str, str], list[str]] = defaultdict(list)
                for f in run.findings:
                    statuses[(f.target, f.check)].append(effective_status(f.status, f.waived))
                series = prom.query(f"scaleready_check_status{sel}")
                scraped = {(s["metric"]["target"], s["metric"]["check"]): s["metric"]["status"] for s in series}
                assert scraped == {key: worst_status(v) for key, v in statuses.items()}
                assert {s["metric"]["target"] for s in series} == {f.target for f in run.findings}
                counted = prom.query(f"sum(scaleready_findings{sel})")
                assert float(counted[0]["value"][1]) == len(run.findings)

            assert scraped_status(prom, "production", "cart", "kubernetes.chaos") == "waived"
            assert scraped_status(prom, "production", "legacy", "kubernetes.chaos") == "fail"
            assert scraped_status(prom, "production", "api", "http.health") == "error"  # unknown, never pass
            reached = {s["metric"]["target"]: s["value"][1]
                       for s in prom.query('scaleready_target_collected{environment="production"}')}
            assert reached == {"cart": "1", "legacy": "1", "api": "0"}
            # The danger alert is pending (it waits `for: 15m`) for a failing danger check, not a waived one.
            prom.wait_for('ALERTS{alertname="ScalereadyDangerCheckFailing"}')
            alerts = prom.api("/api/v1/alerts")["alerts"]
            danger = {(a["labels"]["environment"], a["labels"]["target"], a["labels"]["check"])
                      for a in alerts if a["labels"]["alertname"] == "ScalereadyDangerCheckFailing"}
            failing_danger = {(r, f.target, f.check)
                              for r, run in latest.items() for f in run.findings
                              if f.status.value == "fail" and f.severity.value == "danger" and not f.waived}
            assert danger == failing_danger
            assert ("production", "cart", "kubernetes.chaos") not in danger
            assert all(a["state"] == "pending" for a in alerts)  # every example rule waits before firing
    finally:
        stop_process(exporter)


def scraped_status(prom: PrometheusServer, environment: str, target: str, check: str) -> str:
    series = prom.query(f'scaleready_check_status{{environment="{environment}",target="{target}",check="{check}"}}')
    assert len(series) == 1, series
    return series[0]["metric"]["status"]


def test_exporter_follows_a_sharded_run_until_complete_and_reports_an_unreadable_store(tmp_path: Path) -> None:
    """The collector straight on a registry: an incomplete run reads 0, then the late shard flips it
    to 1 with the merged score (an incomplete run is never served from the cache)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from scaleready.config import parse_config
    from scaleready.exporter import ReadinessCollector
    from scaleready.shards import Shard, execute_shard

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReadinessCollector(store, "shop"))

    def samples(name: str) -> list:
        text = generate_latest(registry).decode()
        return [s for fam in text_string_to_metric_families(text) for s in fam.samples if s.name == name]

    def sample(name: str) -> float:
        return samples(name)[0].value

    config = parse_config("version: 1\ntargets:\n" + "".join(
        f"  - name: app-{i}\n    kind: kubernetes\n    manifests: [{REPO / 'data/demo/k8s' / d}]\n"
        for i, d in enumerate(["cart-service", "product-service"])), tmp_path / "scaleready.yaml")
    execute_shard(config, Shard(1, 2), "k1", store)
    assert sample("scaleready_run_complete") == 0
    assert {s.labels["target"] for s in samples("scaleready_findings")} == {"app-0"}
    execute_shard(config, Shard(2, 2), "k1", store)
    assert sample("scaleready_run_complete") == 1
    assert sample("scaleready_score") == pytest.approx(store.load_run("latest").score.overall)
    assert {s.labels["target"] for s in samples("scaleready_findings")} == {"app-0", "app-1"}
    assert sample("scaleready_store_up") == 1

    broken = CollectorRegistry(auto_describe=False)
    unreadable = Store(f"sqlite:///{tmp_path / 'gone.db'}")
    (tmp_path / "gone.db").unlink()
    (tmp_path / "gone.db").mkdir()  # the file is now a folder: every read fails
    unreadable.engine.dispose()
    broken.register(ReadinessCollector(unreadable, "shop"))
    text = generate_latest(broken).decode()
    assert "scaleready_store_up{project=\"shop\"} 0.0" in text and "scaleready_score" not in text
