"""Benchmark: the open-loop load generator holds 2,000 req/s within 2 % against a trivial endpoint.

The trivial endpoint is a minimal keep-alive HTTP/1.1 server in its own process (so the server is
not what limits the rate). Printed per transport: target and achieved rate, the error in %, the
send lag (how late requests left compared with their intended times) and P50/P99 latency timed
from the intended send time. The raw asyncio transport is the default; httpx is shown for
comparison because it is the obvious alternative (and cannot keep up on this machine).

Optionally (``--refservice``) the same run against the reference service's ``/healthz`` under
uvicorn, a FastAPI endpoint doing no work.

Run: ``python bench/bench_loadgen.py [--rate 2000] [--seconds 10] [--refservice]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from refservice.loadgen import LoadSpec, run

TRIVIAL_SERVER = r"""
import asyncio, sys
BODY = b'{"ok":true}'
RESP = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
async def handle(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(RESP)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""

REFSERVICE_SERVER = """
import sys, uvicorn
sys.path.insert(0, {root!r})
from refservice.app import create_app
from refservice.settings import Settings
app = create_app(Settings(jwt_secret="b" * 64, rate_limit_enabled=False, access_log=False, run_background=False))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def line(label: str, result: dict) -> str:
    lat, lag = result["latency_ms"], result["send_lag_ms"]
    return (f"  {label:<30} target {result['rate']:>6.0f}  achieved {result['achieved_rate']:>8.1f} req/s "
            f"({result['rate_error_pct']:+6.2f} %)  sent {result['sent']}/{result['planned']}  "
            f"errors {result['errors']}  send lag P99 {lag['p99']:.2f} ms  "
            f"latency P50 {lat['p50']:.2f} ms P99 {lat['p99']:.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-httpx", action="store_true")
    parser.add_argument("--refservice", action="store_true")
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", TRIVIAL_SERVER, str(port)])
    results = {}
    try:
        wait_listening(port)
        url = f"http://127.0.0.1:{port}"
        for distribution in ("constant", "poisson"):
            results[f"raw, {distribution}"] = run(LoadSpec(
                url=url, rate=args.rate, duration_s=args.seconds, distribution=distribution, mix="/trivial=1",
                connections=args.connections))
        if not args.no_httpx:
            results["httpx, constant"] = run(LoadSpec(
                url=url, rate=args.rate, duration_s=min(args.seconds, 5), mix="/trivial=1",
                connections=args.connections, transport="httpx", drain_s=5))
    finally:
        server.terminate()
        server.wait(10)
    if args.refservice:
        port = free_port()
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
        server = subprocess.Popen([sys.executable, "-c", REFSERVICE_SERVER.format(root=root), str(port)])
        try:
            wait_listening(port)
            results["raw, refservice /healthz"] = run(LoadSpec(
                url=f"http://127.0.0.1:{port}", rate=args.rate, duration_s=args.seconds, mix="/healthz=1",
                connections=args.connections))
        finally:
            server.terminate()
            server.wait(10)

    print(f"open-loop load generator, {args.rate:.0f} req/s for {args.seconds:.0f} s against a trivial endpoint")
    for label, result in results.items():
        print(line(label, result))
    main_result = results["raw, constant"]
    ok = abs(main_result["rate_error_pct"]) <= 2.0 and main_result["errors"] == 0
    print(f"\nraw transport, constant schedule: achieved {main_result['achieved_rate']:.1f} req/s for a target "
          f"of {args.rate:.0f} ({main_result['rate_error_pct']:+.2f} %): "
          f"{'within' if ok else 'NOT within'} 2 %")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
