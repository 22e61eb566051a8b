"""Fixtures for the postgres collector/check tests: a real primary + streaming replica pair.

The replica pair (a primary with ``pg_stat_statements`` preloaded and a streaming standby) is
session-scoped: starting it costs a couple of seconds, and its finalizer always shuts both
postmasters down (tests/support/pg_cluster.py also registers them with atexit).
"""

from __future__ import annotations

from tests.support.pg_cluster import pair_fixture

replica_pair = pair_fixture(
    "session",
    # autovacuum off: no background commits, so an idle primary is really idle (the lag trap test)
    settings={"shared_preload_libraries": "pg_stat_statements", "autovacuum": False},
    hba_lines=["host all pwuser 127.0.0.1/32 scram-sha-256"],
)

