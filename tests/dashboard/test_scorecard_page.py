"""The first dashboard page as a user sees it: empty store → demo run → scorecard."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_first_start_runs_the_demo_and_shows_the_scorecard(dashboard_url, page):
    page.goto(dashboard_url)
    page.get_by_text("No runs yet").wait_for(timeout=60_000)
    shot(page, "scorecard-empty")
    page.get_by_role("button", name="Run the demo checks").click()
    page.get_by_text("Readiness level").wait_for(timeout=90_000)
    page.get_by_text("Findings", exact=True).wait_for()
    page.wait_for_timeout(1500)  # let the plotly charts draw before the screenshot
    shot(page, "scorecard")
    body = page.inner_text("body")
    assert "Traceback" not in body and "Error" not in body.split("Findings")[0]
    assert "Overall score" in page.content()
    assert "Phase 1" in body
