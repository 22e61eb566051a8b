"""Opening a database for the store: the URL, the engine, and bringing the schema to head.

The schema belongs to Alembic. A fresh store may be opened by several processes at once (CI
shards, a dashboard and a CronJob), so the upgrade runs one process at a time: under a file
lock beside a SQLite database (its DDL is not transactional through the driver) and under a
transaction-scoped advisory lock on PostgreSQL. A store already at head skips both.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, event, text
from sqlmodel import create_engine

DATABASE_URL_ENV = "SCALEREADY_DATABASE_URL"


def default_url() -> str:
    """``SCALEREADY_DATABASE_URL`` if set, else a SQLite file in the user's data dir."""
    if url := os.environ.get(DATABASE_URL_ENV):
        return url
    folder = Path(platformdirs.user_data_dir("scaleready", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'scaleready.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):  # psycopg 3 is the driver we ship
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


HEAD_REVISION = "0002"


def _current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # no table yet: a fresh store
        return None


@contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive file lock beside the database: SQLite DDL is not transactional through the
    driver, so two processes creating a fresh store would both try ``CREATE TABLE runs``."""
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision, one process at a time."""
    if _current_revision(engine) == HEAD_REVISION:
        return
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    if engine.dialect.name == "sqlite":
        with _sqlite_migration_lock(engine), engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
        return
    with engine.begin() as connection:
        # Held until this transaction commits; PostgreSQL DDL is transactional, so whoever
        # waited then sees the finished schema and Alembic finds nothing left to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(7316842053)"))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
