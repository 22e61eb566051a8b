"""A small pipelined Redis (RESP2) client for the L2 cache hot path.

Why: the L2 hit is one GET, and a general client spends several times the cost of the rest of the
request on it (connection checkout, command objects, stream-reader coroutines). Redis answers the
commands of one connection in order, so one connection carries every concurrent request: a
command is queued with a future; the queued bytes of one event-loop turn go out in one write
(auto-pipelining); an asyncio Protocol parses whatever replies arrived and resolves the futures
in order, with no coroutine per reply. Commands given together stay contiguous on the wire, which
makes ``MULTI ... EXEC`` safe as one batch. A lost connection fails the pending commands; the
next command reconnects.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit


class RespError(Exception):
    """Redis answered with an error, or the connection failed."""


class _Incomplete(Exception):
    pass


def encode(*args: bytes | str | int) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _parse(buf: bytearray, pos: int) -> tuple[Any, int]:
    """One reply starting at ``pos``; raises `_Incomplete` when the buffer ends first."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind = buf[pos]
    if kind == 36:  # $ bulk string
        n = int(buf[pos + 1:end])
        if n < 0:
            return None, end + 2
        stop = end + 2 + n
        if len(buf) < stop + 2:
            raise _Incomplete
        return bytes(buf[end + 2:stop]), stop + 2
    if kind == 43:  # + simple string
        return buf[pos + 1:end].decode(), end + 2
    if kind == 58:  # : integer
        return int(buf[pos + 1:end]), end + 2
    if kind == 45:  # - error
        return RespError(buf[pos + 1:end].decode(errors="replace")), end + 2
    if kind == 42:  # * array
        n = int(buf[pos + 1:end])
        pos = end + 2
        if n < 0:
            return None, pos
        items = []
        for _ in range(n):
            item, pos = _parse(buf, pos)
            items.append(item)
        return items, pos
    raise RespError(f"unexpected reply byte {kind!r}")


class _Protocol(asyncio.Protocol):
    def __init__(self, client: RespClient) -> None:
        self.client = client
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pending = self.client._pending
        pos = 0
        try:
            while pos < len(buf):
                reply, pos = _parse(buf, pos)
                fut = pending.popleft()
                if not fut.done():
                    fut.set_result(reply)
        except _Incomplete:
            pass
        except Exception as exc:
            self.client._fail(exc)
            return
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._fail(exc or ConnectionResetError("closed by server"))


class RespClient:
    def __init__(self, url: str, timeout_s: float = 2.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", ""):
            raise ValueError("the fast Redis client speaks redis:// only")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.db = int(parts.path.lstrip("/") or 0)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout_s = timeout_s
        self._protocol: _Protocol | None = None
        self._pending: deque[asyncio.Future[Any]] = deque()
        self._outbox: list[bytes] = []
        self._connecting: asyncio.Lock | None = None

    async def _connect(self) -> None:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is not None:
                return
            loop = asyncio.get_running_loop()
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self), self.host, self.port), self.timeout_s)
            self._protocol = protocol
            hello: list[tuple[bytes | str | int, ...]] = []
            if self.password is not None:
                hello.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
            if self.db:
                hello.append(("SELECT", self.db))
            if hello:
                for reply in await self._send([encode(*c) for c in hello]):
                    if isinstance(reply, RespError):
                        raise reply

    def _fail(self, exc: BaseException) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
        self._outbox.clear()
        while self._pending:
            fut = self._pending.popleft()
            if not fut.done():
                fut.set_exception(RespError(f"redis connection lost: {type(exc).__name__}"))

    def _flush(self) -> None:
        out, self._outbox = self._outbox, []
        protocol = self._protocol
        if out and protocol is not None and protocol.transport is not None:
            protocol.transport.write(b"".join(out))

    def _queue(self, data: bytes, n: int) -> list[asyncio.Future[Any]]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(n)]
        self._pending.extend(futures)
        if not self._outbox:
            loop.call_soon(self._flush)
        self._outbox.append(data)
        return futures

    async def _await(self, futures: list[asyncio.Future[Any]]) -> list[Any]:
        try:
            async with asyncio.timeout(self.timeout_s):
                return [await f for f in futures]
        except TimeoutError as exc:
            self._fail(exc)  # replies would be out of step from here on: start afresh
            raise RespError("redis timed out") from exc

    async def _send(self, commands: list[bytes]) -> list[Any]:
        return await self._await(self._queue(b"".join(commands), len(commands)))

    async def execute(self, *args: bytes | str | int) -> Any:
        """Run one command; raises `RespError` for an error reply."""
        reply = (await self.pipeline([args]))[0]
        if isinstance(reply, RespError):
            raise reply
        return reply

    async def pipeline(self, commands: list[tuple[bytes | str | int, ...]]) -> list[Any]:
        """Send several commands contiguously; error replies are returned as `RespError` values."""
        if self._protocol is None:
            await self._connect()
        return await self._send([encode(*c) for c in commands])

    async def get(self, key: str) -> bytes | None:
        """GET on the fast path."""
        if self._protocol is None:
            await self._connect()
        k = key.encode()
        fut = self._queue(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k), 1)[0]
        try:
            async with asyncio.timeout(self.timeout_s):
                reply = await fut
        except TimeoutError as exc:
            self._fail(exc)
            raise RespError("redis timed out") from exc
        if isinstance(reply, RespError):
            raise reply
        return reply  # type: ignore[no-any-return]

    async def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
