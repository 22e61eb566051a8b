"""Settings of the reference service: one validated object instead of globals.

Every knob the guide names lives here with the guide's value as default (L1 5 s, product 1 h,
session 30 min, listing 5 min, breaker > 5 failures / 30 s / 5 trials, 1000 requests/min/IP), so
a test or the simulator can build an app with exactly the configuration it wants to measure.
The embedded default (no URLs) needs no external service: SQLite, in-process L2 and broker.
"""

from __future__ import annotations

import os
import secrets
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FEATURES = ("listings", "search", "recommendations", "checkout")
"""Endpoint groups that the feature-flag switch may shed (guide 10.2 "disable non-critical")."""



DEFAULT_ADMIN_PASSWORD = "admin"
"""The embedded default's admin password: convenient locally, announced with a warning at start."""

class Settings(BaseModel):
    """Configuration of one service process."""

    model_config = ConfigDict(extra="forbid")

    # backends
    database_url: str = Field(default="sqlite:///:memory:", description="sqlite:///path or postgresql://...")
    replica_urls: list[str] = Field(default_factory=list, description="PostgreSQL read replicas")
    redis_url: str | None = Field(default=None, description="redis://host:port/db; None = in-process L2")
    broker: Literal["auto", "memory", "redis", "kafka"] = "auto"
    kafka_bootstrap: str | None = None
    db_pool_size: int = Field(default=8, ge=1, le=200)

    # tiered cache (guide 2.1 / 2.2)
    l1_enabled: bool = True
    l1_ttl_s: float = Field(default=5.0, ge=0)
    l1_max_entries: int = Field(default=10_000, ge=1)
    ttl_product_s: int = Field(default=3600, ge=1)
    ttl_session_s: int = Field(default=1800, ge=1)
    ttl_listing_s: int = Field(default=300, ge=1)
    key_prefix: str = "rs:"
    # serve cached GET /products/{id} from the middleware, before the framework's routing (see
    # middleware.py); misses and everything else go through the normal route
    fast_path: bool = True
    # cache warming on start (guide 9.1): products 1..N (the most popular under the load
    # generator's Zipf keys) and the first listing pages go to L2 before traffic arrives
    warm_products: int = Field(default=0, ge=0, le=1_000_000)

    # read replicas (guide 3.2)
    replica_max_lag_s: float = Field(default=5.0, ge=0)
    replica_check_interval_s: float = Field(default=1.0, gt=0)

    # circuit breaker (guide 4.1) around the payment call
    breaker_failure_threshold: int = Field(default=5, ge=0, description="trip when consecutive failures > this")
    breaker_open_s: float = Field(default=30.0, ge=0)
    breaker_max_requests: int = Field(default=5, ge=1)
    payment_url: str | None = Field(default=None, description="external payment endpoint; None = in-process fake")
    payment_failure_rate: float = Field(default=0.0, ge=0, le=1)
    payment_latency_ms: float = Field(default=0.0, ge=0)
    payment_timeout_s: float = Field(default=2.0, gt=0)

    # outbox (guide 4.2)
    outbox_poll_interval_s: float = Field(default=0.2, gt=0)
    outbox_batch: int = Field(default=100, ge=1)
    outbox_claim_idle_s: float = Field(default=30.0, ge=0, description="claim a dead consumer's events after")
    run_background: bool = True

    # security (guide 7.1)
    rate_limit: str = "1000/minute"
    rate_limit_enabled: bool = True
    rate_limit_storage: Literal["auto", "memory", "redis"] = "auto"  # auto: Redis when redis_url is set
    rate_limit_strategy: Literal["fixed-window", "sliding-window", "moving-window"] = "fixed-window"
    trust_forwarded_for: bool = False
    jwt_algorithm: Literal["HS256", "HS384", "HS512", "RS256", "ES256"] = "HS256"
    jwt_secret: str = Field(default_factory=lambda: os.environ.get("REFSERVICE_JWT_SECRET") or secrets.token_hex(32))
    jwt_private_key: str | None = None
    jwt_public_key: str | None = None
    jwt_ttl_s: int = Field(default=1800, ge=1)
    jwt_issuer: str = "refservice"
    admin_password: str = Field(default_factory=lambda: os.environ.get("REFSERVICE_ADMIN_PASSWORD",
                                                                       DEFAULT_ADMIN_PASSWORD))
    demo_password: str = Field(default_factory=lambda: os.environ.get("REFSERVICE_DEMO_PASSWORD", "demo"))

    # emergency switches (guide 10)
    read_only: bool = False
    serve_stale: bool = False
    disabled_features: list[str] = Field(default_factory=list)

    # observability
    access_log: bool = True
    log_level: str = "INFO"

    # read-your-writes: a writer's reads (and fills of keys it wrote) avoid replicas that have not
    # replayed its write; after this many seconds the bookkeeping is dropped.
    ryw_window_s: float = Field(default=30.0, ge=0)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

    @property
    def broker_kind(self) -> str:
        if self.broker != "auto":
            return self.broker
        if self.kafka_bootstrap:
            return "kafka"
        return "redis" if self.redis_url else "memory"
