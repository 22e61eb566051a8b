"""Transactional outbox (guide 4.2): publisher and the three idempotent consumers.

The DELETE handler writes the soft delete and the outbox row in one transaction (see repo.py).
The publisher polls unpublished rows, publishes each, then marks it published. If it dies
between publish and mark, the row is published again on the next poll: delivery is
at-least-once, never lost. Each consumer records ``(consumer, event_id)`` in
``processed_events`` in the same transaction as its effect, so a redelivered event is applied
exactly once. ``crash_after_publish`` (publisher) and ``crash_before_ack`` (consumer) let a test
kill either side at exactly the dangerous point.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from refservice.brokers import Broker, Message
from refservice.db import Executor, Node
from refservice.metrics import Metrics

log = logging.getLogger("refservice.outbox")

TOPIC_PRODUCT_DELETED = "product.deleted"


class SimulatedCrash(RuntimeError):
    """Raised by the publisher's fault hook: the process 'died' after publishing, before marking."""


class OutboxPublisher:
    """Moves outbox rows to the broker."""

    def __init__(self, node: Node, broker: Broker, metrics: Metrics, batch: int = 100) -> None:
        self.node = node
        self.broker = broker
        self.metrics = metrics
        self.batch = batch
        self.crash_after_publish = False

    async def backlog(self) -> int:
        row = await self.node.fetchone("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
        n = int(row[0]) if row else 0
        self.metrics.outbox_backlog.set(n)
        return n

    async def run_once(self) -> int:
        """Publish one batch of unpublished rows in id order; returns how many were published."""
        rows = await self.node.fetchall(
            "SELECT id, event_id, topic, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT %s",
            (self.batch,))
        done = 0
        for row_id, event_id, topic, payload in rows:
            await self.broker.publish(topic, event_id, json.loads(payload))
            if self.crash_after_publish:
                raise SimulatedCrash(f"crashed after publishing {event_id}")
            await self.node.execute("UPDATE outbox SET published_at = %s WHERE id = %s AND published_at IS NULL",
                                    (time.time(), row_id))
            self.metrics.outbox_published.labels(topic).inc()
            done += 1
        await self.backlog()
        return done

    async def run(self, interval_s: float) -> None:
        failures = 0
        while True:
            try:
                if await self.run_once() >= self.batch:
                    continue
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1 or failures % 50 == 0:
                    log.warning("outbox publish failed", extra={"error": repr(exc), "failures": failures})
            await asyncio.sleep(_backoff(interval_s, failures))


def _backoff(base_s: float, failures: int) -> float:
    """Poll interval after ``failures`` consecutive failures: doubling, at most 5 s."""
    return base_s if failures == 0 else min(5.0, base_s * 2 ** min(failures, 10))


Apply = Callable[[Executor, dict[str, Any], str], Awaitable[None]]


async def _remove_from_search(tx: Executor, payload: dict[str, Any], event_id: str) -> None:
    await tx.execute("DELETE FROM search_index WHERE product_id = %s", (int(payload["product_id"]),))


async def _update_recommendations(tx: Executor, payload: dict[str, Any], event_id: str) -> None:
    pid = int(payload["product_id"])
    await tx.execute("DELETE FROM recommendations WHERE product_id = %s", (pid,))
    await tx.execute("DELETE FROM recommendations WHERE recommended_id = %s", (pid,))  # recommendations_rec_idx


async def _record_analytics(tx: Executor, payload: dict[str, Any], event_id: str) -> None:
    await tx.execute("INSERT INTO analytics_events (event_id, kind, product_id, at) VALUES (%s, %s, %s, %s)",
                     (event_id, "product.deleted", int(payload["product_id"]), time.time()))


@dataclass(frozen=True)
class Consumer:
    name: str
    apply: Apply


CONSUMERS = (
    Consumer("search-index", _remove_from_search),
    Consumer("recommendations", _update_recommendations),
    Consumer("analytics", _record_analytics),
)


class ConsumerRunner:
    """Feeds one consumer from its broker group, applying each event once."""

    def __init__(self, consumer: Consumer, node: Node, broker: Broker, metrics: Metrics,
                 topic: str = TOPIC_PRODUCT_DELETED) -> None:
        self.consumer = consumer
        self.node = node
        self.broker = broker
        self.topic = topic
        self._applied = metrics.events_consumed.labels(consumer.name, "applied")
        self._dup = metrics.events_consumed.labels(consumer.name, "duplicate")
        self.crash_before_ack = False  # fault hook: die after applying, before acknowledging

    async def handle(self, message: Message) -> bool:
        """Apply one message idempotently; True when it was new."""
        async with self.node.transaction() as tx:
            fresh = await tx.execute(
                "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (consumer, event_id) DO NOTHING", (self.consumer.name, message.event_id, time.time()))
            if fresh:
                await self.consumer.apply(tx, message.payload, message.event_id)
        (self._applied if fresh else self._dup).inc()
        if self.crash_before_ack:
            raise SimulatedCrash(f"{self.consumer.name} crashed before acknowledging {message.event_id}")
        await self.broker.ack(self.consumer.name, message)
        return bool(fresh)

    async def run_once(self, max_n: int = 100, block_s: float = 0.0) -> int:
        messages = await self.broker.fetch(self.consumer.name, self.topic, max_n, block_s)
        try:
            for message in messages:
                await self.handle(message)
        except BaseException:
            self.broker.rewind(self.consumer.name, self.topic)  # unacked ones come back next time
            raise
        return len(messages)

    async def run(self, block_s: float) -> None:
        failures = 0
        while True:
            try:
                await self.run_once(block_s=block_s)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1 or failures % 50 == 0:
                    log.warning("consumer failed", extra={"consumer": self.consumer.name, "error": repr(exc),
                                                          "failures": failures})
                await asyncio.sleep(_backoff(block_s, failures))
