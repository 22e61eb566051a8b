"""Circuit breaker with the guide's settings: trips after > 5 failures, 30 s open, 5 trials."""

from __future__ import annotations

import asyncio

import pytest

from refservice.breaker import CLOSED, HALF_OPEN, OPEN, BreakerOpen, CircuitBreaker
from tests.refservice.support import FakeClock, asgi_client, create_app, login, metric, settings


async def _ok() -> str:
    return "ok"


async def _fail() -> str:
    raise ConnectionError("down")


def test_breaker_state_machine() -> None:
    clock = FakeClock()
    changes: list[tuple[str, str]] = []
    b = CircuitBreaker("PaymentService", clock=clock, on_state_change=lambda n, a, z: changes.append((a, z)))

    async def go() -> None:
        for _ in range(5):  # five consecutive failures do not trip it: the rule is "more than 5"
            with pytest.raises(ConnectionError):
                await b.call(_fail)
        assert b.state == CLOSED
        await b.call(_ok)  # a success resets the run of failures
        for _ in range(5):
            with pytest.raises(ConnectionError):
                await b.call(_fail)
        assert b.state == CLOSED
        with pytest.raises(ConnectionError):
            await b.call(_fail)  # the sixth consecutive failure
        assert b.state == OPEN
        with pytest.raises(BreakerOpen) as refused:
            await b.call(_ok)
        assert refused.value.retry_after == pytest.approx(30)
        clock.advance(29.9)
        assert b.state == OPEN
        clock.advance(0.1)
        assert b.state == HALF_OPEN
        # half-open: a failure re-opens at once
        with pytest.raises(ConnectionError):
            await b.call(_fail)
        assert b.state == OPEN
        clock.advance(30)
        assert b.state == HALF_OPEN
        for _ in range(4):
            await b.call(_ok)
        assert b.state == HALF_OPEN  # needs 5 successful trials
        await b.call(_ok)
        assert b.state == CLOSED

    asyncio.run(go())
    assert changes == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN), (OPEN, HALF_OPEN),
                       (HALF_OPEN, CLOSED)]


def test_half_open_admits_at_most_five_concurrent_trials() -> None:
    clock = FakeClock()
    b = CircuitBreaker("p", clock=clock)

    async def go() -> None:
        for _ in range(6):
            with pytest.raises(ConnectionError):
                await b.call(_fail)
        clock.advance(30)
        gate = asyncio.Event()

        async def slow() -> str:
            await gate.wait()
            return "ok"

        trials = [asyncio.create_task(b.call(slow)) for _ in range(5)]
        await asyncio.sleep(0)
        with pytest.raises(BreakerOpen):
            await b.call(_ok)  # the sixth concurrent trial is refused
        gate.set()
        assert await asyncio.gather(*trials) == ["ok"] * 5
        assert b.state == CLOSED

    asyncio.run(go())


def test_checkout_trips_and_recovers_through_the_api(backend) -> None:
    clock = FakeClock()
    app = create_app(settings(payment_failure_rate=1.0, **backend), clock=clock, seed=5)
    svc = app.state.service

    async def go() -> None:
        async with asgi_client(app) as c:
            headers = await login(c)
            codes = [(await c.post("/checkout", json={"product_id": 1}, headers=headers)).status_code
                     for _ in range(8)]
            assert codes == [502] * 6 + [503] * 2
            calls_when_open = svc.fake_payment.calls
            r = await c.post("/checkout", json={"product_id": 1}, headers=headers)
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"].endswith("/circuit-open") and int(r.headers["retry-after"]) == 30
            assert svc.fake_payment.calls == calls_when_open  # open: the dependency is not called
            text = (await c.get("/metrics")).text
            assert metric(text, "circuit_breaker_state", name="PaymentService") == 2
            assert metric(text, "circuit_breaker_state_changes_total", name="PaymentService",
                          from_state="closed", to_state="open") == 1
            # the dependency heals; after 30 s five trials close the breaker again
            r = await c.put("/admin/payment", json={"failure_rate": 0.0}, headers=headers)
            assert r.status_code == 200
            clock.advance(30)
            codes = [(await c.post("/checkout", json={"product_id": 1}, headers=headers)).status_code
                     for _ in range(6)]
            assert codes == [201] * 6
            text = (await c.get("/metrics")).text
            assert metric(text, "circuit_breaker_state", name="PaymentService") == 0
            assert metric(text, "circuit_breaker_state_changes_total", name="PaymentService",
                          from_state="half_open", to_state="closed") == 1

    asyncio.run(go())
