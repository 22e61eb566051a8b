"""The simulator page as a user sees it: every bundled scenario, readable figures, a sweep with
progress that finds the 500k configuration, a calibration; AppTest in-process and Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from simulator.calibrate import Calibration
from tests.dashboard.conftest import shot

PAGE = Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "simulator.py"
RAW_FLOAT = re.compile(r"\d\.\d{5,}")  # a number printed with all its digits
BUNDLED = ["100k-users.yaml", "500k-users-small-redis.yaml", "startup-no-cache.json"]


def _page() -> None:
    """Run the page file as the app's navigation does (AppTest.from_file would import it as the
    module ``simulator`` and shadow the simulator package)."""
    import runpy

    from tests.dashboard.test_simulator_page import PAGE

    runpy.run_path(str(PAGE), run_name="__page__")


def _app() -> AppTest:
    at = AppTest.from_function(_page, default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _shown(at: AppTest) -> str:
    parts = [f"{m.label} {m.value}" for m in at.metric]
    parts += [e.value for e in (*at.error, *at.success, *at.warning, *at.caption)]
    return "\n".join(parts)


def test_every_bundled_scenario_is_offered_and_reads_as_a_person_reads():
    at = _app()
    assert at.selectbox[0].options == BUNDLED
    for name in BUNDLED:
        at.selectbox[0].select(name).run()
        assert not at.exception, (name, [e.value for e in at.exception])
        shown = _shown(at)
        assert not RAW_FLOAT.search(shown), (name, shown)
        assert "inf" not in shown.lower().replace("info", "")
        assert {m.label for m in at.metric} >= {"Cache hit ratio", "P99 latency", "Stale reads"}


def test_an_overloaded_database_says_offered_load_not_cpu():
    at = _app()
    at.selectbox[0].select("500k-users-small-redis.yaml").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["DB offered load"] == "554 %" and "Max DB CPU" not in metrics
    assert metrics["P99 latency"] == "unbounded"
    assert "overloaded, the queue grows without bound" in at.error[0].value


def test_the_sweep_varies_redis_memory_shows_progress_and_recommends():
    at = _app()
    at.selectbox[0].select("500k-users-small-redis.yaml").run()
    assert "l2.memory_bytes" in at.multiselect[0].value
    memory = next(t for t in at.text_input if t.label == "l2.memory_bytes values")
    assert memory.value == "500 MB, 1.1 GB, 2.3 GB, 4.5 GB"
    run = next(b for b in at.button if b.label.startswith("Run the sweep"))
    assert run.label == "Run the sweep (48 configurations)"
    run.click().run()
    assert not at.exception, [e.value for e in at.exception]
    recommended = at.success[-1].value
    assert recommended.startswith("Recommended: l2.memory_bytes = 4.5 GB"), recommended
    table = at.dataframe[-1].value
    assert len(table) == 48 and table.iloc[0]["meets targets"] == "yes"
    assert not RAW_FLOAT.search(table.to_string())
    # another knob, typed with units: the grid follows what the user typed
    at.multiselect[0].set_value(["l2.memory_bytes", "db.read.mean_ms"]).run()
    next(t for t in at.text_input if t.label == "l2.memory_bytes values").set_value("4.5 GB").run()
    next(t for t in at.text_input if t.label == "db.read.mean_ms values").set_value("4, 40").run()
    next(b for b in at.button if b.label.startswith("Run the sweep")).click().run()
    assert not at.exception
    assert len(at.dataframe[-1].value) == 2


@pytest.mark.browser
@pytest.mark.slow
def test_simulator_page_predicts_and_recommends(dashboard_url, page):
    page.set_viewport_size({"width": 1400, "height": 3600})  # the app scrolls inside: show it all
    page.goto(dashboard_url)
    page.get_by_role("link", name="What-if simulator").click()
    page.get_by_text("L2 hit ratio").wait_for(timeout=120_000)
    body = page.inner_text("body")
    assert "Meets the guide's targets." in body or "Misses the guide's targets" in body
    page.get_by_text("Reads served by tier").first.wait_for(timeout=30_000)  # plotly draws after the metrics
    shot(page, "simulator")
    page.get_by_role("button", name=re.compile("Run the sweep")).click()
    page.get_by_text("Recommended:").wait_for(timeout=180_000)
    page.wait_for_timeout(1500)
    shot(page, "simulator-sweep")
    assert "Traceback" not in page.inner_text("body")


@pytest.mark.browser
@pytest.mark.slow
def test_simulator_page_overloaded_scenario(dashboard_url, page):
    page.set_viewport_size({"width": 1400, "height": 3600})
    page.goto(dashboard_url)
    page.get_by_role("link", name="What-if simulator").click()
    page.get_by_text("L2 hit ratio").wait_for(timeout=120_000)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="500k-users-small-redis.yaml").click()
    page.get_by_text("DB offered load").wait_for(timeout=120_000)
    page.get_by_text("Reads served by tier").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    shot(page, "simulator-overloaded")
    body = page.inner_text("body")
    assert "unbounded" in body and "inf ms" not in body
    page.get_by_role("button", name=re.compile("Run the sweep")).click()
    page.get_by_text("Recommended: l2.memory_bytes = 4.5 GB").wait_for(timeout=180_000)
    page.get_by_text("Configurations: cost against P99").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    shot(page, "simulator-500k-sweep")
    assert "Traceback" not in page.inner_text("body")


@pytest.mark.browser
@pytest.mark.slow
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


def test_both_engines_side_by_side_read_as_a_person_reads():
    at = _app()
    at.radio[1].set_value("both")
    next(b for b in at.button if b.label == "Simulate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["engine"]) == ["analytic", "trace"]
    assert not RAW_FLOAT.search(table.to_string())
    # the trace's stale figure is the analytic expectation here, and the page says why
    assert "analytic expectation" in table.iloc[1]["stale reads"]
    assert any("independent episodes" in c.value for c in at.caption)


def test_the_sweep_recommendation_can_be_confirmed_by_the_trace_engine():
    at = _app()
    at.selectbox[0].select("startup-no-cache.json").run()
    at.multiselect[0].set_value(["l1.enabled", "l2.enabled"]).run()
    at.checkbox[0].check().run()
    next(b for b in at.button if b.label.startswith("Run the sweep")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success[-1].value.startswith("Recommended: l1.enabled = off, l2.enabled = on")  # fewer stale reads
    assert any(i.value.startswith("The trace engine confirms it") for i in at.info)


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
