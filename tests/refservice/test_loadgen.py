"""Load generator: schedule and key distributions, open-loop timing, result JSON, CLI."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner
from hdrh.histogram import HdrHistogram

from refservice.commands import loadgen_command, seed_command
from refservice.loadgen import LoadSpec, run
from refservice.loadgen.schedule import apply_write_ratio, arrival_offsets, make_plan, parse_mix, zipf_keys
from tests.refservice.support import create_app, free_port, settings


def test_constant_and_poisson_schedules() -> None:
    rng = np.random.default_rng(3)
    constant = arrival_offsets(500, 4, "constant", rng)
    assert len(constant) == 2000 and np.allclose(np.diff(constant), 1 / 500)
    poisson = arrival_offsets(500, 20, "poisson", rng)
    assert abs(len(poisson) - 10_000) < 5 * np.sqrt(10_000)
    gaps = np.diff(poisson)
    assert abs(gaps.mean() - 1 / 500) < 0.05 / 500 and abs(gaps.std() / gaps.mean() - 1) < 0.05  # exponential
    with pytest.raises(ValueError):
        arrival_offsets(10, 1, "bursty", rng)


def test_zipf_keys_follow_the_law() -> None:
    keys = zipf_keys(1000, 1.0, 200_000, np.random.default_rng(5))
    assert keys.min() >= 1 and keys.max() <= 1000
    counts = np.bincount(keys, minlength=1001)
    assert counts[1] / counts[2] == pytest.approx(2.0, rel=0.05)
    assert counts[1] / counts[10] == pytest.approx(10.0, rel=0.1)
    harmonic = np.sum(1 / np.arange(1, 1001))
    assert counts[1] / len(keys) == pytest.approx(1 / harmonic, rel=0.03)
    uniform = zipf_keys(10, 0.0, 50_000, np.random.default_rng(1))
    assert np.bincount(uniform)[1:].min() > 4500


def test_mix_and_write_ratio() -> None:
    mix = parse_mix("get_product=8,list_products=2,update_product=1")
    assert mix == {"get_product": 8, "list_products": 2, "update_product": 1}
    scaled = apply_write_ratio(mix, 0.2)
    assert scaled["update_product"] == pytest.approx(0.2) and scaled["get_product"] == pytest.approx(0.64)
    with pytest.raises(ValueError):
        parse_mix("drop_tables=1")
    plan = make_plan(rate=1000, duration_s=10, distribution="constant", mix=scaled, n_keys=100,
                     zipf_exponent=1.0, seed=2)
    shares = np.bincount(plan.choice) / len(plan)
    assert shares[plan.endpoints.index("update_product")] == pytest.approx(0.2, abs=0.02)


class RawServer:
    """A raw HTTP/1.1 server on its own loop thread. Every request is answered ``delay_s`` after it
    is read, except request number ``stall_at``, which waits ``stall_s``; each connection is served
    on its own (its concurrency is as large as the client's) and the connections are counted."""

    def __init__(self, delay_s: float = 0.0, *, stall_at: int = 0, stall_s: float = 0.0) -> None:
        self.port = free_port()
        self.delay_s, self.stall_at, self.stall_s = delay_s, stall_at, stall_s
        self.count = 0
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                self.count += 1
                if self.count == self.stall_at:
                    await asyncio.sleep(self.stall_s)
                elif self.delay_s:
                    await asyncio.sleep(self.delay_s)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def __enter__(self) -> RawServer:
        self.thread.start()
        fut = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._handle, "127.0.0.1", self.port),
                                               self.loop)
        self.server = fut.result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_connections_open_on_demand_so_requests_do_not_queue_in_the_generator() -> None:
    """200 req/s against 100 ms answers needs ~20 requests in flight (Little's law). Four fixed
    connections carry 40 req/s: the rest queue in the generator (send lag of seconds). Opening
    connections on demand keeps the send lag small and the latency at the server's 100 ms, and
    never opens more than the bound."""
    spec = {"rate": 200, "duration_s": 2, "distribution": "constant", "mix": "/x=1", "connections": 4}
    with RawServer(0.1) as srv:
        fixed = run(LoadSpec(url=f"http://127.0.0.1:{srv.port}", **spec))
    assert fixed["connections_used"] == 4
    assert fixed["send_lag_ms"]["p99"] > 1000 and fixed["latency_ms"]["p99"] > 1000
    with RawServer(0.1) as srv:
        grown = run(LoadSpec(url=f"http://127.0.0.1:{srv.port}", max_connections=256, **spec))
        opened = srv.connections
    assert grown["completed"] == 400 and grown["errors"] == 0
    assert 20 <= grown["connections_used"] <= 64 and opened == grown["connections_used"]
    assert grown["send_lag_ms"]["p99"] < 50
    assert grown["latency_ms"]["p50"] >= 100 and grown["latency_ms"]["p99"] < 200
    with RawServer(0.1) as srv:
        bounded = run(LoadSpec(url=f"http://127.0.0.1:{srv.port}", max_connections=10, **spec))
    assert bounded["connections_used"] == 10 and bounded["send_lag_ms"]["p99"] > 500


def test_latency_is_timed_from_the_intended_send_time() -> None:
    """One 1 s stall on a single connection delays ~200 queued requests: P99 must show it."""
    with RawServer(stall_at=100, stall_s=1.0) as srv:
        result = run(LoadSpec(url=f"http://127.0.0.1:{srv.port}", rate=200, duration_s=3, mix="/x=1",
                              connections=1))
    assert result["completed"] == 600 and result["errors"] == 0
    lat = result["latency_ms"]
    # a closed-loop client would report one slow request (P99 ~ 1 ms); open loop charges the queue
    assert lat["max"] >= 950
    assert lat["p90"] >= 200
    assert lat["p99"] >= 800
    assert lat["p50"] < 250  # most requests never saw the stall


def test_run_against_the_service_gives_the_result_document(server_factory) -> None:
    app = create_app(settings(rate_limit="100000/minute"), seed=200)
    srv = server_factory(app)
    result = run(LoadSpec(url=srv.url, rate=150, duration_s=2, distribution="poisson", n_keys=200,
                          mix="get_product=80,list_products=10,update_product=5,checkout=5",
                          username="admin", password="admin", connections=16))
    assert result["sent"] == result["planned"] == result["completed"]
    assert result["errors"] == 0, result["endpoints"]
    assert set(result["endpoints"]) == {"get_product", "list_products", "update_product", "checkout"}
    ep = result["endpoints"]["get_product"]
    assert set(ep["status"]) == {"200"}
    hist = HdrHistogram.decode(base64.b64decode(ep["hdr"]))
    assert hist.get_total_count() == ep["count"]
    assert result["endpoints"]["checkout"]["status"] == {"201": result["endpoints"]["checkout"]["count"]}
    assert result["spec"]["password"] == "***" and result["spec"]["token"] == "***"
    assert abs(result["rate_error_pct"]) < 10  # Poisson over 2 s: a loose bound
    json.dumps(result)


def test_loadgen_counts_connection_errors() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        result = run(LoadSpec(url=f"http://127.0.0.1:{port}", rate=50, duration_s=0.4, mix="/x=1",
                              connections=2, drain_s=2))
    assert result["errors"] == result["planned"] == 20
    assert all(k.startswith("error:") for k in result["endpoints"]["/x"]["status"])


def test_cli_seed_and_loadgen(tmp_path, server_factory) -> None:
    db = tmp_path / "seeded.db"
    runner = CliRunner()
    out = runner.invoke(seed_command, ["--database-url", f"sqlite:///{db}", "-n", "25"])
    assert out.exit_code == 0, out.output
    import sqlite3

    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM products").fetchone()[0] == 25
    app = create_app(settings(database_url=f"sqlite:///{db}"))
    srv = server_factory(app)
    target = tmp_path / "result.json"
    started = time.monotonic()
    out = runner.invoke(loadgen_command, ["--url", srv.url, "--rate", "100", "--duration", "1", "--keys", "25",
                                          "--mix", "get_product=1", "--connections", "2", "--max-connections", "8",
                                          "--output", str(target)])
    assert out.exit_code == 0, out.output
    assert time.monotonic() - started < 15
    doc = json.loads(target.read_text())
    assert doc["completed"] == 100 and doc["endpoints"]["get_product"]["status"] == {"200": 100}
    assert doc["spec"]["max_connections"] == 8 and 2 <= doc["connections_used"] <= 8
    bad = runner.invoke(loadgen_command, ["--url", srv.url, "--mix", "nope=1", "--duration", "0.1"])
    assert bad.exit_code != 0 and "unknown endpoint" in bad.output


def test_serve_command_reports_bad_configuration_in_one_line() -> None:
    from refservice.commands import serve_command

    runner = CliRunner()
    out = runner.invoke(serve_command, ["--kafka-bootstrap", "127.0.0.1:9092", "--seed", "0"])
    assert out.exit_code == 1 and "aiokafka" in out.output and "Traceback" not in out.output
    out = runner.invoke(serve_command, ["--payment-failure-rate", "2", "--seed", "0"])
    assert out.exit_code == 1 and "payment_failure_rate" in out.output
    out = runner.invoke(serve_command, ["--database-url", "mysql://x/y", "--seed", "0"])
    assert out.exit_code == 1 and "unsupported database URL" in out.output
