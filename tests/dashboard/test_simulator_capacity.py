"""The capacity section of the simulator page: a P99 target in, the crossing rate and its interval out."""

from __future__ import annotations

import re

import pytest

from tests.dashboard.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_simulator_page_answers_capacity(dashboard_url, page):
    page.goto(dashboard_url)
    page.get_by_role("link", name="What-if simulator").click()
    page.get_by_text("L2 hit ratio").wait_for(timeout=120_000)
    page.get_by_role("button", name="Find the capacity").click()
    page.get_by_text("Users at capacity").wait_for(timeout=180_000)
    page.wait_for_timeout(1000)
    shot(page, "simulator-capacity")
    body = page.inner_text("body")
    assert "Traceback" not in body
    rate = re.search(r"Capacity\s+([\d,]+) req/s", body)
    interval = re.search(r"Interval in requests/s: ([\d,]+) – ([\d,]+)", body)
    assert rate and interval, body[-1500:]
    low, mid, high = (int(x.replace(",", "")) for x in (interval[1], rate[1], interval[2]))
    assert 0 < low <= mid <= high
    assert "Known error" in body  # the answer carries the validation's known error


def _enter(page, label: str, value: str) -> None:
    box = page.get_by_role("spinbutton", name=label)
    box.fill(value)
    box.press("Enter")  # a number input reaches the script on Enter or blur
    page.wait_for_timeout(500)


def test_garbage_collection_pauses_go_into_the_capacity_answer(dashboard_url, page):
    """The workers' full collections are an input of the capacity answer; a pause without a pace is refused
    with the reason, not a traceback."""
    page.goto(dashboard_url)
    page.get_by_role("link", name="What-if simulator").click()
    page.get_by_text("L2 hit ratio").wait_for(timeout=120_000)
    _enter(page, "Full GC pause (ms)", "40")
    page.get_by_role("button", name="Find the capacity").click()
    page.get_by_text("needs app.gc_every_requests").wait_for(timeout=60_000)
    _enter(page, "Requests per worker between full GCs", "5000")
    page.get_by_role("button", name="Find the capacity").click()
    page.get_by_text("Users at capacity").wait_for(timeout=180_000)
    page.get_by_text("Known error").scroll_into_view_if_needed()
    shot(page, "simulator-capacity-gc")
    body = page.inner_text("body")
    assert "Traceback" not in body and "needs app.gc_every_requests" not in body
    assert re.search(r"Capacity\s+([\d,]+) req/s", body)
