"""A scaled reference deployment for bench/validate_knee.py: N worker processes, a PostgreSQL
primary + streaming replica, Redis, and CPU placement recorded with every run.

* **Workers.** N processes of the reference service (`refservice.app.create_app`), each its own
  event loop and its own L1, all listening on one port with ``SO_REUSEPORT`` (the kernel spreads
  the load generator's keep-alive connections over them by a hash of the 4-tuple) and each also on
  a private port, so that its own ``/metrics`` (its L1 hits, its CPU) can be read apart.
* **Application work.** ``work_ms`` of CPU per product request, in ``work_chunks`` slices with an
  ``await`` between them, before the reference service answers: a handler that computes (templating,
  business rules) between its awaits. Without it the reference service needs ~0.4 ms of CPU per
  request and saturates its core only above ~2,000 req/s, beyond what the Python load generator
  sends from the other (shared) core: the overload run then measured the generator, not the
  service. With it the knee sits at a few hundred req/s, well inside the generator's range.
* **A worker as it runs in production.** Each worker makes one full garbage collection as soon as it
  has started. CPython runs a full collection only once the objects promoted since the last one exceed
  a quarter of those that survived it, and the last one before that was made during the imports, on a
  heap a fraction of the running one: a fresh worker's first full collection (60-130 ms, the whole heap
  walked) came a few thousand requests after start, so inside every measured window at 85 % of
  capacity and above, and in none below (the kept knee runs of stop 14) -- a start-up event that the
  bench's fresh workers put in every run and a long-running worker pays once. After this collection a
  worker collects at the pace it keeps (``python_gc_promoted_objects_total``), and the bench times the
  pause on the real heap (``python_gc_pause_seconds``).
* **CPU placement.** On this 2-core machine the workers are pinned (``taskset``) to one core, the
  "service core"; this process (the load generator) and the throw-away PostgreSQL cluster to the
  other. The affinity every process really has is read back from the kernel and recorded.
  The shared Redis server (and the other engineers' work) is not ours to pin: it runs where the
  kernel puts it, which the host-load figures of each run account for.
* **PostgreSQL.** tests/support/pg_cluster.py's primary + replica; ``replica_apply_delay`` sets
  ``recovery_min_apply_delay`` on the replica (ALTER SYSTEM + reload) for the stale-read run.
* **Redis.** db ``REDIS_DB`` of the shared server, a unique key prefix per run (never FLUSHDB on a
  shared server); `Deployment.drop_keys` removes this bench's keys at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
REDIS_DB = 9
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
KEY_ROOT = "kneebench:"
NICE = -15
"""Scheduling priority of the workers, the load generator and the PostgreSQL pair: other work on the
host (nice 0) still runs, but the kernel's fair scheduler gives our processes ~30x its weight when
both want a core, so a co-tenant's test does not take half of the service core mid-run. (Not a
real-time class: that would starve the other engineers' runs instead of sharing with them.)"""

WORKER = """
import asyncio, gc, json, socket, sys, time, uvicorn
from refservice.app import create_app
from refservice.settings import Settings
settings, seed, port, own = Settings(**json.loads(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
work_s, chunks = float(sys.argv[5]) / 1000, int(sys.argv[6])
service = create_app(settings, seed=seed)

async def app(scope, receive, send):
    if scope["type"] == "lifespan":  # one full collection once started (see knee_deploy's docstring)
        async def started(message):
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                gc.collect()
        await service(scope, receive, started)
        return
    # application work between awaits, as a handler that computes does (see knee_deploy's docstring)
    if scope["type"] == "http" and scope["path"].startswith("/products/") and work_s > 0:
        for _ in range(chunks):
            end = time.thread_time() + work_s / chunks
            while time.thread_time() < end:
                pass
            await asyncio.sleep(0)
    await service(scope, receive, send)
if len(sys.argv) > 7:  # per-request timings for bench/knee_tail.py (bench/knee_probe.py)
    from pathlib import Path
    sys.path.insert(0, "bench")
    from knee_probe import instrument
    app = instrument(app, Path(sys.argv[7]))
shared = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
shared.bind(("127.0.0.1", port))
private = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
private.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
private.bind(("127.0.0.1", own))
config = uvicorn.Config(app, log_level="warning", access_log=False, backlog=2048, lifespan="on")
uvicorn.Server(config).run(sockets=[shared, private])
"""


def own_autogroup(nice: int = NICE) -> str:
    """Put this process (and the children it starts) in a scheduling group of its own with ``nice``.

    With ``kernel.sched_autogroup_enabled`` (on here) the fair scheduler shares a core between
    *sessions* first and applies a process's nice value only inside its session: a nice -15 worker
    still got a quarter of its core while three other sessions ran tests on it. A new session
    (setsid) is a new autogroup, and its nice is written to /proc/self/autogroup."""
    with contextlib.suppress(OSError):  # already a session leader: keep the session
        os.setsid()
    group = Path("/proc/self/autogroup")
    try:
        group.write_text(str(nice))
        return group.read_text().strip()
    except OSError as exc:
        return f"autogroup not set ({exc.strerror})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def affinity(pid: int) -> dict[str, object]:
    """The CPUs the kernel lets ``pid`` run on, its nice value and its scheduling group (read back,
    not what we asked for)."""
    try:
        group = Path(f"/proc/{pid}/autogroup").read_text().strip()
    except OSError:
        group = "unknown"
    return {"cpus": sorted(os.sched_getaffinity(pid)), "nice": os.getpriority(os.PRIO_PROCESS, pid),
            "autogroup": group}


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc, no psutil here)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def pin_tree(pid: int, cpus: set[int]) -> None:
    """Pin a process and its current children (PostgreSQL's backends fork from the postmaster,
    so later ones inherit the postmaster's affinity)."""
    for p in [pid, *children(pid)]:
        try:
            os.sched_setaffinity(p, cpus)
            os.setpriority(os.PRIO_PROCESS, p, NICE)
            Path(f"/proc/{p}/autogroup").write_text(str(NICE))  # the postmaster is a session leader of its own
        except OSError:
            continue


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def context_switches(pid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches of every thread of ``pid``. A voluntary switch is the
    event loop blocking in epoll with nothing ready: each one is paid again as a wake-up."""
    vol = invol = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            lines = (task / "status").read_text().splitlines()
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
        for line in lines:
            if line.startswith("voluntary_ctxt_switches"):
                vol += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches"):
                invol += int(line.split()[1])
    return vol, invol


class Workers:
    """N reference-service processes on one SO_REUSEPORT port, pinned to ``service_cpus``."""

    def __init__(self, *, n: int, settings: dict[str, Any], keys: int, service_cpus: set[int], work_ms: float = 0.0,
                 work_chunks: int = 3, probe_dir: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.own_ports: list[int] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        cpus = ",".join(str(c) for c in sorted(service_cpus))
        try:
            for i in range(n):
                own = free_port()
                cmd = ["taskset", "-c", cpus, sys.executable, "-c", WORKER,  # nice: inherited from the bench
                       json.dumps(settings), str(keys if i == 0 else 0), str(self.port), str(own), str(work_ms),
                       str(work_chunks)] + ([str(probe_dir / f"worker{i}.json")] if probe_dir else [])
                proc = subprocess.Popen(cmd,
                                        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                self.procs.append(proc)
                self.own_ports.append(own)
                self._wait_ready(proc, f"http://127.0.0.1:{own}")
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited: {proc.stderr.read().decode()[-600:] if proc.stderr else ''}")
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"worker at {url} not ready in {timeout:g} s")

    @property
    def private_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.own_ports]

    def cpu_seconds(self) -> list[float]:
        return [cpu_seconds(p.pid) for p in self.procs]  # taskset and nice exec the worker: same pid

    def context_switches(self) -> tuple[int, int]:
        """(voluntary, involuntary) context switches summed over the workers."""
        both = [context_switches(p.pid) for p in self.procs]
        return sum(v for v, _ in both), sum(i for _, i in both)

    def placement(self) -> list[dict[str, object]]:
        return [affinity(p.pid) for p in self.procs]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def postmaster_pid(datadir: Path) -> int:
    return int((datadir / "postmaster.pid").read_text().splitlines()[0])


def set_apply_delay(replica_dsn: str, delay_ms: int) -> None:
    """recovery_min_apply_delay on the standby (0 = off); a reload is enough."""
    import psycopg

    with psycopg.connect(replica_dsn, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET recovery_min_apply_delay = '{int(delay_ms)}ms'")
        conn.execute("SELECT pg_reload_conf()")


def drop_keys(prefix: str = KEY_ROOT) -> int:
    """Delete this bench's keys from the shared Redis db (by prefix, never FLUSHDB)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    n = 0
    for key in client.scan_iter(match=prefix + "*", count=1000):
        n += client.delete(key)
    return n


def host_load() -> dict[str, float]:
    """Load average and the share of the two cores busy outside this bench's own processes is
    not knowable from here; the 1-minute load average and the run queue are what we record."""
    one, five, _ = os.getloadavg()
    running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
    return {"loadavg_1m": one, "loadavg_5m": five, "runnable": running}


def core_busy() -> list[tuple[float, float]]:
    """Per-CPU (busy, total) jiffies from /proc/stat, to turn into per-core busy shares over a run."""
    out = []
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3].isdigit():
            v = [int(x) for x in line.split()[1:]]
            idle = v[3] + v[4]
            out.append((float(sum(v) - idle), float(sum(v))))
    return out


def busy_between(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> list[float]:
    return [(a[0] - b[0]) / max(1.0, a[1] - b[1]) for b, a in zip(before, after, strict=True)]


def idle_entries(cpu: int) -> int | None:
    """How many times ``cpu`` has entered an idle state (cpuidle's per-state usage counts; None where
    the kernel exposes no cpuidle driver). Each entry is paid again on the way out: a halted vCPU
    resumed by the hypervisor, caches and predictors cold."""
    root = Path(f"/sys/devices/system/cpu/cpu{cpu}/cpuidle")
    if not root.is_dir():
        return None
    return sum(int((state / "usage").read_text()) for state in root.glob("state*"))
