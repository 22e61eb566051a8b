"""The PostgreSQL collector: one short, read-only session per server into a JSON snapshot.

Safety first: every session is opened with ``default_transaction_read_only=on``, a
``statement_timeout`` and a ``lock_timeout`` (so a catalog query never queues behind DDL), in
autocommit mode so one failing query (a missing privilege, a disabled extension) costs only its
own section. The collector never writes and never creates an extension.

Each query is set-based (one statement per section, whatever the number of tables), so the time
grows with rows returned, not with round trips: that keeps a 1,000-table database within a
small factor of a 10-table one (bench/bench_postgres_collect.py).

Sections: ``server``, ``host``, ``settings``, ``role_settings``, ``tables``, ``indexes``, ``io``,
``activity``, ``statements``, ``wraparound``, ``sequences``, ``replication``, ``slots`` and
``replicas`` (one entry per configured replica DSN, read concurrently). A section the role may not
read is recorded in ``errors`` with a one-line reason, so only the checks needing it say ``error``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from pydantic import Field, field_validator

from checks.postgres.outbox_collect import OutboxOptions, read_outbox
from checks.postgres.sql import (
    ACTIVITY_SQL,
    CITE_SQL,
    INDEXES_SQL,
    IO_SQL,
    MAX_CITED,
    REPLICA_INDEX_SCANS_SQL,
    REPLICA_TABLE_SCANS_SQL,
    SENDERS_SQL,
    SEQUENCES_SQL,
    SERVER_SQL,
    SETTINGS,
    STANDBY_SQL,
    TABLES_SQL,
    WAL_RECEIVER_SQL,
    WRAP_DB_SQL,
    WRAP_TABLES_SQL,
)
from checks.postgres.tuning import WORKLOADS, parse_size
from scaleready.api import CollectError, Snapshot, Target, TargetOptions, collector
from scaleready.faults import describe_failure, server_text

NEEDS_STATS_ROLE = (
    "role {user!r} cannot read other sessions' statistics: grant it pg_monitor (or pg_read_all_stats)"
)


class PostgresOptions(TargetOptions):
    """Keys of a ``postgres`` target (secrets by reference, e.g. ``dsn: ${PG_DSN}``)."""

    dsn: str
    replicas: list[str] = Field(default_factory=list)
    memory: str | float | None = None
    cpus: int | None = Field(default=None, ge=1)
    storage: Literal["ssd", "hdd", "san", "nvme"] | None = None
    workload: Literal["web", "oltp", "dw", "desktop", "mixed"] = "web"
    statement_timeout_ms: int = Field(default=5000, ge=100)
    large_table_rows: int = Field(default=10_000, ge=1)
    long_running_seconds: float = Field(default=300.0, gt=0)
    idle_in_transaction_seconds: float = Field(default=60.0, gt=0)
    slow_query_ms: float = Field(default=500.0, gt=0)
    max_lag_seconds: float = Field(default=10.0, gt=0)
    max_lag_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    outbox: OutboxOptions = Field(default_factory=OutboxOptions)

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: Any) -> Any:
        if value is not None:
            parse_size(value)
        return value


def safe_dsn(dsn: str) -> str:
    """The DSN as a keyword string without any password (what snapshots and messages show)."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparseable dsn>"
    parts.pop("password", None)
    parts.pop("passfile", None)
    return make_conninfo(**{k: v for k, v in parts.items() if v is not None})


def one_line(exc: BaseException) -> str:
    """A driver error as one readable, bounded line (psycopg errors span several)."""
    text = server_text(exc)
    return text or describe_failure(exc, "PostgreSQL")


async def connect(dsn: str, *, timeout: float, statement_timeout_ms: int) -> psycopg.AsyncConnection[Any]:
    """A read-only autocommit session with a statement and lock timeout; CollectError if it fails."""
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise CollectError("dsn is not a valid PostgreSQL connection string") from None
    options = (f"-c default_transaction_read_only=on -c statement_timeout={statement_timeout_ms} "
               f"-c lock_timeout={min(statement_timeout_ms, 1000)}")
    try:
        return await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, connect_timeout=max(1, int(timeout)), options=options,
            application_name="scaleready", row_factory=dict_row,
        )
    except psycopg.Error as exc:
        raise CollectError(f"cannot connect to {safe_dsn(dsn)}: {one_line(exc)}") from None


class _Session:
    """Runs section queries on one connection, filing failures under the section's name."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.data: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    async def rows(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        cur = await self.conn.execute(sql, params)
        return await cur.fetchall()

    async def one(self, sql: str, params: Any = None) -> dict[str, Any]:
        rows = await self.rows(sql, params)
        return rows[0] if rows else {}

    async def section(self, name: str, coro: Any) -> None:
        try:
            self.data[name] = await coro
        except CollectError as exc:
            self.errors[name] = str(exc)
        except psycopg.Error as exc:
            self.errors[name] = one_line(exc)


_PASSWORD_LITERAL = re.compile(r"(?i)(password\s*=?\s*)('(?:[^']|'')*'|\S+)")


def scrub_query(text: str | None) -> str | None:
    """Mask literal passwords in query text (ALTER ROLE ... PASSWORD '...', dblink conninfo)."""
    return _PASSWORD_LITERAL.sub(lambda m: m.group(1) + "'***'", text) if text else text


def lsn_to_int(lsn: str | None) -> int | None:
    """'16/B374D848' -> byte position, the same arithmetic as pg_wal_lsn_diff."""
    if not lsn:
        return None
    hi, _, lo = lsn.partition("/")
    return (int(hi, 16) << 32) + int(lo, 16)


async def _cite_indexes(s: _Session, indexes: list[dict[str, Any]]) -> None:
    """Exact size and CREATE INDEX text for the indexes a check may cite (at most MAX_CITED).

    Suspects are invalid, never-scanned non-unique, or sharing a leading column with another
    index of the same table; the biggest first. Everything else keeps the relpages estimate.
    """
    lead: dict[tuple[int, str], int] = {}
    for ix in indexes:
        ix["definition"] = None
        key = (ix["table_oid"], ix["key"].split(" ", 1)[0])
        lead[key] = lead.get(key, 0) + 1
    suspects = [ix for ix in indexes if not ix["is_valid"] or (ix["idx_scan"] == 0 and not ix["is_unique"])
                or lead[(ix["table_oid"], ix["key"].split(" ", 1)[0])] > 1]
    suspects.sort(key=lambda ix: -(ix["bytes"] or 0))
    chosen = {ix["oid"]: ix for ix in suspects[:MAX_CITED]}
    if not chosen:
        return
    for row in await s.rows(CITE_SQL, (list(chosen),)):
        chosen[row["oid"]].update(bytes=row["bytes"], definition=row["definition"])


def _index_scans_per_table(data: dict[str, Any]) -> None:
    """Each table's idx_scan (the sum over its indexes, None without any), as pg_stat_user_tables has it."""
    if "tables" not in data:
        return
    per_table: dict[int, int] = {}
    for ix in data.get("indexes") or []:
        per_table[ix["table_oid"]] = per_table.get(ix["table_oid"], 0) + (ix.get("idx_scan") or 0)
    known = "indexes" in data
    for table in data["tables"]:
        table["idx_scan"] = per_table.get(table["oid"]) if known else None


async def _settings(s: _Session) -> dict[str, Any]:
    rows = await s.rows(
        "SELECT name, setting, unit, source, context, vartype, pending_restart, boot_val "
        "FROM pg_settings WHERE name = ANY(%s)", (list(SETTINGS),))
    return {r.pop("name"): r for r in rows}


async def _role_settings(s: _Session) -> list[dict[str, Any]]:
    rows = await s.rows(
        "SELECT coalesce(d.datname, '*') AS database, coalesce(r.rolname, '*') AS role, s.setconfig AS settings "
        "FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase "
        "LEFT JOIN pg_roles r ON r.oid = s.setrole ORDER BY 1, 2")
    out = []
    for row in rows:
        pairs = dict(item.split("=", 1) for item in row["settings"] or [] if "=" in item)
        out.append({"database": row["database"], "role": row["role"], "settings": pairs})
    return out


async def _needs_stats(s: _Session, sql: str, server: dict[str, Any]) -> list[dict[str, Any]]:
    if not (server.get("read_all_stats") or server.get("superuser")):
        raise CollectError(NEEDS_STATS_ROLE.format(user=server.get("user")))
    rows = await s.rows(sql)
    for row in rows:
        if "query" in row:
            row["query"] = scrub_query(row["query"])
    return rows


async def _statements(s: _Session, server: dict[str, Any]) -> dict[str, Any]:
    ext = await s.one("SELECT extnamespace::regnamespace::text AS schema, extversion AS version "
                      "FROM pg_extension WHERE extname = 'pg_stat_statements'")
    if not ext:
        return {"installed": False,
                "reason": f"pg_stat_statements is not installed in database {server.get('database')!r}"}
    if not (server.get("read_all_stats") or server.get("superuser")):
        raise CollectError(NEEDS_STATS_ROLE.format(user=server.get("user")))
    schema = sql.Identifier(ext["schema"])
    query = sql.SQL(
        "SELECT queryid::text AS queryid, calls, total_exec_time AS total_ms, mean_exec_time AS mean_ms, "
        "max_exec_time AS max_ms, rows, left(query, 300) AS query FROM {}.pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "ORDER BY mean_exec_time DESC LIMIT 25").format(schema)
    try:
        top = await s.rows(query)
    except psycopg.errors.ObjectNotInPrerequisiteState as exc:
        return {"installed": True, "available": False, "reason": one_line(exc)}
    return {"installed": True, "available": True, "version": ext["version"], "top_by_mean": top}


async def _replication(s: _Session, server: dict[str, Any]) -> dict[str, Any]:
    if server.get("in_recovery"):
        standby = await s.one(STANDBY_SQL)
        return {"role": "standby", "standby": standby, "senders": []}
    cur = await s.one("SELECT pg_current_wal_lsn()::text AS lsn")
    senders = await _needs_stats(s, SENDERS_SQL, server)
    return {"role": "primary", "current_wal_lsn": cur["lsn"], "senders": senders}


async def _slots(s: _Session, server: dict[str, Any]) -> list[dict[str, Any]]:
    head = "pg_last_wal_receive_lsn()" if server.get("in_recovery") else "pg_current_wal_lsn()"
    return await s.rows(
        "SELECT slot_name, slot_type, active, wal_status, restart_lsn::text AS restart_lsn, "
        f"pg_wal_lsn_diff({head}, restart_lsn)::float8 AS retained_bytes, safe_wal_size "
        "FROM pg_replication_slots ORDER BY slot_name")


async def _collect_primary(dsn: str, opts: PostgresOptions, timeout: float) -> tuple[dict[str, Any], dict[str, str]]:
    conn = await connect(dsn, timeout=timeout, statement_timeout_ms=opts.statement_timeout_ms)
    try:
        s = _Session(conn)
        server = await s.one(SERVER_SQL)
        server["dsn"] = safe_dsn(dsn)
        s.data["server"] = server
        await s.section("settings", _settings(s))
        await s.section("role_settings", _role_settings(s))
        await s.section("tables", s.rows(TABLES_SQL))
        await s.section("indexes", s.rows(INDEXES_SQL))
        _index_scans_per_table(s.data)
        if "indexes" in s.data:
            await s.section("index_details", _cite_indexes(s, s.data["indexes"]))
            s.data.pop("index_details", None)
        await s.section("io", s.one(IO_SQL))
        await s.section("activity", _needs_stats(s, ACTIVITY_SQL, server))
        await s.section("statements", _statements(s, server))

        async def wrap() -> dict[str, Any]:
            return {"databases": await s.rows(WRAP_DB_SQL), "tables": await s.rows(WRAP_TABLES_SQL)}

        await s.section("wraparound", wrap())
        await s.section("sequences", s.rows(SEQUENCES_SQL))
        await s.section("replication", _replication(s, server))
        await s.section("slots", _slots(s, server))
        await s.section("outbox", read_outbox(s.rows, opts.outbox))
        return s.data, s.errors
    finally:
        await conn.close()


async def collect_replica(dsn: str, opts: PostgresOptions, timeout: float) -> dict[str, Any]:
    """What one replica says about itself: recovery state, received/replayed WAL, and the scans it
    served (reads routed to replicas never show in the primary's statistics)."""
    entry: dict[str, Any] = {"dsn": safe_dsn(dsn)}
    try:
        conn = await connect(dsn, timeout=timeout, statement_timeout_ms=opts.statement_timeout_ms)
    except CollectError as exc:
        entry["error"] = str(exc)
        return entry
    try:
        s = _Session(conn)
        await s.section("standby", s.one(STANDBY_SQL))
        await s.section("wal_receiver", s.rows(WAL_RECEIVER_SQL))
        await s.section("index_scans", s.rows(REPLICA_INDEX_SCANS_SQL))
        await s.section("table_scans", s.rows(REPLICA_TABLE_SCANS_SQL))
        entry.update(s.data.pop("standby", {}))
        receivers = s.data.get("wal_receiver")
        entry["wal_receiver"] = receivers[0] if receivers else None
        entry["index_scans"] = {str(r["oid"]): r["idx_scan"] for r in s.data.get("index_scans", [])}
        entry["table_scans"] = {str(r["oid"]): {"seq_scan": r["seq_scan"], "seq_tup_read": r["seq_tup_read"]}
                                for r in s.data.get("table_scans", [])}
        if s.errors:
            entry["errors"] = s.errors
        if "standby" in s.errors:
            entry["error"] = s.errors["standby"]
    finally:
        await conn.close()
    return entry


@collector("postgres", options=PostgresOptions)
async def collect(target: Target) -> Snapshot:
    """Read settings, statistics, replication state and each replica's view, read-only."""
    try:
        opts = PostgresOptions.model_validate(dict(target.options))
    except ValueError as exc:
        first = getattr(exc, "errors", lambda: [{}])()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "options"
        raise CollectError(f"invalid postgres target option {where}: {first.get('msg', exc)}") from None
    per_conn = max(1.0, min(10.0, target.timeout / 2))
    primary, *replicas = await asyncio.gather(
        _collect_primary(opts.dsn, opts, per_conn),
        *(collect_replica(dsn, opts, per_conn) for dsn in opts.replicas),
        return_exceptions=True,
    )
    if isinstance(primary, BaseException):
        if isinstance(primary, CollectError):
            raise primary
        raise CollectError(f"{safe_dsn(opts.dsn)}: {one_line(primary)}") from primary
    data, errors = primary
    data["host"] = {
        "memory": parse_size(opts.memory) if opts.memory is not None else None,
        "cpus": opts.cpus, "storage": opts.storage, "workload": opts.workload,
        "workloads": list(WORKLOADS),
    }
    data["replicas"] = [
        r if isinstance(r, dict) else {"dsn": safe_dsn(dsn), "error": one_line(r)}
        for dsn, r in zip(opts.replicas, replicas, strict=True)
    ]
    return Snapshot(target=target.name, kind=target.kind, data=data, errors=errors)
