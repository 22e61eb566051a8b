"""`scaleready check --push` into a real Prometheus Pushgateway (Debian's prometheus-pushgateway).

The gauges the gateway then serves must equal the stored run; a second run replaces the group
rather than adding to it; an unreachable gateway is one error line and exit 1, with the run
stored all the same. A missing binary fails loudly (scripts/test installs it).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from scaleready.demo_stack import stop_process
from scaleready.store import Store
from tests.support.prometheus_server import free_port
from tests.team.conftest import REPO, cli_env, scaleready

pytestmark = pytest.mark.prometheus


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    exe = shutil.which("prometheus-pushgateway")
    if exe is None:
        raise RuntimeError("prometheus-pushgateway is not installed (scripts/test installs it)")
    port = free_port()
    proc = subprocess.Popen([exe, f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the Pushgateway did not start")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(proc)


def gateway_samples(url: str, name: str) -> list:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return [s for fam in text_string_to_metric_families(text) for s in fam.samples if s.name == name]


def test_check_pushes_the_stored_runs_gauges(tmp_path: Path, pushgateway: str) -> None:
    config = tmp_path / "scaleready.yaml"
    config.write_text(yaml.safe_dump({"version": 1, "targets": [
        {"name": "cart", "kind": "kubernetes", "environment": "production",
         "manifests": [str(REPO / "data/demo/k8s/cart-service")]},
        {"name": "api", "kind": "http", "environment": "production", "url": "http://127.0.0.1:9/", "timeout": 60}]}))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    env = cli_env(url, SCALEREADY_PROJECT="shop")
    done = scaleready("check", "-c", str(config), "-e", "production", "-f", "json", "--push", pushgateway, env=env)
    assert done.returncode == 3, done.stderr  # the verdict is unchanged by pushing
    assert "pushed readiness gauges" in done.stderr
    run = Store(url).load_run("latest")

    [score] = gateway_samples(pushgateway, "scaleready_score")
    assert score.labels == {"job": "scaleready", "project": "shop", "environment": "production", "instance": ""}
    assert score.value == pytest.approx(run.score.overall)
    assert gateway_samples(pushgateway, "scaleready_coverage_ratio")[0].value == pytest.approx(run.score.coverage)
    checks = {(s.labels["target"], s.labels["check"]) for s in gateway_samples(pushgateway, "scaleready_check_status")}
    assert checks == {(f.target, f.check) for f in run.findings}
    collected = {s.labels["target"]: s.value for s in gateway_samples(pushgateway, "scaleready_target_collected")}
    assert collected == {"cart": 1.0, "api": 0.0}

    # The next run replaces the group: the gone target's series go with it.
    config.write_text(yaml.safe_dump({"version": 1, "targets": [
        {"name": "cart", "kind": "kubernetes", "environment": "production",
         "manifests": [str(REPO / "data/demo/k8s/cart-service")]}]}))
    again = scaleready("check", "-c", str(config), "-e", "production", "--push", pushgateway, env=env)
    assert again.returncode == 3, again.stderr
    assert {s.labels["target"] for s in gateway_samples(pushgateway, "scaleready_check_status")} == {"cart"}


def test_unreachable_pushgateway_is_one_line_and_exit_1(tmp_path: Path) -> None:
    config = tmp_path / "scaleready.yaml"
    config.write_text(yaml.safe_dump({"version": 1, "targets": [
        {"name": "base", "kind": "kubernetes", "manifests": [str(REPO / "data/demo/k8s/base")]}]}))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    done = scaleready("check", "-c", str(config), "-f", "json", "--push", "http://127.0.0.1:9",
                      env=cli_env(url))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: push to http://127.0.0.1:9 failed")
    assert "Traceback" not in done.stderr
    assert len(Store(url).runs()) == 1  # stored before the push was tried
