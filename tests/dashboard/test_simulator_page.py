"""The simulator page as a user sees it: the bundled 100K-user scenario, then a sweep."""

from __future__ import annotations

import pytest

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
