"""A metrics endpoint for tests whose pages are functions of the seconds since it started.

Where ``tests.support.exporter`` serves fixed service profiles, this serves any exposition text
a test computes (a cost that grows exponentially, a breaker that stays open), so a real
Prometheus scrapes series whose values at any past instant are known exactly.

    with TextExporter({"good": lambda t: f"x {t}\\n"}) as exp:
        exp.target, exp.path("good")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Page = Callable[[float], str]


class TextExporter:
    """Serves ``/<page>/metrics`` from a daemon thread until closed."""

    def __init__(self, pages: Mapping[str, Page]) -> None:
        self.pages = dict(pages)
        self.started = time.time()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                page = exporter.pages.get(parts[0]) if len(parts) == 2 and parts[1] == "metrics" else None
                if page is None:
                    self.send_error(404)
                    return
                body = page(time.time() - exporter.started).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="text-exporter", daemon=True)
        self.thread.start()

    @property
    def target(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    @staticmethod
    def path(page: str) -> str:
        return f"/{page}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> TextExporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
