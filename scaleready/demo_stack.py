"""Local child processes the demo owns: a throw-away PostgreSQL, Redis, exporters and Prometheus.

"No external service" means nothing the user runs or configures. When the binaries are
installed on the machine, the demo starts them itself in one temp dir, on free loopback
ports, points the reference service at them and checks them; afterwards every process is
stopped and the dir removed. A missing binary (or a PostgreSQL that cannot run as a
non-root user) is not an error: that part is skipped and `LocalStack.skipped` says why, so
the demo's output names what it could not show.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

PG_BIN = Path(os.environ.get("SCALEREADY_PG_BIN", "/usr/lib/postgresql/15/bin"))
READY_TIMEOUT_S = 30.0
# guide 3.1 scaled to the 1GB the demo config declares (data/demo/refservice.scaleready.yaml)
PG_SETTINGS = {"shared_buffers": "256MB", "effective_cache_size": "768MB", "maintenance_work_mem": "64MB",
               "work_mem": "4MB", "random_page_cost": "1.1", "max_connections": "200"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalStack:
    """What the demo started (URLs, None when skipped) and, per skipped part, why."""

    folder: Path
    postgres_admin_dsn: str | None = None
    postgres_replica_dsn: str | None = None  # a streaming hot standby of that cluster
    redis_url: str | None = None
    prometheus_url: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    daemons: list[int] = field(default_factory=list)  # pids not our children (the postmaster)
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def spawn(self, name: str, args: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a child process, its output to ``<name>.log`` in the stack's folder."""
        with (self.folder / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(list(args), env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes.append(proc)
        return proc

    @property
    def pids(self) -> list[int]:
        """Every process the stack started, so a caller can verify they are gone afterwards."""
        return [p.pid for p in self.processes] + self.daemons

    def log_tail(self, name: str, chars: int = 400) -> str:
        with contextlib.suppress(OSError):
            return " ".join((self.folder / f"{name}.log").read_text(errors="replace")[-chars:].split())
        return ""


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a child the demo started, and kill it if it has not gone within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def local_stack() -> Iterator[LocalStack]:
    """A folder for the demo's child processes; on exit they are stopped and it is removed."""
    stack = LocalStack(Path(tempfile.mkdtemp(prefix="scaleready-demo-stack-")))
    try:
        yield stack
    finally:
        for stop in reversed(stack._stops):
            with contextlib.suppress(Exception):
                stop()
        for proc in reversed(stack.processes):
            with contextlib.suppress(Exception):
                stop_process(proc)
        shutil.rmtree(stack.folder, ignore_errors=True)


def _wait(ready: Callable[[], bool], proc: subprocess.Popen[bytes] | None, what: str,
          timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} was not ready within {timeout:g}s")


def _http_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2).status_code == 200


# --- PostgreSQL -------------------------------------------------------------------------------

def _as_postgres(args: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: as root, run them as the ``postgres`` OS user."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _postgres_unavailable() -> str | None:
    missing = [b for b in ("initdb", "pg_ctl") if not (PG_BIN / b).exists()]
    if missing:
        return f"PostgreSQL binaries not found in {PG_BIN} (set SCALEREADY_PG_BIN)"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing (initdb refuses root)"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' OS user to run initdb as"
    return None


def start_postgres(stack: LocalStack) -> None:
    """initdb + pg_ctl start a cluster (trust auth, loopback only, pg_stat_statements preloaded)."""
    try:
        _start_postgres(stack)
    except (OSError, subprocess.TimeoutExpired) as exc:
        stack.skipped["postgres"] = f"could not start a local cluster: {exc}"


def _start_postgres(stack: LocalStack) -> None:
    reason = _postgres_unavailable()
    if reason:
        stack.skipped["postgres"] = reason
        return
    base = stack.folder / "pg"
    base.mkdir()
    if os.geteuid() == 0:
        stack.folder.chmod(0o755)
        shutil.chown(base, "postgres", "postgres")
    datadir, log = base / "data", base / "server.log"
    run = subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(datadir), "-U", "postgres",
                                       "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]),
                         capture_output=True, text=True, timeout=120, check=False)
    if run.returncode != 0:
        stack.skipped["postgres"] = f"initdb failed: {' '.join(run.stderr.split())[-300:]}"
        return
    port = free_port()
    conf = {"listen_addresses": "'127.0.0.1'", "port": str(port), "unix_socket_directories": f"'{base}'",
            "fsync": "off", "full_page_writes": "off", "shared_preload_libraries": "'pg_stat_statements'",
            **{k: f"'{v}'" for k, v in PG_SETTINGS.items()}}
    with (datadir / "postgresql.conf").open("a") as fh:
        fh.write("\n# the scaleready demo's throw-away cluster\n")
        fh.writelines(f"{k} = {v}\n" for k, v in conf.items())
    error = _pg_start(stack, datadir, log)
    if error:
        stack.skipped["postgres"] = error
        return
    stack.postgres_admin_dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    _start_replica(stack, base, port)


def _pg_start(stack: LocalStack, datadir: Path, log: Path) -> str | None:
    """pg_ctl start; the reason it failed, or None (then the postmaster is stopped with the stack)."""
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-w", "-t", "60"]
    # registered before the start: a postmaster that came up after pg_ctl gave up is stopped too
    stack._stops.append(lambda: subprocess.run(_as_postgres([*pg_ctl, "-m", "immediate", "stop"]),
                                               capture_output=True, timeout=90, check=False))
    started = subprocess.run(_as_postgres([*pg_ctl, "start"]), capture_output=True, text=True, timeout=90,
                             check=False)
    if started.returncode != 0:
        tail = log.read_text(errors="replace")[-300:] if log.exists() else started.stderr[-300:]
        return f"pg_ctl start failed: {' '.join(tail.split())}"
    with contextlib.suppress(OSError, ValueError, IndexError):
        stack.daemons.append(int((datadir / "postmaster.pid").read_text().split()[0]))
    return None


def _start_replica(stack: LocalStack, base: Path, primary_port: int) -> None:
    """A hot standby streaming from the primary (pg_basebackup -R), as guide 3.2 asks."""
    replica = base / "replica"
    backup = subprocess.run(_as_postgres([str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary_port),
                                          "-U", "postgres", "-D", str(replica), "-R", "-X", "stream", "-c", "fast",
                                          "--no-sync"]),
                            capture_output=True, text=True, timeout=120, check=False)
    if backup.returncode != 0:
        stack.skipped["postgres replica"] = f"pg_basebackup failed: {' '.join(backup.stderr.split())[-300:]}"
        return
    port = free_port()
    with (replica / "postgresql.conf").open("a") as fh:
        fh.write(f"port = {port}\ncluster_name = 'replica1'\nhot_standby_feedback = on\n")
    error = _pg_start(stack, replica, base / "replica.log")
    if error:
        stack.skipped["postgres replica"] = error
        return
    stack.postgres_replica_dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"


# --- Redis ------------------------------------------------------------------------------------

def start_redis(stack: LocalStack) -> None:
    """A bounded redis-server without persistence on a free loopback port."""
    exe = shutil.which("redis-server")
    if exe is None:
        stack.skipped["redis"] = "redis-server is not installed"
        return
    port = free_port()
    proc = stack.spawn("redis", [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru",
                                 "--dir", str(stack.folder)])
    import redis

    try:
        _wait(lambda: bool(redis.Redis(port=port, socket_timeout=1).ping()), proc, "redis-server")
    except RuntimeError as exc:
        stack.skipped["redis"] = f"{exc}: {stack.log_tail('redis')}"
        return
    stack.redis_url = f"redis://127.0.0.1:{port}/0"


# --- exporters and Prometheus -----------------------------------------------------------------

def _start_exporter(stack: LocalStack, job: str, args: list[str], env: dict[str, str] | None = None) -> str | None:
    """An exporter on a free port (``args`` get ``{port}`` filled in); its ``host:port`` or None."""
    exe = shutil.which(args[0])
    if exe is None:
        stack.skipped[job] = f"{args[0]} is not installed"
        return None
    port = free_port()
    proc = stack.spawn(job, [exe, *(a.format(port=port) for a in args[1:])], env=env)
    try:
        _wait(_http_ok(f"http://127.0.0.1:{port}/metrics"), proc, args[0])
    except RuntimeError as exc:
        stack.skipped[job] = f"{exc}: {stack.log_tail(job)}"
        return None
    return f"127.0.0.1:{port}"


def start_prometheus(stack: LocalStack, service_url: str, rule_files: Sequence[Path],
                     database_dsns: Sequence[str] = ()) -> None:
    """Prometheus (1 s scrapes) over the service's /metrics and whatever exporters are installed."""
    exe = shutil.which("prometheus")
    if exe is None:
        stack.skipped["prometheus"] = "prometheus is not installed"
        return
    jobs = {"refservice": [service_url.split("://", 1)[1]]}
    node = _start_exporter(stack, "postgres-node",
                           ["prometheus-node-exporter", "--web.listen-address=127.0.0.1:{port}"])
    if node:
        jobs["postgres-node"] = [node]
    if stack.redis_url:
        redis_exp = _start_exporter(stack, "redis-exporter",
                                    ["prometheus-redis-exporter", "-redis.addr",
                                     stack.redis_url.rsplit("/", 1)[0], "-web.listen-address",
                                     "127.0.0.1:{port}", "-check-streams", "db0=rs:stream:*"])
        if redis_exp:
            jobs["redis"] = [redis_exp]
    for n, dsn in enumerate(database_dsns):  # one exporter per node, as in production
        pg_exp = _start_exporter(stack, f"postgres-exporter-{n}",
                                 ["prometheus-postgres-exporter", "--web.listen-address=127.0.0.1:{port}"],
                                 env={**os.environ, "DATA_SOURCE_NAME": dsn + "?sslmode=disable"})
        if pg_exp:
            jobs.setdefault("postgres", []).append(pg_exp)
    root = stack.folder / "prometheus"
    root.mkdir()
    config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
              "rule_files": [str(p.resolve()) for p in rule_files],
              "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}
                                 for job, targets in jobs.items()]}
    (root / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = stack.spawn("prometheus", [exe, f"--config.file={root / 'prometheus.yml'}",
                                      f"--storage.tsdb.path={root / 'data'}",
                                      f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"])
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(_http_ok(f"{url}/-/ready"), proc, "prometheus")
    except RuntimeError as exc:
        stack.skipped["prometheus"] = f"{exc}: {stack.log_tail('prometheus')}"
        return
    stack.prometheus_url = url


def _query(url: str, promql: str) -> list[object]:
    return list(httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=2).json()["data"]["result"])


def wait_prometheus_scraping(url: str, timeout: float = 20.0) -> bool:
    """Until every target was scraped once: traffic sent after this shows up as a rate."""
    try:
        _wait(lambda: bool(_query(url, "min(count_over_time(up[1m])) >= 1")), None, "prometheus scrapes", timeout)
    except RuntimeError:
        return False
    return True


def wait_prometheus_data(url: str, timeout: float = 20.0) -> bool:
    """Until the service's requests show as a rate (two scrapes around the traffic) and every
    rule was evaluated, so the SLO queries measure instead of answering NaN."""
    def ready() -> bool:
        rules = [r for g in httpx.get(f"{url}/api/v1/rules", timeout=2).json()["data"]["groups"]
                 for r in g["rules"]]
        return (bool(_query(url, "sum(rate(http_requests_total[1m])) > 0"))
                and bool(_query(url, "min(count_over_time(up[1m])) >= 2"))
                and all(r.get("health") not in (None, "unknown") for r in rules))

    try:
        _wait(ready, None, "prometheus data", timeout)
    except RuntimeError:
        return False
    return True
