"""Fixtures for the redis tests: the shared server's db 2 and our own throw-away redis-servers.

Conditions that need server-wide settings (noeviction, a tiny maxmemory, a password, a low
maxclients, a zero slowlog threshold) run on a private ``redis-server`` started on a free
port, never by reconfiguring the shared one.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from tests.support.pg_cluster import free_port

SHARED_URL = "redis://127.0.0.1:6379/2"


class OwnRedis:
    """A private redis-server process (no persistence) on a free loopback port."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="scaleready-redis-")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.password = next((args[i + 1] for i, a in enumerate(args) if a == "--requirepass"), None)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, **kwargs: object) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, decode_responses=True,
                           socket_timeout=5, **kwargs)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_redis() -> Iterator[Callable[..., OwnRedis]]:
    """Factory: ``own_redis("--maxmemory-policy", "noeviction")``; every server is stopped afterwards."""
    started: list[OwnRedis] = []

    def start(*args: str) -> OwnRedis:
        server = OwnRedis(*args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def shared_db() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(SHARED_URL, decode_responses=True)
    yield client
    client.close()
