"""Selecting a finding in the scorecard's table opens its detail (in the browser, as a user does)."""

from __future__ import annotations

import pytest

from scaleready.demo import run_demo
from scaleready.store import Store
from tests.dashboard.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_selecting_a_row_opens_the_finding_detail(dashboard_url, store_url, page):
    run = run_demo(Store(store_url), with_service=False)
    first = sorted((f for f in run.findings if f.status.value == "fail"),
                   key=lambda f: ({"danger": 0, "warning": 1, "info": 2}[f.severity.value], f.check))[0]
    page.goto(dashboard_url)
    page.get_by_text("Findings", exact=True).wait_for(timeout=60_000)
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 18)  # the selection column of the first data row
    page.get_by_role("heading", name="Finding detail", exact=True).wait_for(timeout=60_000)
    page.get_by_text(first.message).first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    shot(page, "finding-from-scorecard")
    assert "Traceback" not in page.inner_text("body")
    page.get_by_role("link", name="Scorecard").click()  # back: the old selection must not bounce us again
    page.get_by_role("heading", name="Readiness scorecard", exact=True).wait_for(timeout=60_000)
    page.wait_for_timeout(3000)
    assert page.get_by_role("heading", name="Readiness scorecard", exact=True).count() == 1
