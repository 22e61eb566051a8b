"""Schemathesis over the reference service's own OpenAPI document: no unexpected 5xx.

The schema is the app's (``create_app().openapi()``), the requests go to the real service
served by uvicorn on loopback with the same server options the CLI uses, authenticated as
the demo user (admin endpoints answer 403, so no fuzzed switch puts the service into a
degraded mode whose 503 would be expected). Bounded: a fixed number of examples per
operation, no deadline (the machine is shared), rate limit off so 429s do not hide paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.refservice.support import ServerThread, create_app
from tests.refservice.support import settings as service_settings

EXAMPLES_PER_OPERATION = 25
schema = schemathesis.openapi.from_dict(create_app(service_settings(), seed=0).openapi())


@pytest.fixture(scope="module")
def service() -> Iterator[dict[str, Any]]:
    app = create_app(service_settings(rate_limit_enabled=False), seed=20)
    with ServerThread(app) as server:
        token = httpx.post(f"{server.url}/sessions", json={"username": "demo", "password": "demo"}).json()["token"]
        yield {"url": server.url, "headers": {"Authorization": f"Bearer {token}"}, "seen": []}


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_unexpected_server_error(case: Any, service: dict[str, Any]) -> None:
    response = case.call(base_url=service["url"], headers=service["headers"], timeout=10)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} query={case.query} body={case.body!r} -> "
        f"{response.status_code}: {response.text[:300]}"
    )
