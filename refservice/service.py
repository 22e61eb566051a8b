"""The service's parts wired together, with start/stop for the app's lifespan.

`Service` owns every stateful piece (database nodes and router, cache tiers, broker, publisher
and consumers, breaker, rate limiter, switches). Building it does no I/O; `start()` connects,
creates the schema and launches the background tasks; `stop()` undoes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from refservice.auth import TokenService
from refservice.breaker import CircuitBreaker
from refservice.brokers import make_broker
from refservice.cache import L1Cache, L2Store, MemoryL2, RedisL2, TieredCache
from refservice.db import make_node
from refservice.metrics import Metrics
from refservice.outbox import CONSUMERS, ConsumerRunner, OutboxPublisher
from refservice.payment import FakePayment, PaymentClient
from refservice.ratelimit import RateLimiter
from refservice.repo import Repo
from refservice.routing import Router
from refservice.schema import create_schema, ensure_users, seed_products
from refservice.settings import DEFAULT_ADMIN_PASSWORD, FEATURES, Settings

log = logging.getLogger("refservice")


@dataclass
class Switches:
    """Emergency switches of guide 10, changeable at run time (``PUT /admin/switches``)."""

    read_only: bool = False
    serve_stale: bool = False
    disabled_features: set[str] = field(default_factory=set)


class Service:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        unknown = set(settings.disabled_features) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown feature(s) {sorted(unknown)}; known: {list(FEATURES)}")
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        self._unwatch_gc: Callable[[], None] = lambda: None
        m = self.metrics
        self.primary = make_node(settings.database_url, m, "primary", "primary", settings.db_pool_size)
        replicas = [make_node(url, m, f"replica{i + 1}", "replica", settings.db_pool_size)
                    for i, url in enumerate(settings.replica_urls)]
        self.router = Router(self.primary, replicas, m, max_lag_s=settings.replica_max_lag_s,
                             ryw_window_s=settings.ryw_window_s, clock=clock)
        self.repo = Repo(self.router)
        self.l1 = L1Cache(settings.l1_ttl_s, settings.l1_max_entries, clock) if settings.l1_enabled else None
        self.l2: L2Store = RedisL2(settings.redis_url) if settings.redis_url else MemoryL2(clock)
        self.cache = TieredCache(self.l1, self.l2, m, prefix=settings.key_prefix)
        self.broker = make_broker(settings.broker_kind, redis_url=settings.redis_url,
                                  kafka_bootstrap=settings.kafka_bootstrap, prefix=settings.key_prefix,
                                  claim_idle_s=settings.outbox_claim_idle_s)
        self.publisher = OutboxPublisher(self.primary, self.broker, m, settings.outbox_batch)
        self.consumers = [ConsumerRunner(c, self.primary, self.broker, m) for c in CONSUMERS]
        self.breaker = CircuitBreaker("PaymentService", failure_threshold=settings.breaker_failure_threshold,
                                      open_s=settings.breaker_open_s, max_requests=settings.breaker_max_requests,
                                      clock=clock, on_state_change=self._breaker_changed)
        m.breaker_state.labels("PaymentService").set(0)
        self.fake_payment = FakePayment(settings.payment_failure_rate, settings.payment_latency_ms)
        self.payment = PaymentClient(self.fake_payment, settings.payment_url, settings.payment_timeout_s)
        self.tokens = TokenService(settings)
        limiter_redis = settings.redis_url if settings.rate_limit_storage != "memory" else None
        if settings.rate_limit_storage == "redis" and not settings.redis_url:
            raise ValueError("rate_limit_storage 'redis' needs redis_url")
        self.rate_limiter = (RateLimiter(settings.rate_limit, limiter_redis, settings.key_prefix,
                                         settings.rate_limit_strategy)
                             if settings.rate_limit_enabled else None)
        self.switches = Switches(settings.read_only, settings.serve_stale, set(settings.disabled_features))
        self.apply_switches()
        self._tasks: list[asyncio.Task[None]] = []
        self.started = False

    def _breaker_changed(self, name: str, old: str, new: str) -> None:
        self.metrics.record_breaker(name, old, new)
        log.warning("circuit breaker state change", extra={"breaker": name, "from": old, "to": new})

    def apply_switches(self) -> None:
        s = self.switches
        self.cache.serve_stale = s.serve_stale
        self.metrics.switch.labels("read_only").set(int(s.read_only))
        self.metrics.switch.labels("serve_stale").set(int(s.serve_stale))
        for feature in FEATURES:
            self.metrics.switch.labels(f"disable_{feature}").set(int(feature in s.disabled_features))

    async def start(self, seed: int = 0) -> None:
        self._unwatch_gc = self.metrics.watch_gc()
        await create_schema(self.primary)
        await ensure_users(self.primary, self.settings.admin_password, self.settings.demo_password)
        if self.settings.admin_password == DEFAULT_ADMIN_PASSWORD:
            log.warning("the admin account uses the default password 'admin': anyone can switch the service to "
                        "read-only or change the payment fake; set REFSERVICE_ADMIN_PASSWORD",
                        extra={"event": "default_admin_password"})
        if seed:
            await seed_products(self.primary, seed)
        if self.router.replicas:
            await self.router.probe()
        if self.settings.warm_products:
            self.metrics.cache_warmed.set(await self.warm(self.settings.warm_products))
        await self.publisher.backlog()
        self.started = True
        if self.settings.run_background:
            interval = self.settings.outbox_poll_interval_s
            self._tasks = [asyncio.create_task(self.publisher.run(interval), name="outbox-publisher")]
            self._tasks += [asyncio.create_task(c.run(interval), name=f"consumer-{c.consumer.name}")
                            for c in self.consumers]
            if self.router.replicas:
                self._tasks.append(asyncio.create_task(
                    self.router.run_probes(self.settings.replica_check_interval_s), name="replica-probe"))

    async def warm(self, n: int, listing_pages: int = 5, page_size: int = 20) -> int:
        """Load products 1..n and the first listing pages into L2; returns how many entries."""
        done = 0
        for lo in range(1, n + 1, 500):
            rows = await self.repo.products_json(lo, min(n, lo + 499))
            await self.cache.warm([(f"product:{pid}", body) for pid, body in rows], self.settings.ttl_product_s)
            done += len(rows)
        for page in range(1, listing_pages + 1):
            body = await self.repo.listing_json(page, page_size)
            await self.cache.warm([(f"listing:{page}:{page_size}", body)], self.settings.ttl_listing_s,
                                  group="listings")
            done += 1
        return done

    async def stop(self) -> None:
        self._unwatch_gc()
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # bounded: a client library that swallows a cancel must not hang shutdown
            await asyncio.wait(self._tasks, timeout=3)
        self._tasks = []
        if self.rate_limiter is not None:
            with contextlib.suppress(Exception):
                await self.rate_limiter.close()
        for closer in (self.payment.close, self.broker.close, self.l2.close, self.primary.close,
                       *[r.node.close for r in self.router.replicas]):
            with contextlib.suppress(Exception):
                await closer()
        self.started = False
