"""The transactional outbox (guide 4.2) from the service database: bounded backlog, no stuck rows.

Pure over the ``outbox`` section (``checks.postgres.outbox_collect``). No outbox table is a
``skip`` that says how to name one; a table whose columns could not be recognised is ``error``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checks.postgres.common import human_seconds
from checks.postgres.outbox_collect import OutboxOptions
from scaleready.api import Outcome, Severity, Snapshot, Target, check, errored, failed, passed, skipped

KIND = "postgres"
ITEMS = ["comm.outbox", "roadmap.p3.event_driven"]


def _options(target: Target) -> OutboxOptions:
    raw = target.option("outbox")
    return raw if isinstance(raw, OutboxOptions) else OutboxOptions.model_validate(raw or {})


def _tables(snapshot: Snapshot) -> Iterator[tuple[int, dict[str, Any]] | Outcome]:
    section = snapshot.section("outbox")
    tables = section.get("tables") or []
    if not tables:
        configured = (section.get("configured") or {}).get("table")
        where = f"table {configured!r} not found" if configured else "no table named *outbox*"
        yield skipped(f"no outbox in this database ({where}); name it under the target's outbox.table",
                      pointer="/outbox")
        return
    for index, table in enumerate(tables):
        if table.get("reason"):
            yield errored(f"outbox {table['table']}: {table['reason']}", subject=table["table"],
                          pointer=f"/outbox/tables/{index}")
        else:
            yield index, table


@check("postgres.outbox.backlog", kind=KIND, title="The outbox backlog is bounded",
       severity=Severity.WARNING, items=ITEMS, section="4.2",
       remediation="Run the outbox publisher continuously (poll, publish, mark sent in batches), scale it with "
                   "the write rate, and alert when the unpublished count grows.")
def outbox_backlog(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Unpublished rows at or under ``outbox.max_backlog`` (default 1000)."""
    limit = _options(target).max_backlog
    for item in _tables(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        index, table = item
        backlog = table["backlog"]
        shown = f"{backlog}{'+' if table.get('backlog_capped') else ''}"
        evidence = {"backlog": backlog, "limit": limit, "capped": table.get("backlog_capped"),
                    "published_column": table["published_column"]}
        pointer = f"/outbox/tables/{index}/backlog"
        if table.get("backlog_capped") and backlog <= limit:  # counting stopped at the cap: the real count is unseen
            yield errored(f"{table['table']}: counting stopped at {backlog} unpublished rows, at or under the limit "
                          f"{limit}; the real backlog is unknown (lower outbox.max_backlog below the count cap)",
                          subject=table["table"], pointer=pointer, evidence=evidence)
        elif backlog > limit:
            yield failed(f"{shown} unpublished rows in {table['table']} (limit {limit})", subject=table["table"],
                         pointer=pointer, evidence=evidence)
        else:
            yield passed(f"{shown} unpublished rows in {table['table']} (limit {limit})", subject=table["table"],
                         pointer=pointer, evidence=evidence)


@check("postgres.outbox.stuck", kind=KIND, title="No outbox row is stuck unpublished",
       severity=Severity.DANGER, items=ITEMS, section="4.2",
       remediation="Find why the oldest rows are not published (publisher down, poison message, broker "
                   "unreachable); retry with backoff and park poison rows with their error.")
def outbox_stuck(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """The oldest unpublished row is younger than ``outbox.max_age_seconds`` (default 300 s)."""
    limit = _options(target).max_age_seconds
    for item in _tables(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        index, table = item
        age = table.get("oldest_unpublished_age_s")
        evidence = {"oldest_unpublished_age_s": age, "limit_s": limit, "created_column": table["created_column"]}
        pointer = f"/outbox/tables/{index}/oldest_unpublished_age_s"
        if age is None:
            yield passed(f"{table['table']} has no unpublished row", subject=table["table"], pointer=pointer,
                         evidence=evidence)
        elif age > limit:
            yield failed(f"the oldest unpublished row in {table['table']} is {human_seconds(age)} old "
                         f"(limit {human_seconds(limit)})", subject=table["table"], pointer=pointer,
                         evidence=evidence)
        else:
            yield passed(f"the oldest unpublished row in {table['table']} is {human_seconds(age)} old "
                         f"(limit {human_seconds(limit)})", subject=table["table"], pointer=pointer,
                         evidence=evidence)
