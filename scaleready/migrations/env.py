"""Alembic environment: runs on the connection the store hands over (no ini file needed)."""

from alembic import context

from scaleready.models import SQLModel

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
