"""Reads the transactional outbox (guide 4.2) of a service database: backlog and oldest unpublished row.

The outbox is found by name (a table whose name contains ``outbox``, or the one named in the
target's ``outbox.table``) and its columns by convention: a creation time (``created_at``,
``occurred_at``, ...) and a publication marker (``published_at``, ``processed_at``, ``sent``,
...), timestamps or epoch numbers or a boolean flag. Only bounded, read-only queries: the count
stops at ``COUNT_CAP`` rows so a runaway backlog cannot make the collection itself slow.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field

COUNT_CAP = 100_000
CREATED = ("created_at", "occurred_at", "inserted_at", "enqueued_at", "created", "timestamp", "ts")
PUBLISHED = ("published_at", "processed_at", "sent_at", "dispatched_at", "delivered_at", "published",
             "processed", "sent", "dispatched")
_TIME_TYPES = {"timestamp with time zone", "timestamp without time zone"}
_EPOCH_TYPES = {"double precision", "numeric", "bigint", "integer", "real"}

TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name,
       array_agg(a.attname::text ORDER BY a.attnum) AS columns,
       array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) AS types
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND (%(table)s::text IS NULL AND c.relname ILIKE '%%outbox%%'
       OR %(table)s::text IN (c.relname, n.nspname || '.' || c.relname))
GROUP BY n.nspname, c.relname ORDER BY n.nspname, c.relname LIMIT 20
"""


class OutboxOptions(BaseModel):
    """The ``outbox:`` key of a ``postgres`` target; everything is found by convention when absent."""

    model_config = ConfigDict(extra="forbid")

    table: str | None = Field(None, description="schema.table or table; default: tables named *outbox*")
    created_column: str | None = None
    published_column: str | None = None
    max_backlog: int = Field(1000, ge=0, description="unpublished rows allowed")
    max_age_seconds: float = Field(300.0, gt=0, description="age past which an unpublished row is stuck")


def _pick(columns: dict[str, str], wanted: str | None, names: tuple[str, ...]) -> str | None:
    if wanted:
        return wanted if wanted in columns else None
    return next((n for n in names if n in columns), None)


def _age_expr(column: sql.Identifier, kind: str) -> sql.Composable:
    if kind in _TIME_TYPES:
        return sql.SQL("extract(epoch FROM now() - min({}))").format(column)
    return sql.SQL("extract(epoch FROM now()) - min({})::double precision").format(column)


async def read_outbox(rows: Any, opts: OutboxOptions) -> dict[str, Any]:
    """The ``outbox`` section: one entry per outbox table found. ``rows(query, params)`` runs a query."""
    tables = await rows(TABLES_SQL, {"table": opts.table})
    section: dict[str, Any] = {"configured": opts.model_dump(), "tables": []}
    for table in tables:
        columns = dict(zip(table["columns"], table["types"], strict=True))
        created = _pick(columns, opts.created_column, CREATED)
        published = _pick(columns, opts.published_column, PUBLISHED)
        entry: dict[str, Any] = {"table": f"{table['schema']}.{table['name']}", "created_column": created,
                                 "published_column": published, "columns": columns}
        if created is None or published is None:
            missing = "creation time" if created is None else "publication marker"
            entry["reason"] = (f"no {missing} column found (looked for "
                               f"{', '.join(CREATED if created is None else PUBLISHED)}); name it under outbox.")
            section["tables"].append(entry)
            continue
        ident = sql.Identifier(table["schema"], table["name"])
        pub = sql.Identifier(published)
        unpublished = (sql.SQL("{} IS NOT TRUE").format(pub) if columns[published] == "boolean"
                       else sql.SQL("{} IS NULL").format(pub))
        if columns[created] not in _TIME_TYPES | _EPOCH_TYPES:
            entry["reason"] = f"creation column {created} has type {columns[created]}, not a time or epoch number"
            section["tables"].append(entry)
            continue
        query = sql.SQL(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM {t} WHERE {u} LIMIT {cap}) s) AS backlog, "
            "(SELECT {age} FROM {t} WHERE {u}) AS oldest_age_s, "
            "(SELECT reltuples::bigint FROM pg_class WHERE oid = {reg}::regclass) AS estimated_rows"
        ).format(t=ident, u=unpublished, cap=sql.Literal(COUNT_CAP + 1), age=_age_expr(sql.Identifier(created),
                 columns[created]), reg=sql.Literal(f'"{table["schema"]}"."{table["name"]}"'))
        (stats,) = await rows(query, None)
        backlog = int(stats["backlog"])
        entry.update(backlog=min(backlog, COUNT_CAP), backlog_capped=backlog > COUNT_CAP,
                     oldest_unpublished_age_s=None if stats["oldest_age_s"] is None else float(stats["oldest_age_s"]),
                     estimated_rows=stats["estimated_rows"])
        section["tables"].append(entry)
    return section
