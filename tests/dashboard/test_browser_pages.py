"""Every page in Debian's Chromium: screenshots kept under shots/, no traceback, no request leaving
the machine (icons included), no deprecation warning from Streamlit in the server's log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from scaleready.demo import run_demo
from scaleready.demo_stack import stop_process
from scaleready.store import Store
from tests.dashboard.conftest import free_port, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = [("Scorecard", "Readiness scorecard"), ("Finding detail", "Finding detail"),
         ("History & trends", "History and trends"), ("Roadmap & checklist", "Roadmap and checklist"),
         ("Run checks", "Run checks"), ("Targets", "Targets"), ("Runs & reports", "Runs and reports")]


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[str, Store, object]]:
    """A dashboard on a free port over a store holding a demo run with the live reference service."""
    url_db = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url_db)
    run_demo(store, with_service=False)
    run_demo(store)
    log_path = tmp_path / "dashboard.log"
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from scaleready.cli import main; main()", "dashboard", "--port", str(port)],
            env={**os.environ, "SCALEREADY_DATABASE_URL": url_db}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, log_path.read_text()
        time.sleep(0.3)
    try:
        yield url, store, log_path
    finally:
        stop_process(proc)


def test_every_page_in_the_browser(served, page, tmp_path):
    url, _store, log_path = served
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url)
            if urlsplit(r.url).hostname not in ("127.0.0.1", "localhost", None) and
            not r.url.startswith(("data:", "blob:")) else None)
    page.goto(url)
    page.get_by_text("Readiness scorecard").wait_for(timeout=60_000)
    for link, title in PAGES:
        page.get_by_role("link", name=link).click()
        page.get_by_role("heading", name=title, exact=True).wait_for(timeout=60_000)
        page.wait_for_timeout(2500)  # plotly and data grids draw after the script run
        shot(page, f"page-{link.lower().replace(' & ', '-').replace(' ', '-')}")
        body = page.inner_text("body")
        assert "Traceback" not in body and "Exception" not in body, (link, body[:1500])
    assert not outside, f"requests left the machine: {outside[:5]}"
    log = log_path.read_text(errors="replace")
    assert "deprecat" not in log.lower(), [line for line in log.splitlines() if "deprecat" in line.lower()][:5]


def test_run_checks_in_the_browser(served, page, tmp_path):
    url, store, _ = served
    repo = tmp_path / "repo"
    repo.mkdir()
    config = tmp_path / "scaleready.yaml"
    config.write_text(f"targets:\n  - {{name: repo, kind: gitops, path: '{repo}'}}\n"
                      f"  - {{name: gone, kind: redis, url: 'redis://127.0.0.1:{free_port()}/0', timeout: 5}}\n")
    before = len(store.runs())
    page.goto(f"{url}/run")  # a deep link on a fresh server: the app's navigation, not pages/ on its own
    page.get_by_role("heading", name="Run checks", exact=True).wait_for(timeout=60_000)
    assert page.get_by_text("Page not found").count() == 0
    assert page.get_by_role("link", name="Scorecard").count() == 1
    page.get_by_label("Path of the config file").fill(str(config))
    page.get_by_label("Path of the config file").press("Enter")
    page.get_by_role("button", name="Run the checks").click()
    page.get_by_text("stored: score").wait_for(timeout=90_000)
    page.get_by_text("gone (redis) could not be collected").wait_for(timeout=30_000)  # drawn just after
    page.wait_for_timeout(1000)
    shot(page, "run-checks-done")
    body = page.inner_text("body")
    assert "gone (redis) could not be collected" in body and "Traceback" not in body
    assert len(store.runs()) == before + 1
