"""A real dashboard process on a free port with a private store, and Debian's Chromium driving it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scaleready.demo_stack import stop_process

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic"]
SHOTS = Path(__file__).resolve().parents[2] / "shots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """The private SQLite store the dashboard under test reads."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def dashboard_url(store_url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SCALEREADY_DATABASE_URL": store_url}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from scaleready.cli import main; main()", "dashboard", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("dashboard did not start: " + (proc.stdout.read().decode() if proc.stdout else ""))
    try:
        yield url
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while it
    is open, which would break every later test that calls asyncio.run()."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


def shot(page, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
