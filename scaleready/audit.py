"""The hash chain over the audit log: how an event is hashed, and how the whole log is verified.

Database triggers refuse UPDATE, DELETE and REPLACE on ``audit_log``, but whoever owns the
database file can drop a trigger. The chain makes such an edit visible afterwards: each event
stores ``prev_hash`` (its predecessor's hash) and ``hash`` = sha256 over a canonical form of
its own fields plus ``prev_hash``. Editing, deleting, inserting or reordering any event breaks
the chain at that event, which `verify` names. The single ``audit_chain`` row keeps the length
and head, so events cut off the end are noticed as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS = "0" * 64


class ChainedEvent(Protocol):
    id: int | None
    seq: int | None
    at: datetime
    actor: str
    action: str
    subject: str
    details_json: str
    project: str
    prev_hash: str | None
    hash: str | None


def _stamp(moment: datetime) -> str:
    """Microsecond UTC text: both databases keep microseconds, so the form survives a round trip."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(event: ChainedEvent) -> bytes:
    """The bytes an event's hash is taken over (sorted keys, no whitespace, UTF-8)."""
    doc: dict[str, Any] = {
        "seq": event.seq,
        "at": _stamp(event.at),
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "details": event.details_json,
        "project": event.project,
        "prev": event.prev_hash,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: ChainedEvent) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


@dataclass(frozen=True)
class Verdict:
    """What `verify` found: ok, how many events, the head, and the first bad event with why."""

    ok: bool
    events: int
    head: str
    bad_event: int | None = None
    reason: str = ""

    def line(self) -> str:
        if self.ok:
            return f"audit log intact: {self.events} events, chain head {self.head}"
        where = f"event id {self.bad_event}" if self.bad_event is not None else "the chain head"
        return f"audit log BROKEN at {where}: {self.reason}"


def verify(events: Iterable[ChainedEvent], recorded_seq: int, recorded_head: str) -> Verdict:
    """Walk the events in id order and check each link; stop at the first bad one."""
    prev_hash, prev_seq, prev_at, count = GENESIS, 0, None, 0
    for event in events:
        count += 1
        problem = _link_problem(event, prev_seq, prev_hash, prev_at)
        if problem:
            return Verdict(False, count, prev_hash, event.id, problem)
        prev_hash, prev_seq = event.hash or "", event.seq or 0
        prev_at = event.at.replace(tzinfo=UTC) if event.at.tzinfo is None else event.at
    if (prev_seq, prev_hash) != (recorded_seq, recorded_head or GENESIS) and not (count == 0 and recorded_seq == 0):
        return Verdict(False, count, prev_hash, None,
                       f"the log ends at event {prev_seq} ({prev_hash[:12]}…) but the recorded head is event "
                       f"{recorded_seq} ({(recorded_head or GENESIS)[:12]}…): events were cut off the end")
    return Verdict(True, count, prev_hash)


def _link_problem(event: ChainedEvent, prev_seq: int, prev_hash: str, prev_at: datetime | None) -> str | None:
    """Why this event does not follow its predecessor, or None when the link holds."""
    if event.seq != prev_seq + 1:
        return (f"sequence number {event.seq} follows {prev_seq} (an event was deleted or inserted "
                "out of order)")
    if event.prev_hash != prev_hash:
        return ("its prev_hash does not match the hash of the event before it (an event was "
                "deleted, replaced or inserted out of order)")
    if event_hash(event) != event.hash:
        return "its content does not match its hash (the event was edited)"
    at = event.at.replace(tzinfo=UTC) if event.at.tzinfo is None else event.at
    if prev_at is not None and at < prev_at:
        return "its time is earlier than the event before it (inserted out of order)"
    return None
