"""Read replicas (guide 3.2, roadmap phase 2): present, caught up, and not pinning WAL.

Lag is measured from both ends. The primary's ``pg_stat_replication`` gives bytes between its
current WAL position and each standby's replayed position, and the write/flush/replay lag
times. Each configured replica gives its own received and replayed positions and the age of
its last replayed transaction.

The idle-primary trap: ``now() - pg_last_xact_replay_timestamp()`` keeps growing on a perfectly
healthy replica when the primary commits nothing. So time lag counts only while WAL is
*pending* (received but not replayed, or the replica is behind the primary's position); a
caught-up replica has zero lag whatever that timestamp says, and the finding says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checks.postgres.collector import lsn_to_int
from checks.postgres.common import human_bytes, human_seconds, opt
from scaleready.api import Outcome, Snapshot, Target, check, errored, failed, passed, skipped, warned

ITEMS = ["db.read_replicas", "roadmap.p2.read_replicas"]
CAUGHT_UP_BYTES = 1024 * 1024  # a replica this close to the primary's position is not behind


def _primary_or_error(snapshot: Snapshot) -> dict[str, Any] | Outcome:
    repl = snapshot.section("replication")
    if repl.get("role") != "primary":
        return errored("the target dsn points at a standby (pg_is_in_recovery() is true): point `dsn` at "
                       "the primary and list standbys under `replicas`")
    return repl


@check("postgres.replication.replicas", kind="postgres", title="The primary has a streaming read replica",
       severity="danger", items=ITEMS, section="3.2",
       remediation="Create a standby (pg_basebackup -R), start it, and route reads to it round-robin "
                   "(guide 3.2); check primary_conninfo and pg_hba.conf if it does not stream.")
def replicas(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """At least one standby streams from the primary; every configured replica is up and streaming."""
    repl = _primary_or_error(snapshot)
    if isinstance(repl, Outcome):
        yield repl
        return
    senders = repl.get("senders") or []
    streaming = [s for s in senders if s.get("state") == "streaming"]
    for i, rep in enumerate(snapshot.data.get("replicas") or []):
        subject = f"replica/{rep.get('dsn')}"
        if rep.get("error"):
            yield failed(f"configured replica {rep.get('dsn')} cannot be read: {rep['error']}",
                         subject=subject, pointer=f"/replicas/{i}", reason=rep["error"])
        elif not rep.get("in_recovery"):
            yield failed(f"configured replica {rep.get('dsn')} is not in recovery: it was promoted or is "
                         "a separate primary, so it receives no changes", subject=subject, pointer=f"/replicas/{i}")
        elif (rep.get("wal_receiver") or {}).get("status") != "streaming":
            status = (rep.get("wal_receiver") or {}).get("status") or "no WAL receiver"
            yield failed(f"configured replica {rep.get('dsn')} is in recovery but not streaming "
                         f"(WAL receiver: {status})", subject=subject, pointer=f"/replicas/{i}",
                         wal_receiver=rep.get("wal_receiver"))
        else:
            yield passed(f"configured replica {rep.get('dsn')} is a hot standby streaming from "
                         f"{rep['wal_receiver'].get('sender_host')}:{rep['wal_receiver'].get('sender_port')}",
                         subject=subject, pointer=f"/replicas/{i}")
    names = [s.get("application_name") or s.get("client_addr") or str(s.get("pid")) for s in streaming]
    if streaming:
        yield passed(f"{len(streaming)} streaming replica(s) in pg_stat_replication: {', '.join(names)}",
                     subject="primary", pointer="/replication/senders", observed=len(streaming), recommended=">= 1",
                     senders=[{k: s.get(k) for k in ("application_name", "client_addr", "state", "sync_state")}
                              for s in senders])
    else:
        states = [s.get("state") for s in senders]
        yield failed("no streaming replica in the primary's pg_stat_replication"
                     + (f" (senders in state {states})" if senders else "")
                     + ": reads cannot be spread and there is no hot standby (guide 3.2)",
                     subject="primary", pointer="/replication/senders", observed=0, recommended=">= 1")


def _verdict(lag_bytes: float, lag_s: float, max_bytes: float, max_s: float) -> Any:
    if lag_bytes >= max_bytes or lag_s >= max_s:
        return failed
    if lag_bytes >= max_bytes / 2 or lag_s >= max_s / 2:
        return warned
    return passed


@check("postgres.replication.lag", kind="postgres", title="Replication lag is small (bytes and seconds)",
       severity="danger", items=[*ITEMS, "monitoring.metrics.database"], section="6.1",
       remediation="Find what slows the standby: paused replay (pg_wal_replay_resume()), long queries "
                   "conflicting with replay, disk or network saturation; keep stale-sensitive reads on "
                   "the primary meanwhile.")
def lag(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Bytes and seconds each standby is behind, from the primary and from the replica itself."""
    repl = _primary_or_error(snapshot)
    if isinstance(repl, Outcome):
        yield repl
        return
    max_s, max_b = float(opt(target, "max_lag_seconds")), float(opt(target, "max_lag_bytes"))
    limits = f"limits {human_bytes(max_b)} / {human_seconds(max_s)}"
    head = lsn_to_int(repl.get("current_wal_lsn"))
    measured = 0
    for i, s in enumerate(repl.get("senders") or []):
        measured += 1
        b = s.get("replay_bytes") or 0.0
        secs = max(s.get(k) or 0.0 for k in ("write_lag_s", "flush_lag_s", "replay_lag_s"))
        if b <= CAUGHT_UP_BYTES and s.get("replay_lag_s") is None:
            secs = 0.0  # PostgreSQL nulls the lag times once an idle standby has caught up
        name = s.get("application_name") or s.get("client_addr") or s.get("pid")
        yield _verdict(b, secs, max_b, max_s)(
            f"seen from the primary, {name} ({s.get('state')}) is {human_bytes(b)} behind in replay "
            f"(sent {human_bytes(s.get('sent_bytes'))}, flushed {human_bytes(s.get('flush_bytes'))} behind), "
            f"replay lag {human_seconds(s.get('replay_lag_s'))}; {limits}",
            subject=f"primary->{name}", pointer=f"/replication/senders/{i}", lag_bytes=b, lag_seconds=secs,
            sent_bytes=s.get("sent_bytes"), write_bytes=s.get("write_bytes"), flush_bytes=s.get("flush_bytes"),
            write_lag_s=s.get("write_lag_s"), flush_lag_s=s.get("flush_lag_s"), replay_lag_s=s.get("replay_lag_s"),
            max_lag_bytes=max_b, max_lag_seconds=max_s)
    for i, rep in enumerate(snapshot.data.get("replicas") or []):
        measured += 1
        subject = f"replica/{rep.get('dsn')}"
        if rep.get("error") or not rep.get("in_recovery"):
            yield errored(f"cannot measure lag on {rep.get('dsn')}: "
                          f"{rep.get('error') or 'it is not a standby (not in recovery)'}",
                          subject=subject, pointer=f"/replicas/{i}")
            continue
        yield _replica_lag(rep, head, max_b, max_s, limits, subject, f"/replicas/{i}")
    if not measured:
        yield skipped("no standby streams from this primary and no replica is configured: nothing to "
                      "measure (postgres.replication.replicas reports the missing replica)")


def _replica_lag(rep: dict[str, Any], head: int | None, max_b: float, max_s: float, limits: str,
                 subject: str, pointer: str) -> Outcome:
    replay, receive = lsn_to_int(rep.get("replay_lsn")), lsn_to_int(rep.get("receive_lsn"))
    pending = max(0, (receive or 0) - (replay or 0)) if receive is not None and replay is not None else 0
    behind = max(0, head - replay) if head is not None and replay is not None else pending
    ts_age = rep.get("replay_ts_age_s")
    idle = pending == 0 and behind <= CAUGHT_UP_BYTES
    secs = 0.0 if idle else float(ts_age or 0.0)
    paused = bool(rep.get("replay_paused"))
    if idle:
        note = (f"caught up (nothing pending); its last replayed transaction is {human_seconds(ts_age)} old "
                "only because the primary has committed nothing since: that is not lag")
    else:
        note = (f"{human_bytes(behind)} behind the primary, {human_bytes(pending)} received but not replayed, "
                f"last replayed transaction {human_seconds(ts_age)} ago")
    if paused:
        note += "; WAL replay is PAUSED (pg_wal_replay_pause)"
    return _verdict(behind, secs, max_b, max_s)(
        f"seen from replica {rep.get('dsn')}: {note}; {limits}", subject=subject, pointer=pointer,
        lag_bytes=behind, lag_seconds=secs, pending_bytes=pending, replay_ts_age_s=ts_age,
        idle_primary=idle, replay_paused=paused, receive_lsn=rep.get("receive_lsn"),
        replay_lsn=rep.get("replay_lsn"), max_lag_bytes=max_b, max_lag_seconds=max_s)


@check("postgres.replication.slots", kind="postgres", title="No inactive replication slot retains WAL",
       severity="danger", items=[*ITEMS, "monitoring.metrics.database"], section="3.2",
       remediation="Reconnect the consumer of the slot or drop it with pg_drop_replication_slot(); set "
                   "max_slot_wal_keep_size so a lost consumer cannot fill the disk.")
def slots(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Inactive slots keep WAL (and old row versions) forever: they fill the disk and block VACUUM."""
    rows = snapshot.section("slots")
    bad = False
    for i, s in enumerate(rows):
        if s.get("active"):
            continue
        bad = True
        retained = s.get("retained_bytes")
        severe = s.get("wal_status") in ("lost", "unreserved") or (retained or 0) >= 1024**3
        yield (failed if severe else warned)(
            f"replication slot {s['slot_name']} ({s.get('slot_type')}) is inactive and retains "
            f"{human_bytes(retained)} of WAL (wal_status {s.get('wal_status')})",
            subject=f"slot/{s['slot_name']}", pointer=f"/slots/{i}", active=False, retained_bytes=retained,
            wal_status=s.get("wal_status"), restart_lsn=s.get("restart_lsn"))
    if not bad:
        yield passed(f"{len(rows)} replication slot(s), all active", slots=len(rows))


CHECKS = (replicas, lag, slots)
