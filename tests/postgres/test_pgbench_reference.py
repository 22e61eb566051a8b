"""The index checks on a database nobody here designed: pgbench's own schema (``pgbench -i``).

pgbench's schema is documented by PostgreSQL: three tables with a primary key
(pgbench_accounts, pgbench_branches, pgbench_tellers), pgbench_history without indexes, no
other index. Its built-in scripts read pgbench_accounts by ``aid``. So, independently of our
code: on the stock schema after a TPC-B-like run no index is missing, duplicated, invalid or
(non-unique and) unused. Then three labelled changes, each with its known answer: a copy of
the primary key's index is a duplicate; a never-used index on ``abalance`` is unused; without
the primary key, the select-only script's lookups by ``aid`` make a missing index.
"""

from __future__ import annotations

import shutil
import subprocess

import psycopg
import pytest

from tests.postgres._util import run, scratch_database

pytestmark = [pytest.mark.skipif(shutil.which("pgbench") is None, reason="pgbench is not installed"),
              pytest.mark.timeout(300)]
INDEX_CHECKS = ("postgres.indexes.missing", "postgres.indexes.unused", "postgres.indexes.duplicate",
                "postgres.indexes.invalid")


def _pgbench(db: str, *args: str) -> None:
    subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", *args, db], check=True,
                   capture_output=True, timeout=120)


def _verdicts(dsn: str) -> dict[str, set[str]]:
    _, findings = run({"dsn": dsn, "large_table_rows": 10_000})
    out: dict[str, set[str]] = {c: set() for c in INDEX_CHECKS}
    for f in findings:
        if f.check in out:
            out[f.check].add(f.status.value)
    return out


def test_index_checks_agree_with_the_pgbench_schema_and_its_labelled_changes() -> None:
    cases: list[tuple[str, str, str, str]] = []  # (case, check, expected, ours)

    def verdict(statuses: set[str]) -> str:
        if statuses & {"fail", "warn"}:
            return "flag"
        return "ok" if statuses == {"pass"} else "unjudged"

    with scratch_database(prefix="sr_pgbench") as dsn:
        db = dsn.rsplit("/", 1)[1]
        _pgbench(db, "-i", "-s", "1", "-q")
        _pgbench(db, "-T", "3", "-c", "2")
        stock = _verdicts(dsn)
        cases += [("stock schema", c, "ok", verdict(stock[c])) for c in INDEX_CHECKS]
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE INDEX accounts_aid_copy ON pgbench_accounts (aid)")
            conn.execute("CREATE INDEX accounts_abalance ON pgbench_accounts (abalance)")
        changed = _verdicts(dsn)
        cases.append(("copy of the primary key", "postgres.indexes.duplicate", "flag",
                      verdict(changed["postgres.indexes.duplicate"])))
        cases.append(("index never used", "postgres.indexes.unused", "flag",
                      verdict(changed["postgres.indexes.unused"])))
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP INDEX accounts_aid_copy")
            conn.execute("ALTER TABLE pgbench_accounts DROP CONSTRAINT pgbench_accounts_pkey")
        _pgbench(db, "-b", "select-only", "-t", "30", "-c", "1")
        unindexed = _verdicts(dsn)
        cases.append(("lookups by aid without an index", "postgres.indexes.missing", "flag",
                      verdict(unindexed["postgres.indexes.missing"])))
    judged = [c for c in cases if c[3] != "unjudged"]
    agreed = [c for c in judged if c[2] == c[3]]
    print(f"pgbench reference: {len(agreed)}/{len(judged)} agree; all cases: {cases}")
    assert len(judged) == len(cases), cases
    assert agreed == judged, [c for c in judged if c[2] != c[3]]
