"""Stale reads as a client sees them: an open-loop reader/writer that keeps every answer.

The load generator times requests but drops response bodies, so it cannot tell a stale read.
This client sends the same workload (Poisson arrivals, Zipf keys, a share of ``PUT
/products/{id}``) but every write sets ``stock`` to a value no other write uses, and every read
keeps the ``stock`` it got. A read is **stale** when it returns something other than the value of
the last write to that product that had completed before the read was sent. Reads that overlap a
write to the same product (sent before that write completed, or while it was in flight) are
**ambiguous** and left out of the fraction (their share is reported). Pacing is by
``asyncio.sleep`` (millisecond resolution): fine for counting stale reads, not for timing P99,
which is why the latency sweep uses the load generator.
"""

from __future__ import annotations

import asyncio
import bisect
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from refservice.loadgen.http1 import Connection, build_request, split_base
from refservice.loadgen.runner import login
from refservice.loadgen.schedule import zipf_keys


@dataclass
class _Record:
    key: int
    write: bool
    sent: float = 0.0
    done: float = -1.0
    value: int | None = None


async def _run(url: str, rate: float, duration_s: float, keys: int, zipf: float, write_ratio: float, seed: int,
               connections: int, burst: int = 1, token: str | None = None) -> list[_Record]:
    host, port, netloc = split_base(url)
    token = token or await login(host, port, netloc, "demo", "demo")
    rng = np.random.default_rng(seed)
    n = max(1, round(rate * duration_s))
    # Poisson arrivals of bursts of ``burst`` requests sent at the same instant (1 = plain Poisson)
    offsets = np.repeat(np.cumsum(rng.exponential(burst / rate, -(-n // burst))), burst)[:n]
    records = [_Record(int(k), bool(w)) for k, w in zip(zipf_keys(keys, zipf, n, rng), rng.random(n) < write_ratio,
                                                          strict=True)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    auth = {"Authorization": f"Bearer {token}"}

    async def worker() -> None:
        conn = Connection(host, port)
        try:
            while True:
                i = await queue.get()
                rec = records[i]
                rec.sent = loop.time()
                if rec.write:
                    rec.value = 1_000_000 + i  # unique: no two writes leave the same stock
                    raw = build_request("PUT", f"/products/{rec.key}", netloc,
                                        json.dumps({"stock": rec.value}).encode(), auth)
                else:
                    raw = build_request("GET", f"/products/{rec.key}", netloc)
                try:
                    status, body = await asyncio.wait_for(conn.request(raw), 10)
                except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError):
                    conn.close()
                    continue
                if status == 200:
                    rec.done = loop.time()
                    if not rec.write:
                        rec.value = int(json.loads(body)["stock"])
        finally:
            conn.close()

    tasks = [asyncio.create_task(worker()) for _ in range(connections)]
    t0 = loop.time() + 0.05
    for i, off in enumerate(offsets):
        wait = t0 + off - loop.time()
        await asyncio.sleep(max(0.0, wait))  # also yields to the workers when running late
        queue.put_nowait(i)
    deadline = loop.time() + 15
    while any(r.done < 0 for r in records[-connections:]) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return records


def classify(records: list[_Record]) -> dict[str, Any]:
    """Count fresh, stale and ambiguous reads (see the module docstring for the rule)."""
    writes: dict[int, list[_Record]] = {}
    for r in records:
        if r.write and r.done >= 0:
            writes.setdefault(r.key, []).append(r)
    for ws in writes.values():
        ws.sort(key=lambda w: w.done)
    fresh = stale = ambiguous = failed = 0
    for r in records:
        if r.write:
            continue
        if r.done < 0 or r.value is None:
            failed += 1
            continue
        ws = writes.get(r.key, [])
        if any(w.sent < r.done and w.done > r.sent for w in ws):  # a write overlapped this read
            ambiguous += 1
            continue
        done_times = [w.done for w in ws]
        last = bisect.bisect_left(done_times, r.sent) - 1
        if last < 0:
            fresh += 1  # no write to this product finished before: any copy is current
        elif r.value == ws[last].value:
            fresh += 1
        else:
            stale += 1
    judged = fresh + stale
    return {"reads_judged": judged, "stale": stale, "ambiguous": ambiguous, "failed": failed,
            "stale_fraction": stale / judged if judged else float("nan"),
            "ambiguous_share": ambiguous / max(1, judged + ambiguous),
            "writes": sum(1 for r in records if r.write)}


def stale_run(url: str, *, rate: float, duration_s: float, keys: int, zipf: float = 1.0, write_ratio: float = 0.02,
              seed: int = 1, connections: int = 32) -> dict[str, Any]:
    """One open-loop run against ``url``; the stale-read count of its reads."""
    return classify(asyncio.run(_run(url, rate, duration_s, keys, zipf, write_ratio, seed, connections)))


def burst_run(url: str, *, rate: float, duration_s: float, keys: int, burst: int, zipf: float = 1.0,
              write_ratio: float = 0.02, seed: int = 1, token: str | None = None) -> dict[str, Any]:
    """Requests in bursts of ``burst`` at ``rate`` on average (light load): the service's loops stay
    awake through a burst. Returns how many requests were answered. ``token``: a write token taken
    beforehand (else one login, whose password hashing the service pays, starts the run)."""
    records = asyncio.run(_run(url, rate, duration_s, keys, zipf, write_ratio, seed, max(32, 4 * burst), burst,
                               token))
    return {"requests": sum(1 for r in records if r.done >= 0), "planned": len(records), "burst": burst}
