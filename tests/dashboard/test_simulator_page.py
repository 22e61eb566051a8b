"""The simulator page as a user sees it: the bundled 100K-user scenario, a sweep, a calibration."""

from __future__ import annotations

import pytest
import yaml

from simulator.calibrate import Calibration
from tests.dashboard.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_simulator_page_predicts_and_recommends(dashboard_url, page):
    page.goto(dashboard_url)
    page.get_by_role("link", name="What-if simulator").click()
    page.get_by_text("L2 hit ratio").wait_for(timeout=120_000)
    body = page.inner_text("body")
    assert "Meets the guide's targets." in body or "Misses:" in body
    page.get_by_text("Reads served by tier").wait_for(timeout=30_000)  # plotly draws after the metrics
    page.get_by_role("button", name="Run the sweep").click()
    page.get_by_text("Recommended:").wait_for(timeout=180_000)
    page.wait_for_timeout(1500)
    shot(page, "simulator")
    assert "Traceback" not in page.inner_text("body")


def test_simulator_page_lays_a_calibration_over_the_scenario(dashboard_url, page, tmp_path):
    cal = Calibration(rate=200.0, app_hit_cpu_ms=0.37, app_cpu_ms=1.17, statements_per_write=2.0,
                      redis_rtt_ms=0.09, pg_read_ms=0.13, app_rtt_ms=0.3, app_cpu_cv=0.6)
    good = tmp_path / "cal.yaml"
    good.write_text(yaml.safe_dump(cal.to_dict()))
    page.goto(dashboard_url)
    page.get_by_role("link", name="What-if simulator").click()
    page.get_by_text("L2 hit ratio").wait_for(timeout=120_000)
    page.get_by_text("Service times measured on the reference service").click()
    page.locator("input[type=file]").set_input_files(str(good))
    page.get_by_text("Calibrated service times: app CPU 1.17 ms per request").wait_for(timeout=60_000)
    page.get_by_text("L2 hit ratio").wait_for(timeout=120_000)
    page.wait_for_timeout(1000)
    shot(page, "simulator-calibrated")
    assert "Traceback" not in page.inner_text("body")

    bogus = tmp_path / "bogus.yaml"
    bogus.write_text("app: {rtt_ms: 1}\n")
    page.locator("input[type=file]").set_input_files(str(bogus))
    page.get_by_text("This calibration cannot be used: not a calibration file").wait_for(timeout=60_000)
    assert "Traceback" not in page.inner_text("body")


def test_simulator_page_refuses_a_hostile_upload_in_one_line(dashboard_url, page, tmp_path):
    """An uploaded alias bomb is refused by the guarded loader: one line, no hang, no traceback."""
    from tests.hardening.test_hostile_files import BILLION_LAUGHS

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BILLION_LAUGHS)
    page.goto(dashboard_url)
    page.get_by_role("link", name="What-if simulator").click()
    page.get_by_text("L2 hit ratio").wait_for(timeout=120_000)
    page.get_by_role("radiogroup").get_by_text("upload", exact=True).click()
    page.get_by_text("Scenario YAML or JSON").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)  # let the rerun settle before the file input is used
    page.locator("input[type=file]").first.set_input_files(str(bomb))
    try:
        page.get_by_text("This scenario cannot be used: bomb.yaml:").wait_for(timeout=60_000)
    finally:
        shot(page, "simulator-hostile-upload")
    assert "expands to more than" in page.inner_text("body")
    page.wait_for_timeout(500)
    shot(page, "simulator-hostile-upload")
    assert "Traceback" not in page.inner_text("body")
