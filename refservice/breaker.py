"""A circuit breaker with gobreaker's semantics and the guide's settings (4.1).

Closed: calls pass; the breaker trips to open when ``consecutive_failures > threshold`` (the
guide's ``ReadyToTrip``). Open: calls fail fast for ``open_s`` seconds (``Timeout``). Half-open:
at most ``max_requests`` trial calls are let through (``MaxRequests``); that many consecutive
successes close it, any failure opens it again. The clock is injectable so tests can move time
instead of sleeping 30 seconds.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"


class BreakerOpen(Exception):
    """The breaker refused the call (open, or half-open with all trial slots taken)."""

    def __init__(self, name: str, state: str, retry_after: float) -> None:
        super().__init__(f"circuit {name} is {state}")
        self.state = state
        self.retry_after = retry_after


class CircuitBreaker:
    """Counts outcomes of calls to one dependency and decides whether to let the next one through."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        open_s: float = 30.0,
        max_requests: int = 5,
        clock: Callable[[], float] = time.monotonic,
        on_state_change: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.open_s = open_s
        self.max_requests = max_requests
        self.clock = clock
        self.on_state_change = on_state_change
        self._state = CLOSED
        self._opened_at = 0.0
        self.consecutive_failures = 0
        self.consecutive_successes = 0
        self._in_flight_trials = 0
        self._trials_started = 0

    @property
    def state(self) -> str:
        """Current state, moving open → half-open when the open period has passed."""
        if self._state == OPEN and self.clock() - self._opened_at >= self.open_s:
            self._set(HALF_OPEN)
        return self._state

    def _set(self, new: str) -> None:
        old, self._state = self._state, new
        self.consecutive_failures = 0
        self.consecutive_successes = 0
        self._trials_started = 0
        if new == OPEN:
            self._opened_at = self.clock()
        if old != new and self.on_state_change is not None:
            self.on_state_change(self.name, old, new)

    def before_call(self) -> None:
        """Admit one call or raise `BreakerOpen`."""
        state = self.state
        if state == OPEN:
            remaining = max(0.0, self.open_s - (self.clock() - self._opened_at))
            raise BreakerOpen(self.name, OPEN, remaining)
        if state == HALF_OPEN:
            if self._trials_started >= self.max_requests:
                raise BreakerOpen(self.name, HALF_OPEN, 1.0)
            self._trials_started += 1

    def on_success(self) -> None:
        self.consecutive_failures = 0
        self.consecutive_successes += 1
        if self._state == HALF_OPEN and self.consecutive_successes >= self.max_requests:
            self._set(CLOSED)

    def on_failure(self) -> None:
        self.consecutive_successes = 0
        self.consecutive_failures += 1
        if self._state == HALF_OPEN or (self._state == CLOSED and self.consecutive_failures > self.failure_threshold):
            self._set(OPEN)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn`` under the breaker; its exceptions count as failures and propagate."""
        self.before_call()
        try:
            result = await fn()
        except Exception:
            self.on_failure()
            raise
        self.on_success()
        return result
