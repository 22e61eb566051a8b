"""PostgreSQL (primary and read replicas): ``collector`` reads the catalog views read-only; the checks
are grouped by topic in ``settings`` (memory and planner settings against PGTune), ``indexes``,
``health`` (cache hits, connections, queries, wraparound), ``replication`` (replicas, lag, slots)
and ``outbox`` (the transactional outbox's backlog and stuck rows, read by ``outbox_collect``).
"""
