"""Broker adapters for the outbox events: in-process (default), Redis Streams, Kafka (if configured).

All three give the consumers at-least-once delivery: a message stays deliverable to a consumer
group until that group acknowledges it, so a consumer that dies between applying and
acknowledging gets it again (and dedupes it by event id). Messages are
``Message(topic, event_id, payload, ref)``; ``ref`` is whatever the adapter needs to ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Message:
    topic: str
    event_id: str
    payload: dict[str, Any]
    ref: Any = None


class Broker(Protocol):
    name: str

    async def publish(self, topic: str, event_id: str, payload: dict[str, Any]) -> None: ...
    async def fetch(self, group: str, topic: str, max_n: int, block_s: float) -> list[Message]: ...
    async def ack(self, group: str, message: Message) -> None: ...
    def rewind(self, group: str, topic: str) -> None: ...
    async def close(self) -> None: ...


class MemoryBroker:
    """An append-only log per topic with a committed offset per consumer group."""

    name = "memory"

    def __init__(self) -> None:
        self.logs: dict[str, list[Message]] = {}
        self.offsets: dict[tuple[str, str], int] = {}
        self._new = asyncio.Event()

    async def publish(self, topic: str, event_id: str, payload: dict[str, Any]) -> None:
        log = self.logs.setdefault(topic, [])
        log.append(Message(topic, event_id, payload, len(log)))
        self._new.set()

    async def fetch(self, group: str, topic: str, max_n: int, block_s: float) -> list[Message]:
        offset = self.offsets.get((group, topic), 0)
        log = self.logs.get(topic, [])
        if offset >= len(log) and block_s > 0:
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), block_s)
            log = self.logs.get(topic, [])
        return log[offset: offset + max_n]

    async def ack(self, group: str, message: Message) -> None:
        key = (group, message.topic)
        self.offsets[key] = max(self.offsets.get(key, 0), int(message.ref) + 1)

    def rewind(self, group: str, topic: str) -> None:
        """Nothing to do: fetch always starts at the committed offset."""

    async def close(self) -> None:
        self._new.set()


class RedisStreamsBroker:
    """Redis Streams: XADD per event, one consumer group per consumer, XACK after applying."""

    name = "redis"

    def __init__(self, url: str, prefix: str = "rs:", consumer_name: str | None = None,
                 claim_idle_s: float = 30.0) -> None:
        import redis.asyncio as aioredis

        self.client = aioredis.Redis.from_url(url)
        self.prefix = prefix
        # one name per process: entries delivered to a process that died stay pending under its
        # name until another process claims them (XAUTOCLAIM after ``claim_idle_s``)
        self.consumer_name = consumer_name or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.claim_idle_ms = int(claim_idle_s * 1000)
        self._groups: set[tuple[str, str]] = set()
        self._pending_done: set[tuple[str, str]] = set()

    def _stream(self, topic: str) -> str:
        return f"{self.prefix}stream:{topic}"

    async def publish(self, topic: str, event_id: str, payload: dict[str, Any]) -> None:
        await self.client.xadd(self._stream(topic), {"event_id": event_id, "payload": json.dumps(payload)},
                               maxlen=100_000, approximate=True)

    async def _ensure_group(self, group: str, topic: str) -> None:
        if (group, topic) in self._groups:
            return
        import redis.exceptions

        try:
            await self.client.xgroup_create(self._stream(topic), group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add((group, topic))

    async def fetch(self, group: str, topic: str, max_n: int, block_s: float) -> list[Message]:
        await self._ensure_group(group, topic)
        stream = self._stream(topic)
        # first re-read what this consumer was given but never acknowledged (a crash), then new ones
        entries = []
        if (group, topic) not in self._pending_done:
            reply = await self.client.xreadgroup(group, self.consumer_name, {stream: "0"}, count=max_n)
            entries = reply[0][1] if reply else []
            if not entries:
                self._pending_done.add((group, topic))
        if not entries:  # entries a dead consumer of the group was given and never acknowledged
            reply = await self.client.xautoclaim(stream, group, self.consumer_name, self.claim_idle_ms,
                                                 start_id="0-0", count=max_n)
            entries = reply[1] if reply else []
        if not entries:
            block = max(1, int(block_s * 1000)) if block_s > 0 else None
            reply = await self.client.xreadgroup(group, self.consumer_name, {stream: ">"}, count=max_n,
                                                 block=block)
            entries = reply[0][1] if reply else []
        out = []
        for entry_id, fields in entries:
            if not fields:  # deleted entry still pending
                continue
            out.append(Message(topic, fields[b"event_id"].decode(), json.loads(fields[b"payload"]), entry_id))
        return out

    async def ack(self, group: str, message: Message) -> None:
        await self.client.xack(self._stream(message.topic), group, message.ref)

    def rewind(self, group: str, topic: str) -> None:
        """After a failed apply: re-read this consumer's pending entries before new ones."""
        self._pending_done.discard((group, topic))

    async def close(self) -> None:
        await self.client.aclose()


class KafkaBroker:
    """Kafka through aiokafka (installed separately); used only when ``kafka_bootstrap`` is set."""

    name = "kafka"

    def __init__(self, bootstrap: str) -> None:
        try:
            import aiokafka  # type: ignore[import-not-found]
        except ImportError as exc:  # pragma: no cover - depends on an optional package
            raise RuntimeError("the Kafka broker needs the 'aiokafka' package (pip install aiokafka)") from exc
        self._aiokafka = aiokafka
        self.bootstrap = bootstrap
        self._producer: Any = None
        self._consumers: dict[tuple[str, str], Any] = {}

    async def publish(self, topic: str, event_id: str, payload: dict[str, Any]) -> None:  # pragma: no cover
        if self._producer is None:
            self._producer = self._aiokafka.AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
            await self._producer.start()
        value = json.dumps({"event_id": event_id, "payload": payload}).encode()
        await self._producer.send_and_wait(topic, value, key=event_id.encode())

    async def fetch(self, group: str, topic: str, max_n: int, block_s: float) -> list[Message]:  # pragma: no cover
        consumer = self._consumers.get((group, topic))
        if consumer is None:
            consumer = self._aiokafka.AIOKafkaConsumer(
                topic, bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False,
                auto_offset_reset="earliest")
            await consumer.start()
            self._consumers[(group, topic)] = consumer
        batches = await consumer.getmany(timeout_ms=int(block_s * 1000), max_records=max_n)
        out = []
        for tp, records in batches.items():
            for rec in records:
                doc = json.loads(rec.value)
                out.append(Message(topic, doc["event_id"], doc["payload"], (tp, rec.offset)))
        return out

    async def ack(self, group: str, message: Message) -> None:  # pragma: no cover
        tp, offset = message.ref
        await self._consumers[(group, message.topic)].commit({tp: offset + 1})

    def rewind(self, group: str, topic: str) -> None:  # pragma: no cover
        consumer = self._consumers.pop((group, topic), None)  # restart from the committed offset
        if consumer is not None:
            import asyncio as _asyncio

            _asyncio.get_running_loop().create_task(consumer.stop())

    async def close(self) -> None:  # pragma: no cover
        if self._producer is not None:
            await self._producer.stop()
        for consumer in self._consumers.values():
            await consumer.stop()


def make_broker(kind: str, *, redis_url: str | None, kafka_bootstrap: str | None, prefix: str,
                claim_idle_s: float = 30.0) -> Broker:
    if kind == "kafka":
        if not kafka_bootstrap:
            raise ValueError("broker 'kafka' needs kafka_bootstrap")
        return KafkaBroker(kafka_bootstrap)
    if kind == "redis":
        if not redis_url:
            raise ValueError("broker 'redis' needs redis_url")
        return RedisStreamsBroker(redis_url, prefix, claim_idle_s=claim_idle_s)
    return MemoryBroker()
