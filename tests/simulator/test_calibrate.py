"""Calibration from a running reference service (its own process, real HTTP, real load)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from scaleready.demo_stack import stop_process
from simulator.calibrate import Calibration, realisations, refservice_scenario
from simulator.commands import _calibrated
from simulator.commands import calibrate as calibrate_cmd
from simulator.commands import simulate as simulate_cmd

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "data" / "simulator" / "100k-users.yaml"
CLI = [sys.executable, "-c", "from scaleready.cli import main; main()"]
KEYS, RATE, SECONDS = 300, 150.0, 8.0  # 1,200 requests: enough for a P99 that one stall does not decide


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    """The embedded reference service in its own process, so its CPU counter is its own."""
    port = _free_port()
    proc = subprocess.Popen([*CLI, "refservice", "--port", str(port), "--seed", str(KEYS), "--no-rate-limit",
                             "--no-access-log"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else "service exited"
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "reference service not ready in 120 s"
            time.sleep(0.3)
        yield url
    finally:
        stop_process(proc)


def test_calibrate_measures_the_service_and_simulate_uses_it(service: str, tmp_path: Path) -> None:
    out = tmp_path / "calibration.yaml"
    res = CliRunner().invoke(calibrate_cmd, [service, "--rate", str(RATE), "--duration", str(SECONDS),
                                             "--keys", str(KEYS), "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = yaml.safe_load(out.read_text())
    c = doc["calibration"]
    # the L1 fast path (a hot key) costs the service less CPU than a request that goes further
    assert 0 < c["app_hit_cpu_ms"] < c["app_cpu_ms"]
    assert c["statements_per_write"] >= 1.0  # every PUT ran at least its UPDATE on the primary
    assert 0 < c["cal_p50_ms"] <= c["cal_p99_ms"]
    assert 0.1 <= c["app_cpu_cv"] <= 3.0 and c["app_rtt_ms"] >= 0
    # the fitted model's P99 on the traces it was fitted on (calibrate_service fits on seed 99 and the
    # two realisations after it) is the one the calibration states, and either reproduces the run's
    # tail within 1.5x or the calibration says it does not (a stall in the 1,200 measured requests
    # that even the widest spread, cv 3, cannot explain; the CLI then warns). Other seeds are not
    # asked to agree: with a wide fitted spread the P99 of 1,200 simulated requests moves 2x.
    cal = Calibration(**c)
    sc = refservice_scenario(cal, rate=RATE, duration_s=SECONDS, keys=KEYS, write_ratio=0.02, seed=99)
    runs = realisations(sc, 3)
    p99 = sum(r.latency_ms.p99 for r in runs) / 3  # the scenario adds the fitted client overhead itself
    assert p99 == pytest.approx(c["fit_p99_ms"], rel=0.02)
    reproduces = 1 / 1.5 <= p99 / c["cal_p99_ms"] <= 1.5
    assert cal.fit_reproduces == reproduces
    assert reproduces or (c["app_cpu_cv"] == 3.0 and "warning: the fitted model gives P99" in res.output), (p99, c)
    # simulate --calibration lays the measured service times over any scenario
    sc = _calibrated(SCENARIO, out)
    assert sc.app.service.mean_ms == pytest.approx(c["app_cpu_ms"])
    assert sc.app.hit_service is not None and sc.app.hit_service.mean_ms == pytest.approx(c["app_hit_cpu_ms"])
    assert sc.db.queries_per_write == pytest.approx(c["statements_per_write"])
    assert sc.data_types == _calibrated(SCENARIO, None).data_types  # the workload is the scenario's own
    res = CliRunner().invoke(simulate_cmd, [str(SCENARIO), "--engine", "analytic", "--calibration", str(out)])
    assert res.exit_code == 0, res.output


def test_calibrate_against_nothing_is_one_line_error() -> None:
    res = subprocess.run([*CLI, "calibrate", f"http://127.0.0.1:{_free_port()}", "--duration", "1"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 1
    assert res.stderr.startswith("error: calibration against") and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_simulate_refuses_a_file_that_is_not_a_calibration(tmp_path: Path) -> None:
    bogus = tmp_path / "cal.yaml"
    bogus.write_text("app: {rtt_ms: 1}\n")
    res = CliRunner().invoke(simulate_cmd, [str(SCENARIO), "--calibration", str(bogus)])
    assert res.exit_code == 1
    assert "not a calibration file" in res.output


def test_a_fit_that_cannot_reproduce_its_run_says_so() -> None:
    base = Calibration(rate=100, app_hit_cpu_ms=1, app_cpu_ms=2, statements_per_write=1, cal_p50_ms=3)
    assert Calibration(**{**base.__dict__, "cal_p99_ms": 100, "fit_p99_ms": 80}).fit_reproduces
    assert not Calibration(**{**base.__dict__, "cal_p99_ms": 100, "fit_p99_ms": 40}).fit_reproduces  # a stall
    assert not Calibration(**{**base.__dict__, "cal_p99_ms": 100}).fit_reproduces  # never fitted: no claim
