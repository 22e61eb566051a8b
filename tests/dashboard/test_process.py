"""`scaleready dashboard` is the server process itself: stopping it stops the dashboard."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from scaleready.demo_stack import stop_process
from tests.dashboard.conftest import free_port

pytestmark = pytest.mark.slow


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_terminating_the_dashboard_command_stops_the_server(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SCALEREADY_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    proc = subprocess.Popen([sys.executable, "-c", "from scaleready.cli import main; main()", "dashboard",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            assert proc.poll() is None and time.monotonic() < deadline, "dashboard did not start"
            time.sleep(0.3)
    finally:
        stop_process(proc)
    deadline = time.monotonic() + 10
    while _healthy(url) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not _healthy(url), "the Streamlit server outlived the scaleready dashboard process"
