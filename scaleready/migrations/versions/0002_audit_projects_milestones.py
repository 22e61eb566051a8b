"""Hash-chained audit log, projects, complete stored runs, milestones with signatures.

* ``audit_log`` gains ``project``, ``seq``, ``prev_hash`` and ``hash``; the events already there
  are chained in id order, and ``audit_chain`` keeps the length and head. SQLite also refuses
  ``REPLACE`` (a conflicting INSERT), which would otherwise delete and rewrite a row without
  firing the DELETE trigger.
* ``runs`` keep their project, the waivers known at check time and the chain head once stored.
* ticks and waivers belong to a project (existing ones to ``default``).
* ``milestones`` freeze a run's report document; ``milestone_signatures`` record sign-offs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DEFAULT = sa.text("'default'")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _drop_append_only_guards(postgres)

    op.add_column("runs", sa.Column("project", sa.String(100), nullable=False, server_default=DEFAULT))
    op.add_column("runs", sa.Column("waivers_json", sa.Text(), nullable=False, server_default=sa.text("'[]'")))
    op.add_column("runs", sa.Column("audit_head", sa.String(64)))
    op.create_index("ix_runs_project", "runs", ["project"])

    with op.batch_alter_table("item_states") as batch:
        batch.add_column(sa.Column("project", sa.String(100), nullable=False, server_default=DEFAULT))
        batch.drop_constraint("uq_item_state", type_="unique")
        batch.create_unique_constraint("uq_item_state_project", ["project", "framework_id", "item_id"])
    op.create_index("ix_item_states_project", "item_states", ["project"])
    op.add_column("waivers", sa.Column("project", sa.String(100), nullable=False, server_default=DEFAULT))
    op.create_index("ix_waivers_project", "waivers", ["project"])

    op.add_column("audit_log", sa.Column("project", sa.String(100), nullable=False, server_default=DEFAULT))
    op.add_column("audit_log", sa.Column("seq", sa.Integer()))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64)))
    op.add_column("audit_log", sa.Column("hash", sa.String(64)))
    op.create_index("ix_audit_log_seq", "audit_log", ["seq"], unique=True)
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
    )
    _chain_existing_events()

    op.create_table(
        "milestones",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project", sa.String(100), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("document_json", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("audit_head", sa.String(64)),
        sa.UniqueConstraint("project", "name", name="uq_milestone_name"),
    )
    op.create_table(
        "milestone_signatures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("milestone_id", sa.Integer(), sa.ForeignKey("milestones.id"), nullable=False, index=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("event_hash", sa.String(64), nullable=False),
    )
    _add_append_only_guards(postgres)


def _chain_existing_events() -> None:
    """Give the events of a 0001 store their place in the chain (in id order)."""
    from scaleready.audit import GENESIS, event_hash

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, at, actor, action, subject, details_json, project FROM audit_log ORDER BY id")).all()
    prev, seq = GENESIS, 0
    for row in rows:
        seq += 1
        event = _Row(id=row.id, seq=seq, at=_as_datetime(row.at), actor=row.actor, action=row.action,
                     subject=row.subject, details_json=row.details_json, project=row.project, prev_hash=prev,
                     hash=None)
        event.hash = event_hash(event)
        bind.execute(sa.text("UPDATE audit_log SET seq = :seq, prev_hash = :prev, hash = :hash WHERE id = :id"),
                     {"seq": seq, "prev": prev, "hash": event.hash, "id": row.id})
        prev = event.hash
    bind.execute(sa.text("INSERT INTO audit_chain (id, seq, head) VALUES (1, :seq, :head)"),
                 {"seq": seq, "head": prev if seq else ""})


class _Row:
    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)


def _as_datetime(value: object):  # SQLite hands back text for a raw SELECT
    from datetime import datetime

    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _drop_append_only_guards(postgres: bool) -> None:
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")


FROZEN_TABLES = ("milestones", "milestone_signatures")  # written once, never changed


def _add_append_only_guards(postgres: bool) -> None:
    if postgres:
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION scaleready_audit_append_only()"
        )
        op.execute(
            "CREATE FUNCTION scaleready_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in FROZEN_TABLES:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION scaleready_append_only()")
        return
    for table in FROZEN_TABLES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )
    # REPLACE deletes the conflicting row without firing DELETE triggers (unless recursive
    # triggers are on): refuse any INSERT that would collide with an existing event instead.
    op.execute(
        "CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log "
        "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id OR seq = NEW.seq) "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        for table in FROZEN_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS scaleready_append_only()")
    else:
        for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_replace"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("milestone_signatures")
    op.drop_table("milestones")
    op.drop_table("audit_chain")
    op.drop_index("ix_audit_log_seq", "audit_log")
    with op.batch_alter_table("audit_log") as batch:
        for column in ("hash", "prev_hash", "seq", "project"):
            batch.drop_column(column)
    op.drop_index("ix_waivers_project", "waivers")
    with op.batch_alter_table("waivers") as batch:
        batch.drop_column("project")
    op.drop_index("ix_item_states_project", "item_states")
    with op.batch_alter_table("item_states") as batch:
        batch.drop_constraint("uq_item_state_project", type_="unique")
        batch.drop_column("project")
        batch.create_unique_constraint("uq_item_state", ["framework_id", "item_id"])
    op.drop_index("ix_runs_project", "runs")
    with op.batch_alter_table("runs") as batch:
        for column in ("audit_head", "waivers_json", "project"):
            batch.drop_column(column)
    _restore_0001_guards(postgres)


def _restore_0001_guards(postgres: bool) -> None:
    if postgres:
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION scaleready_audit_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )
