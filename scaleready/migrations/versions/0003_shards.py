"""Shards: one row per shard of a sharded run, so the store can tell a merged run complete or not.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_shards",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("run_key", sa.String(200), nullable=False),
        sa.Column("shard_index", sa.Integer(), nullable=False),
        sa.Column("shard_count", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("targets_json", sa.Text(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.UniqueConstraint("run_id", "shard_index", name="uq_run_shard"),
    )


def downgrade() -> None:
    op.drop_table("run_shards")
