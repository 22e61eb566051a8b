"""The outbox checks on the local PostgreSQL: the reference service's own outbox, a conventional one in
good and bad states, none at all, and one whose columns cannot be recognised."""

from __future__ import annotations

import time

import psycopg
import pytest

from scaleready.api import Status
from tests.postgres._util import one, run, scratch_database

pytestmark = pytest.mark.postgres

def _exec(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def test_refservice_outbox_shape_is_found_and_healthy() -> None:
    """The reference service's table (epoch seconds in double precision), as its schema creates it."""
    from refservice.schema import _POSTGRES

    assert "EXISTS outbox (" in _POSTGRES[0]  # the service's own DDL, not a copy
    now = time.time()
    with scratch_database(prefix="sr_outbox") as dsn:
        _exec(dsn, _POSTGRES[0],
              "INSERT INTO outbox (event_id, topic, payload, created_at, published_at) SELECT 'e' || g, "
              f"'product.deleted', '{{}}', {now} - 30, {now} - 29 FROM generate_series(1, 50) g",
              "INSERT INTO outbox (event_id, topic, payload, created_at) VALUES "
              f"('new1', 'product.deleted', '{{}}', {now} - 20), ('new2', 'product.deleted', '{{}}', {now} - 2)")
        snapshot, findings = run({"dsn": dsn})
    (table,) = snapshot.data["outbox"]["tables"]
    assert table["table"] == "public.outbox" and table["published_column"] == "published_at"
    assert table["backlog"] == 2
    assert table["oldest_unpublished_age_s"] == pytest.approx(20, abs=5)
    backlog = one(findings, "postgres.outbox.backlog")
    assert backlog.status is Status.PASS and "2 unpublished rows" in backlog.message
    assert one(findings, "postgres.outbox.stuck").status is Status.PASS


def test_conventional_outbox_with_stuck_rows_and_a_backlog_fails() -> None:
    """timestamptz + boolean flag; 1500 unprocessed rows, the oldest an hour old."""
    with scratch_database(prefix="sr_outbox") as dsn:
        _exec(dsn, "CREATE SCHEMA events",
              "CREATE TABLE events.order_outbox (id bigserial PRIMARY KEY, occurred_at timestamptz NOT NULL, "
              "processed boolean NOT NULL DEFAULT false, body jsonb)",
              "INSERT INTO events.order_outbox (occurred_at, processed) SELECT now() - interval '1 hour' "
              "+ g * interval '1 second', false FROM generate_series(1, 1500) g",
              "INSERT INTO events.order_outbox (occurred_at, processed) SELECT now(), true "
              "FROM generate_series(1, 10)")
        _, findings = run({"dsn": dsn, "outbox": {"max_backlog": 1000, "max_age_seconds": 600}})
    backlog = one(findings, "postgres.outbox.backlog")
    assert backlog.status is Status.FAIL and backlog.subject == "events.order_outbox"
    assert backlog.evidence["backlog"] == 1500
    stuck = one(findings, "postgres.outbox.stuck")
    assert stuck.status is Status.FAIL and "60min old" in stuck.message


def test_outbox_named_in_the_config_with_its_columns() -> None:
    with scratch_database(prefix="sr_outbox") as dsn:
        _exec(dsn, "CREATE TABLE domain_events (id serial, made timestamp NOT NULL DEFAULT now(), "
                   "shipped timestamp)",
              "INSERT INTO domain_events (made, shipped) VALUES (now(), now()), (now(), now())")
        options = {"dsn": dsn, "outbox": {"table": "public.domain_events", "created_column": "made",
                                           "published_column": "shipped"}}
        _, findings = run(options)
    stuck = one(findings, "postgres.outbox.stuck")
    assert stuck.status is Status.PASS and "no unpublished row" in stuck.message
    assert one(findings, "postgres.outbox.backlog").status is Status.PASS


def test_no_outbox_skips_and_unrecognised_columns_are_an_error() -> None:
    with scratch_database(prefix="sr_outbox") as dsn:
        _, findings = run({"dsn": dsn})
        skip = one(findings, "postgres.outbox.backlog")
        assert skip.status is Status.SKIP and "outbox.table" in skip.message
        _exec(dsn, "CREATE TABLE outbox_v2 (id int, payload text, state text)")
        _, findings = run({"dsn": dsn})
    for check_id in ("postgres.outbox.backlog", "postgres.outbox.stuck"):
        finding = one(findings, check_id)
        assert finding.status is Status.ERROR and "no creation time column" in finding.message


def test_bad_outbox_option_is_one_clear_line() -> None:
    with scratch_database(prefix="sr_outbox") as dsn:
        snapshot, _ = run({"dsn": dsn, "outbox": {"max_backlog": -1}})
    assert snapshot.error and "outbox" in snapshot.error and "\n" not in snapshot.error


def test_a_capped_count_under_the_limit_is_unknown_not_pass() -> None:
    """The collector stops counting at its cap; with a limit above the cap a pass would be unproven."""
    from checks.postgres.outbox import outbox_backlog
    from checks.postgres.outbox_collect import COUNT_CAP
    from scaleready.api import Snapshot, Target

    table = {"table": "outbox", "backlog": COUNT_CAP, "backlog_capped": True, "published_column": "sent_at",
             "created_column": "created_at", "oldest_unpublished_age_s": 5.0}
    snap = Snapshot("pg", "postgres", data={"outbox": {"tables": [table]}})
    high = Target("pg", "postgres", {"dsn": "postgresql://x@127.0.0.1/x", "outbox": {"max_backlog": 2 * COUNT_CAP}})
    (outcome,) = outbox_backlog.evaluate(snap, high)
    assert outcome.status is Status.ERROR and "unknown" in outcome.message
    low = Target("pg", "postgres", {"dsn": "postgresql://x@127.0.0.1/x", "outbox": {"max_backlog": 1000}})
    (outcome,) = outbox_backlog.evaluate(snap, low)
    assert outcome.status is Status.FAIL
