"""A small pipelined Redis (RESP2) client for the L2 cache hot path.

Why: the L2 hit is one GET, and a general client spends several times the cost of the rest of the
request on it (connection checkout, command objects, parser layers). Redis answers the commands
of one connection in order, so one connection can carry every concurrent request: each command
is written at once and a future waits in a FIFO; a single reader task parses replies and resolves
the futures in order. Several commands written in one ``write`` stay contiguous on the wire, which
makes ``MULTI ... EXEC`` safe to send as one batch. Connection errors fail the pending commands
and the next command reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit


class RespError(Exception):
    """Redis answered with an error, or the connection failed."""


def encode(*args: bytes | str | int) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


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
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: deque[asyncio.Future[Any]] = deque()
        self._connecting: asyncio.Lock | None = None

    async def _connect(self) -> None:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is not None:
                return
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout_s)
            self._writer = writer
            self._reader_task = asyncio.create_task(self._read_loop(reader))
            hello = []
            if self.password is not None:
                auth = ("AUTH", self.username, self.password) if self.username else ("AUTH", self.password)
                hello.append(encode(*auth))
            if self.db:
                hello.append(encode("SELECT", self.db))
            if hello:
                for reply in await self._send(hello):
                    if isinstance(reply, RespError):
                        raise reply

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                reply = await self._read_reply(reader)
                fut = self._pending.popleft()
                if not fut.done():
                    fut.set_result(reply)
        except (Exception, asyncio.CancelledError) as exc:
            self._fail(exc)

    async def _read_reply(self, reader: asyncio.StreamReader) -> Any:
        line = await reader.readuntil(b"\r\n")
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = await reader.readexactly(n + 2)
            return data[:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [await self._read_reply(reader) for _ in range(n)]
        raise RespError(f"unexpected reply {line[:40]!r}")

    def _fail(self, exc: BaseException) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        while self._pending:
            fut = self._pending.popleft()
            if not fut.done():
                fut.set_exception(RespError(f"redis connection lost: {type(exc).__name__}"))

    async def _send(self, commands: list[bytes]) -> list[Any]:
        writer = self._writer
        assert writer is not None
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in commands]
        self._pending.extend(futures)
        writer.write(b"".join(commands))
        try:
            async with asyncio.timeout(self.timeout_s):
                return [await f for f in futures]
        except TimeoutError as exc:
            self._fail(exc)  # replies would be out of step from here on: start afresh
            raise RespError("redis timed out") from exc

    async def execute(self, *args: bytes | str | int) -> Any:
        """Run one command; raises `RespError` for an error reply."""
        reply = (await self.pipeline([args]))[0]
        if isinstance(reply, RespError):
            raise reply
        return reply

    async def pipeline(self, commands: list[tuple[bytes | str | int, ...]]) -> list[Any]:
        """Send several commands in one write; error replies are returned as `RespError` values."""
        if self._writer is None:
            await self._connect()
        return await self._send([encode(*c) for c in commands])

    async def get(self, key: str) -> bytes | None:
        """GET on the fast path (no list building)."""
        if self._writer is None:
            await self._connect()
        writer = self._writer
        assert writer is not None
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(fut)
        k = key.encode()
        writer.write(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k))
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
        task, self._reader_task = self._reader_task, None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
