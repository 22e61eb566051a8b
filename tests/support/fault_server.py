"""A TCP server that misbehaves on purpose, for the collectors' fault tests.

Each mode is one way a real target fails in production, on a real loopback socket:

- ``silent``: accepts the connection and never answers (a hung API server, a black-holed port)
- ``reset``: accepts, reads the first bytes, then resets the connection (RST, not FIN)
- ``garbage``: answers whatever comes with bytes no protocol expects, then closes
- ``http500``: answers HTTP 500 whose body echoes the request headers (credentials included,
  as careless servers do in their error pages)
- ``badjson``: answers HTTP 200, ``Content-Type: application/json``, with a body that is not JSON
- ``echo``: answers HTTP 500 with a JSON error (Prometheus ``error``, Kubernetes ``message``)
  that quotes the request line and headers back, credentials included
- ``resp-echo``: answers every Redis command with an error quoting the command, arguments
  (an AUTH password) included
- ``tls``: speaks TLS with a throw-away self-signed certificate no client trusts
- ``restart``: forwards to a real upstream; once ``cut_after_bytes`` of answers went through it
  resets every connection and refuses new ones for ``down_for`` seconds, as a restarting
  server does in the middle of a collection, then forwards again
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import tempfile
import threading
from pathlib import Path
from typing import Any

from tests.http.server import self_signed

MODES = ("silent", "reset", "garbage", "http500", "badjson", "echo", "resp-echo", "tls", "restart")
PG_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
GARBAGE = b"\x00\xff\xfe garbage \x1b[31m\r\n\x00" * 8


class FaultServer:
    """One misbehaving listener on 127.0.0.1; use as a context manager."""

    def __init__(self, mode: str, upstream: tuple[str, int] | None = None, cut_after_bytes: int = 1500,
                 down_for: float = 1.0) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if mode == "restart" and upstream is None:
            raise ValueError("restart needs an upstream to forward to")
        self.mode = mode
        self.upstream = upstream
        self.cut_after_bytes = cut_after_bytes
        self.down_for = down_for
        self.forwarded = 0
        self.restarted = threading.Event()
        self.cut = threading.Event()
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._tls: ssl.SSLContext | None = None
        if mode == "tls":
            self._folder = tempfile.TemporaryDirectory(prefix="fault-tls-")
            cert, key = self_signed(Path(self._folder.name))
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(cert, key)
        self._thread = threading.Thread(target=self._serve, name=f"fault-{mode}", daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.mode == 'tls' else 'http'}://127.0.0.1:{self.port}"

    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        sock.settimeout(0.1)
        return sock

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=3)
        with self._lock:
            for conn in self._held:
                with contextlib.suppress(OSError):
                    conn.close()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if self.cut.is_set() and not self.restarted.is_set():
                self._restart()
                continue
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self._held.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _restart(self) -> None:
        """Reset every connection, stop listening for ``down_for`` seconds, then listen again."""
        with self._lock:
            for conn in self._held:
                _reset(conn)
            self._held.clear()
        self._listener.close()
        self._stop.wait(self.down_for)
        self._listener = self._listen(self.port)
        self.restarted.set()  # once: afterwards it forwards again

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            if self.mode == "silent":
                self._stop.wait(120)
            elif self.mode == "reset":
                with contextlib.suppress(OSError):
                    conn.recv(1024)
                _reset(conn)
            elif self.mode == "garbage":
                with contextlib.suppress(OSError):
                    conn.recv(1024)
                    conn.sendall(GARBAGE)
                conn.close()
            elif self.mode in ("http500", "badjson", "echo"):
                self._http(conn)
            elif self.mode == "resp-echo":
                self._resp_echo(conn)
            elif self.mode == "tls":
                assert self._tls is not None
                with contextlib.suppress(OSError, ssl.SSLError):
                    if conn.recv(8, socket.MSG_PEEK) == PG_SSL_REQUEST:  # PostgreSQL asks first, then TLS
                        conn.recv(8)
                        conn.sendall(b"S")
                    tls = self._tls.wrap_socket(conn, server_side=True)
                    tls.recv(1024)
                    tls.close()
            elif self.mode == "restart":
                self._forward(conn)
        except OSError:
            pass

    def _http(self, conn: socket.socket) -> None:
        while not self._stop.is_set():
            request = _read_request(conn)
            if not request:
                return
            self.requests.append(request)
            if self.mode == "echo":
                quoted = request.split(b"\r\n\r\n", 1)[0].decode("latin-1")
                doc = {"status": "error", "errorType": "internal", "error": f"cannot serve {quoted}",
                       "kind": "Status", "apiVersion": "v1", "code": 500, "message": f"cannot serve {quoted}"}
                status, ctype, body = "500 Internal Server Error", "application/json", json.dumps(doc).encode()
            elif self.mode == "http500":
                status, ctype, body = "500 Internal Server Error", "text/plain", b"internal error; request was:\n"
                body += request.split(b"\r\n\r\n", 1)[0]
            else:
                status, ctype, body = "200 OK", "application/json", b'{"status": "success", "data": [1, 2,'
            head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
            conn.sendall(head.encode() + body)

    def _resp_echo(self, conn: socket.socket) -> None:
        while not self._stop.is_set():
            data = conn.recv(65536)
            if not data:
                return
            self.requests.append(data)
            quoted = data.decode("latin-1").replace("\r\n", " ")
            conn.sendall(f"-ERR refused command: {quoted}\r\n".encode("latin-1"))

    def _forward(self, conn: socket.socket) -> None:
        assert self.upstream is not None
        try:
            up = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _reset(conn)
            return
        with self._lock:
            self._held.append(up)

        def pump(src: socket.socket, dst: socket.socket, answers: bool) -> None:
            with contextlib.suppress(OSError):
                src.settimeout(None)
                while chunk := src.recv(512 if answers else 65536):
                    if answers and not self.restarted.is_set():
                        if self.forwarded + len(chunk) >= self.cut_after_bytes:  # the answer stops half-way
                            self.cut.set()
                            return
                        self.forwarded += len(chunk)
                    dst.sendall(chunk)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        threading.Thread(target=pump, args=(up, conn, True), daemon=True).start()
        pump(conn, up, False)


def _reset(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return b""
            data += chunk
    return data
