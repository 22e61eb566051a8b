"""Ticking an item in the browser lands in the store with who/why; runs export and compare."""

from __future__ import annotations

import pytest

from scaleready.demo import run_demo
from scaleready.store import Store
from tests.dashboard.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def nav(page, url: str, title: str) -> None:
    page.goto(url)
    page.get_by_role("link", name=title).click()


def test_tick_an_item_from_the_roadmap_page(dashboard_url, store_url, page):
    store = Store(store_url)
    run_demo(store, with_service=False)
    nav(page, dashboard_url, "Roadmap & checklist")
    page.get_by_text("Tick an item").wait_for(timeout=60_000)
    page.get_by_label("Who").fill("ana")
    page.get_by_label("Why (evidence, ticket, link)").fill("pentest report PT-7")
    page.get_by_role("button", name="Save tick").click()
    page.wait_for_timeout(2500)
    shot(page, "roadmap")
    states = store.item_states("scaling-guide")
    (state,) = states.values()
    assert (state.state, state.actor, state.note) == ("done", "ana", "pentest report PT-7")
    assert any(e.action == "item.state" and e.actor == "ana" for e in store.audit_log())
    assert "Traceback" not in page.inner_text("body")


def test_runs_page_exports_and_compares(dashboard_url, store_url, page):
    store = Store(store_url)
    run_demo(store, with_service=False)
    run_demo(store, with_service=False)
    nav(page, dashboard_url, "Runs & reports")
    page.get_by_text("Export an audit report").wait_for(timeout=60_000)
    page.get_by_text("Compare two runs").wait_for()
    page.get_by_role("button", name="Prepare the report").click()  # HTML is the default format
    with page.expect_download() as download:
        page.get_by_role("button", name="Download HTML").click()
    path = download.value.path()
    html = path.read_text(encoding="utf-8")
    assert "<html" in html.lower() and "scaleready" in html.lower()
    page.wait_for_timeout(1000)
    shot(page, "runs")
    body = page.inner_text("body")
    assert "Regressions" in body and "Traceback" not in body
