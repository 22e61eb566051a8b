"""The SQL the postgres collector runs: one set-based statement per snapshot section.

Kept apart from the collector so the queries can be read (and EXPLAINed) on their own. All
of them are read-only catalog/statistics reads. Per-table statistics come straight from the
``pg_stat_get_*`` functions over ``pg_class``: the ``pg_stat_*_tables`` views GROUP BY and so
compute every column for every table, several times slower with thousands of tables.
"""

from __future__ import annotations

MAX_TABLES = 5000
MAX_INDEXES = 10000
MAX_CITED = 100  # indexes given an exact size and their CREATE INDEX text (the suspects first)
SETTINGS = (
    "shared_buffers", "effective_cache_size", "maintenance_work_mem", "work_mem", "random_page_cost",
    "max_connections", "superuser_reserved_connections", "autovacuum", "autovacuum_freeze_max_age",
    "autovacuum_multixact_freeze_max_age", "shared_preload_libraries", "track_counts", "wal_level",
    "max_wal_senders", "hot_standby", "effective_io_concurrency", "block_size", "server_version",
    "idle_in_transaction_session_timeout", "statement_timeout",
)

SERVER_SQL = """
SELECT current_setting('server_version_num')::int AS version_num, version() AS version,
       pg_is_in_recovery() AS in_recovery, current_database() AS database, current_user AS "user",
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS read_all_stats,
       extract(epoch FROM now())::float8 AS now_epoch,
       extract(epoch FROM pg_postmaster_start_time())::float8 AS started_epoch,
       (SELECT extract(epoch FROM stats_reset)::float8 FROM pg_stat_database
         WHERE datname = current_database()) AS stats_reset_epoch
"""

# Statistics come straight from the pg_stat_get_* functions over pg_class: the pg_stat_*_tables
# views GROUP BY and so compute every column for every table, several times slower at 1,000s of
# tables. Exact sizes (pg_relation_size, a file stat each) and index definitions are fetched
# only where a check may cite them; elsewhere relpages (as of the last VACUUM/ANALYZE) is used.
USER_REL = ("n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' "
            "AND n.nspname !~ '^pg_temp'")

TABLES_SQL = f"""
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name,
       pg_stat_get_numscans(c.oid) AS seq_scan, pg_stat_get_tuples_returned(c.oid) AS seq_tup_read,
       pg_stat_get_live_tuples(c.oid) AS n_live_tup, pg_stat_get_dead_tuples(c.oid) AS n_dead_tup,
       c.reltuples::bigint AS reltuples,
       CASE WHEN greatest(pg_stat_get_live_tuples(c.oid), c.reltuples) >= 1000 THEN pg_relation_size(c.oid)
            ELSE c.relpages::bigint * current_setting('block_size')::int END AS bytes,
       pg_stat_get_blocks_hit(c.oid) AS heap_blks_hit,
       pg_stat_get_blocks_fetched(c.oid) - pg_stat_get_blocks_hit(c.oid) AS heap_blks_read
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND {USER_REL}
ORDER BY bytes DESC, c.oid
LIMIT {MAX_TABLES}
"""

INDEXES_SQL = f"""
SELECT i.indexrelid::bigint AS oid, n.nspname AS schema, t.relname AS "table", c.relname AS name,
       i.indrelid::bigint AS table_oid, i.indkey::text AS key, i.indclass::text AS opclass,
       i.indcollation::text AS collation, coalesce(pg_get_expr(i.indexprs, i.indrelid), '') AS exprs,
       coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS pred, am.amname AS method,
       i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisvalid AS is_valid,
       i.indisready AS is_ready, (con.conindid IS NOT NULL) AS backs_constraint,
       pg_stat_get_numscans(i.indexrelid) AS idx_scan,
       c.relpages::bigint * current_setting('block_size')::int AS bytes
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = c.relam
LEFT JOIN (SELECT DISTINCT conindid FROM pg_constraint WHERE conindid <> 0) con ON con.conindid = i.indexrelid
WHERE {USER_REL}
LIMIT {MAX_INDEXES}
"""
CITE_SQL = """
SELECT indexrelid::bigint AS oid, pg_relation_size(indexrelid) AS bytes, pg_get_indexdef(indexrelid) AS definition
FROM pg_index WHERE indexrelid = ANY(%s::oid[])
"""

IO_SQL = f"""
SELECT coalesce(sum(pg_stat_get_blocks_hit(c.oid)) FILTER (WHERE c.relkind IN ('r', 'm')), 0)::bigint AS heap_hit,
       coalesce(sum(pg_stat_get_blocks_fetched(c.oid) - pg_stat_get_blocks_hit(c.oid))
                FILTER (WHERE c.relkind IN ('r', 'm')), 0)::bigint AS heap_read,
       coalesce(sum(pg_stat_get_blocks_hit(c.oid)) FILTER (WHERE c.relkind = 'i'), 0)::bigint AS idx_hit,
       coalesce(sum(pg_stat_get_blocks_fetched(c.oid) - pg_stat_get_blocks_hit(c.oid))
                FILTER (WHERE c.relkind = 'i'), 0)::bigint AS idx_read,
       (SELECT blks_hit FROM pg_stat_database WHERE datname = current_database()) AS db_hit,
       (SELECT blks_read FROM pg_stat_database WHERE datname = current_database()) AS db_read
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 'i') AND {USER_REL}
"""

ACTIVITY_SQL = """
SELECT pid, usename AS "user", datname AS database, application_name, state, backend_type,
       wait_event_type, wait_event,
       extract(epoch FROM now() - xact_start)::float8 AS xact_age_s,
       extract(epoch FROM now() - query_start)::float8 AS query_age_s,
       extract(epoch FROM now() - state_change)::float8 AS state_age_s,
       left(query, 300) AS query
FROM pg_stat_activity WHERE pid <> pg_backend_pid()
ORDER BY backend_start NULLS LAST LIMIT 5000
"""

WRAP_DB_SQL = """
SELECT datname AS database, age(datfrozenxid)::bigint AS xid_age, mxid_age(datminmxid)::bigint AS mxid_age
FROM pg_database WHERE datallowconn ORDER BY 2 DESC
"""
WRAP_TABLES_SQL = """
SELECT oldest.oid::regclass::text AS "table", oldest.xid_age
FROM (SELECT c.oid, age(c.relfrozenxid)::bigint AS xid_age FROM pg_class c
      WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> '0'::xid
      ORDER BY 2 DESC LIMIT 5) oldest
"""

SEQUENCES_SQL = """
SELECT s.schemaname AS schema, s.sequencename AS name, s.data_type::text AS data_type, s.last_value,
       s.min_value, s.max_value, s.increment_by, s.cycle, col.tbl AS "table", col.col AS "column",
       col.typ AS column_type
FROM pg_sequences s
JOIN pg_namespace n ON n.nspname = s.schemaname
JOIN pg_class sc ON sc.relnamespace = n.oid AND sc.relname = s.sequencename
LEFT JOIN LATERAL (
    SELECT d.refobjid::regclass::text AS tbl, a.attname::text AS col, format_type(a.atttypid, NULL) AS typ
    FROM pg_depend d
    JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE d.classid = 'pg_class'::regclass AND d.objid = sc.oid
      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    LIMIT 1) col ON true
ORDER BY 1, 2 LIMIT 5000
"""

SENDERS_SQL = """
SELECT pid, application_name, client_addr::text AS client_addr, state, sync_state,
       sent_lsn::text AS sent_lsn, replay_lsn::text AS replay_lsn,
       pg_wal_lsn_diff(pg_current_wal_lsn(), sent_lsn)::float8 AS sent_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn)::float8 AS write_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::float8 AS flush_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS replay_bytes,
       extract(epoch FROM write_lag)::float8 AS write_lag_s,
       extract(epoch FROM flush_lag)::float8 AS flush_lag_s,
       extract(epoch FROM replay_lag)::float8 AS replay_lag_s,
       extract(epoch FROM now() - reply_time)::float8 AS reply_age_s
FROM pg_stat_replication ORDER BY application_name, pid
"""

STANDBY_SQL = """
SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_wal_receive_lsn()::text AS receive_lsn, pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS pending_bytes,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_ts_age_s,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS replay_paused,
       extract(epoch FROM now())::float8 AS now_epoch
"""
WAL_RECEIVER_SQL = """
SELECT status, sender_host, sender_port,
       extract(epoch FROM now() - last_msg_receipt_time)::float8 AS last_msg_age_s
FROM pg_stat_wal_receiver
"""

# On a replica: which user indexes and tables it scanned itself (zero rows left out).
REPLICA_INDEX_SCANS_SQL = f"""
SELECT c.oid::bigint AS oid, pg_stat_get_numscans(c.oid) AS idx_scan
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'i' AND {USER_REL} AND pg_stat_get_numscans(c.oid) > 0
"""
REPLICA_TABLE_SCANS_SQL = f"""
SELECT c.oid::bigint AS oid, pg_stat_get_numscans(c.oid) AS seq_scan,
       pg_stat_get_tuples_returned(c.oid) AS seq_tup_read
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND {USER_REL} AND pg_stat_get_numscans(c.oid) > 0
"""
