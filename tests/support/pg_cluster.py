"""Throw-away PostgreSQL 15 clusters for tests: a primary and a real streaming replica.

Tests that prove replication checks (lag, stopped replica, replicas present) need a real
standby fed by WAL streaming, not a mock. This module builds one from the PostgreSQL 15
binaries in ``/usr/lib/postgresql/15/bin``, as the ``postgres`` OS user (via ``runuser``
when we are root), in a temp dir, on free loopback ports. Nothing here touches the shared
server on 5432.

API::

    from tests.support.pg_cluster import start_primary_with_replica, start_primary

    pair = start_primary_with_replica()          # base_dir=None -> a fresh temp dir
    pair.primary_dsn   # "postgresql://postgres@127.0.0.1:<port>/postgres" (trust auth)
    pair.replica_dsn   # same for the hot standby (read-only, streaming from the primary)
    pair.primary.port, pair.replica.port, pair.primary.datadir
    pair.wait_streaming(timeout=30)    # until pg_stat_replication shows state 'streaming'
    pair.pause_replay() / pair.resume_replay()   # pg_wal_replay_pause()/resume() on the standby
    pair.stop_replica() / pair.start_replica()   # pg_ctl stop -m fast / start (waits streaming)
    pair.close()                       # stops both, removes the temp dir; idempotent

    single = start_primary()           # one cluster, no standby: PgCluster(dsn, port, datadir)
    single.dsn_for("shop", user="app", password="pw")   # a DSN for another database/role
    with single.connect("postgres") as conn: ...         # autocommit psycopg connection as postgres
    single.close()

Options for both starters: ``settings`` (extra ``postgresql.conf`` lines as a dict, e.g.
``{"shared_preload_libraries": "pg_stat_statements"}``) and ``hba_lines`` (``pg_hba.conf``
lines placed *before* the default trust lines, e.g. a ``scram-sha-256`` rule for a role
to test wrong passwords). A replica is named ``replica1`` (its ``cluster_name``, so it is
the ``application_name`` in ``pg_stat_replication``).

Every cluster started here is also registered with ``atexit`` so a crashed test run never
leaves a postmaster behind; ``pair_fixture()`` builds a pytest fixture whose finalizer
calls ``close()``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

PG_BIN = Path(os.environ.get("SCALEREADY_PG_BIN", "/usr/lib/postgresql/15/bin"))
_OPEN: list[Any] = []  # clusters/pairs to close at exit


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(args: Sequence[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL binary as the postgres OS user (initdb refuses to run as root)."""
    cmd = list(args)
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
    return proc


def _chown_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _conf_value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class PgCluster:
    """One running postmaster: its data dir, port and a trust-auth DSN as user postgres."""

    datadir: Path
    port: int
    socket_dir: Path
    log_file: Path
    base_dir: Path | None = None  # removed on close() when we created it
    running: bool = False

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, dbname: str = "postgres", user: str = "postgres", password: str | None = None) -> str:
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("connect_timeout", 5)
        return psycopg.connect(self.dsn_for(dbname), **kwargs)

    def start(self, attempts: int = 3) -> None:
        """pg_ctl start; if another process grabbed our free port meanwhile, move to a new one."""
        for attempt in range(attempts):
            try:
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.log_file),
                              "-w", "-t", "60", "start"])
                self.running = True
                return
            except RuntimeError:
                if attempt == attempts - 1 or "could not bind" not in self.log_tail(4000):
                    raise
                self.port = free_port()
                with (self.datadir / "postgresql.conf").open("a") as fh:
                    fh.write(f"port = {self.port}  # previous port was taken\n")

    def stop(self, mode: str = "fast") -> None:
        if not self.running:
            return
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "-t", "60",
                          "stop"], timeout=90)
        self.running = False

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def close(self) -> None:
        self.stop("immediate")
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None


def _make_base(base_dir: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    if base_dir is None:
        path = Path(tempfile.mkdtemp(prefix="scaleready-pg-"))
        created = True
    else:
        path = Path(base_dir)
        path.mkdir(parents=True, exist_ok=True)
        created = False
    path.chmod(0o755)
    _chown_postgres(path)
    return path, created


def _init_primary(base: Path, settings: Mapping[str, Any], hba_lines: Sequence[str]) -> PgCluster:
    datadir, sockdir = base / "primary", base / "sock"
    sockdir.mkdir(exist_ok=True)
    _chown_postgres(sockdir)
    _as_postgres([str(PG_BIN / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync"])
    port = free_port()
    conf = {
        "listen_addresses": "127.0.0.1",
        "port": port,
        "unix_socket_directories": str(sockdir),
        "wal_level": "replica",
        "max_wal_senders": 5,
        "max_replication_slots": 5,
        "hot_standby": True,
        "wal_keep_size": "64MB",
        "fsync": False,
        "full_page_writes": False,
        "shared_buffers": "32MB",
        "max_connections": 40,
        "logging_collector": False,
        **dict(settings),
    }
    with (datadir / "postgresql.conf").open("a") as fh:
        fh.write("\n# added by tests/support/pg_cluster.py\n")
        fh.writelines(f"{k} = {_conf_value(v)}\n" for k, v in conf.items())
    hba = datadir / "pg_hba.conf"
    default = hba.read_text()
    hba.write_text("\n".join([*hba_lines, "host replication all 127.0.0.1/32 trust", default]))
    log = base / "primary.log"
    log.touch()
    _chown_postgres(log)
    return PgCluster(datadir=datadir, port=port, socket_dir=sockdir, log_file=log)


def start_primary(
    base_dir: str | os.PathLike[str] | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
    hba_lines: Sequence[str] = (),
) -> PgCluster:
    """initdb and start a single cluster (wal_level=replica) on a free port; caller closes it."""
    base, created = _make_base(base_dir)
    try:
        node = _init_primary(base, settings or {}, hba_lines)
        node.base_dir = base if created else None
        node.start()
    except BaseException:
        if created:
            shutil.rmtree(base, ignore_errors=True)
        raise
    _OPEN.append(node)
    return node


@dataclass
class ReplicaPair:
    """A primary and one hot standby streaming from it (see the module docstring)."""

    primary: PgCluster
    replica: PgCluster
    base_dir: Path | None = None
    application_name: str = "replica1"
    _closed: bool = field(default=False, repr=False)

    @property
    def primary_dsn(self) -> str:
        return self.primary.dsn

    @property
    def replica_dsn(self) -> str:
        return self.replica.dsn

    def wait_streaming(self, timeout: float = 30.0) -> None:
        """Poll the primary's pg_stat_replication until the standby streams (bounded)."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            with self.primary.connect() as conn:
                row = conn.execute(
                    "SELECT state FROM pg_stat_replication WHERE application_name = %s",
                    (self.application_name,),
                ).fetchone()
            state = row[0] if row else None
            if state == "streaming":
                return
            time.sleep(0.2)
        raise TimeoutError(f"replica not streaming after {timeout}s (state={state!r}); "
                           f"replica log: {self.replica.log_tail(600)}")

    def pause_replay(self) -> None:
        """Stop applying WAL on the standby (it keeps receiving): replay lag grows."""
        with self.replica.connect() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with self.replica.connect() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    def stop_replica(self) -> None:
        self.replica.stop("fast")

    def start_replica(self, wait: bool = True) -> None:
        self.replica.start()
        if wait:
            self.wait_streaming()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.replica.stop("immediate")
        self.primary.stop("immediate")
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)


def start_primary_with_replica(
    base_dir: str | os.PathLike[str] | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
    hba_lines: Sequence[str] = (),
    application_name: str = "replica1",
) -> ReplicaPair:
    """Start a primary, clone it with ``pg_basebackup -R`` and start the standby; waits until streaming."""
    base, created = _make_base(base_dir)
    primary: PgCluster | None = None
    replica: PgCluster | None = None
    try:
        primary = _init_primary(base, settings or {}, hba_lines)
        primary.start()
        rdir = base / "replica"
        _as_postgres([str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
                      "-U", "postgres", "-D", str(rdir), "-R", "-X", "stream", "-c", "fast", "--no-sync"])
        rport = free_port()
        with (rdir / "postgresql.conf").open("a") as fh:
            fh.write(f"port = {rport}\ncluster_name = {_conf_value(application_name)}\n"
                     "hot_standby_feedback = on\n")
        rlog = base / "replica.log"
        rlog.touch()
        _chown_postgres(rlog)
        replica = PgCluster(datadir=rdir, port=rport, socket_dir=primary.socket_dir, log_file=rlog)
        replica.start()
        pair = ReplicaPair(primary, replica, base if created else None, application_name)
        _OPEN.append(pair)
        pair.wait_streaming()
        return pair
    except BaseException:
        for node in (replica, primary):
            if node is not None:
                node.stop("immediate")
        if created:
            shutil.rmtree(base, ignore_errors=True)
        raise


def pair_fixture(
    scope: str = "session", name: str | None = None, **kwargs: Any
) -> Callable[..., Iterator[ReplicaPair]]:
    """A pytest fixture yielding a `ReplicaPair`, closed by its finalizer.

    In a conftest: ``replica_pair = pair_fixture("session")`` (the fixture takes the
    attribute's name unless ``name`` is given; other kwargs go to the starter).
    """
    import pytest

    @pytest.fixture(scope=scope, name=name)
    def _fixture() -> Iterator[ReplicaPair]:
        pair = start_primary_with_replica(**kwargs)
        try:
            yield pair
        finally:
            pair.close()

    return _fixture


@atexit.register
def _close_all() -> None:
    for item in reversed(_OPEN):
        with contextlib.suppress(Exception):
            item.close()
