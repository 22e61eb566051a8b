"""Every table of the store, in one module (as SQLModel's docs recommend).

JSON payloads (snapshot data, evidence, scores) are stored as text: the same schema then
works on SQLite and PostgreSQL, and a snapshot's stored text is exactly the canonical JSON
its sha256 was taken over. The audit log is append-only; the migrations add triggers that
refuse UPDATE, DELETE and (SQLite) REPLACE on it in both databases, and every event carries
the hash of the one before it (see `scaleready.audit`), so an edit made around the triggers
still shows. Ticks, waivers and milestones belong to a *project*: one store, several products.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

DEFAULT_PROJECT = "default"


class RunRecord(SQLModel, table=True):
    __tablename__ = "runs"

    id: str = Field(primary_key=True, max_length=36)
    started_at: datetime = Field(index=True)
    finished_at: datetime | None = None
    framework_id: str = Field(max_length=100)
    framework_title: str = ""
    framework_version: str = Field(default="", max_length=50)
    environment: str | None = Field(default=None, max_length=100)
    config_path: str | None = None
    tool_version: str = Field(default="", max_length=50)
    overall: float = 0.0
    coverage: float = 0.0
    level: int = 0
    score_json: str = "{}"
    targets_json: str = "[]"
    project: str = Field(default=DEFAULT_PROJECT, max_length=100, index=True)
    waivers_json: str = "[]"  # the waivers known at check time, applied or expired
    audit_head: str | None = Field(default=None, max_length=64)  # chain head once the run was stored


class SnapshotRecord(SQLModel, table=True):
    __tablename__ = "snapshots"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", index=True, max_length=36)
    target: str = Field(max_length=200)
    kind: str = Field(max_length=100)
    collected_at: datetime
    duration_ms: float = 0.0
    sha256: str = Field(max_length=64, index=True)
    error: str | None = None
    body: str  # canonical JSON of the snapshot


class FindingRecord(SQLModel, table=True):
    __tablename__ = "findings"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", index=True, max_length=36)
    check_id: str = Field(max_length=200, index=True)
    target: str = Field(max_length=200)
    subject: str | None = None
    status: str = Field(max_length=10)
    severity: str = Field(max_length=10)
    title: str = ""
    message: str = ""
    evidence_json: str = "{}"
    remediation: str = ""
    items_json: str = "[]"
    section: str | None = Field(default=None, max_length=20)
    location: str | None = None
    waived: bool = False
    waiver_reason: str | None = None
    fingerprint: str = Field(max_length=64, index=True)


class ItemStateRecord(SQLModel, table=True):
    """The current manual state of a framework item; its history lives in the audit log."""

    __tablename__ = "item_states"

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(default=DEFAULT_PROJECT, max_length=100, index=True)
    framework_id: str = Field(max_length=100, index=True)
    item_id: str = Field(max_length=200)
    state: str = Field(max_length=20)  # done | not_done | not_applicable
    actor: str = Field(max_length=200)
    at: datetime
    note: str = ""


class WaiverRecord(SQLModel, table=True):
    """A waiver granted from the dashboard (config waivers live in the config file)."""

    __tablename__ = "waivers"

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(default=DEFAULT_PROJECT, max_length=100, index=True)
    check_id: str = Field(max_length=200)
    target: str = Field(default="*", max_length=200)
    subject: str = Field(default="*")
    reason: str
    expires: datetime | None = None
    actor: str = Field(max_length=200)
    created_at: datetime
    revoked: bool = False


class AuditEvent(SQLModel, table=True):
    """One event of the append-only log; ``hash`` covers its content and ``prev_hash``."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100)
    subject: str = ""
    details_json: str = "{}"
    project: str = Field(default=DEFAULT_PROJECT, max_length=100)
    seq: int | None = Field(default=None, index=True)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class AuditChainHead(SQLModel, table=True):
    """A single row: the chain's length and head hash.

    Appenders update it first, which serialises them on both databases (the SQLite write lock,
    a PostgreSQL row lock) so two writers never chain onto the same head; `audit verify`
    compares it with the log, so events cut off the end are noticed too.
    """

    __tablename__ = "audit_chain"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    head: str = Field(default="", max_length=64)


class MilestoneRecord(SQLModel, table=True):
    """A frozen scorecard: the JSON report document of a run as it stood, with its hash."""

    __tablename__ = "milestones"

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(default=DEFAULT_PROJECT, max_length=100, index=True)
    name: str = Field(max_length=200)
    run_id: str = Field(max_length=36)
    created_at: datetime
    actor: str = Field(max_length=200)
    note: str = ""
    document_json: str
    sha256: str = Field(max_length=64)
    audit_head: str | None = Field(default=None, max_length=64)


class MilestoneSignature(SQLModel, table=True):
    __tablename__ = "milestone_signatures"

    id: int | None = Field(default=None, primary_key=True)
    milestone_id: int = Field(foreign_key="milestones.id", index=True)
    actor: str = Field(max_length=200)
    at: datetime
    note: str = ""
    event_hash: str = Field(default="", max_length=64)


class RunShardRecord(SQLModel, table=True):
    """One shard of a sharded run (migration 0003)."""

    __tablename__ = "run_shards"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", index=True, max_length=36)
    run_key: str = Field(max_length=200)
    shard_index: int
    shard_count: int
    started_at: datetime
    finished_at: datetime
    targets_json: str = "[]"
    findings: int = 0
