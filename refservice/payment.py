"""The payment dependency: a configurable fake, and the client the checkout calls through the breaker.

The fake's failure rate and latency can be changed at run time (``PUT /admin/payment``) to make
the dependency misbehave on purpose. The fake is also served over HTTP (``POST
/fake/payment/charge``), so a second service instance can use this one as its remote payment
endpoint via ``payment_url``.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any


class PaymentError(Exception):
    """The payment dependency failed (error answer, timeout or refused connection)."""


class FakePayment:
    def __init__(self, failure_rate: float = 0.0, latency_ms: float = 0.0, seed: int | None = None) -> None:
        self.failure_rate = failure_rate
        self.latency_ms = latency_ms
        self.calls = 0
        self._rng = random.Random(seed)

    def configure(self, failure_rate: float | None = None, latency_ms: float | None = None) -> None:
        if failure_rate is not None:
            self.failure_rate = float(failure_rate)
        if latency_ms is not None:
            self.latency_ms = float(latency_ms)

    async def charge(self, amount_cents: int, reference: str) -> dict[str, Any]:
        self.calls += 1
        if self.latency_ms > 0:
            await asyncio.sleep(self.latency_ms / 1000.0)
        if self.failure_rate > 0 and self._rng.random() < self.failure_rate:
            raise PaymentError("payment provider answered 502")
        return {"status": "captured", "amount_cents": amount_cents, "reference": reference}


class PaymentClient:
    """Calls the in-process fake, or a remote endpoint over HTTP when ``url`` is set."""

    def __init__(self, fake: FakePayment, url: str | None, timeout_s: float) -> None:
        self.fake = fake
        self.url = url
        self.timeout_s = timeout_s
        self._http: Any = None

    async def charge(self, amount_cents: int, reference: str) -> dict[str, Any]:
        if self.url is None:
            try:
                return await asyncio.wait_for(self.fake.charge(amount_cents, reference), self.timeout_s)
            except TimeoutError as exc:
                raise PaymentError("payment provider timed out") from exc
        import httpx

        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout_s)
        try:
            resp = await self._http.post(self.url, json={"amount_cents": amount_cents, "reference": reference})
        except httpx.HTTPError as exc:
            raise PaymentError(f"payment provider unreachable: {type(exc).__name__}") from exc
        if resp.status_code >= 500:
            raise PaymentError(f"payment provider answered {resp.status_code}")
        if resp.status_code >= 400:
            raise ValueError(f"payment refused: {resp.status_code}")
        return dict(resp.json())

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
