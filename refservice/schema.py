"""Schema (created on start, idempotent) and the seed data loader.

Timestamps are epoch seconds (floats) so one set of statements serves SQLite and PostgreSQL.
Products are soft-deleted (``deleted_at``) and the live rows have a partial index; the outbox
keeps an index on unpublished rows only, which is what the publisher polls (guide 4.2).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import time

from refservice.db import Node

_COMMON = [
    """CREATE TABLE IF NOT EXISTS products (
        id BIGINT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
        category TEXT NOT NULL DEFAULT '', price_cents BIGINT NOT NULL, stock INTEGER NOT NULL DEFAULT 0,
        updated_at DOUBLE PRECISION NOT NULL, deleted_at DOUBLE PRECISION)""",
    "CREATE INDEX IF NOT EXISTS products_live_idx ON products (id) WHERE deleted_at IS NULL",
    """CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'user')""",
    """CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY, username TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS processed_events (
        consumer TEXT NOT NULL, event_id TEXT NOT NULL, processed_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (consumer, event_id))""",
    "CREATE TABLE IF NOT EXISTS search_index (product_id BIGINT PRIMARY KEY, name TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS recommendations (
        product_id BIGINT NOT NULL, recommended_id BIGINT NOT NULL, PRIMARY KEY (product_id, recommended_id))""",
    "CREATE INDEX IF NOT EXISTS recommendations_rec_idx ON recommendations (recommended_id)",
]

_SQLITE = [
    """CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL,
        payload TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, published_at DOUBLE PRECISION)""",
    """CREATE TABLE IF NOT EXISTS analytics_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, kind TEXT NOT NULL,
        product_id BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS orders (
        id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT NOT NULL, product_id BIGINT NOT NULL,
        quantity INTEGER NOT NULL, amount_cents BIGINT NOT NULL, status TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL)""",
]

_POSTGRES = [
    """CREATE TABLE IF NOT EXISTS outbox (
        id BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL,
        payload TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, published_at DOUBLE PRECISION)""",
    """CREATE TABLE IF NOT EXISTS analytics_events (
        id BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, kind TEXT NOT NULL,
        product_id BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS orders (
        id BIGSERIAL PRIMARY KEY, username TEXT NOT NULL, product_id BIGINT NOT NULL,
        quantity INTEGER NOT NULL, amount_cents BIGINT NOT NULL, status TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL)""",
]

_AFTER = [
    "CREATE INDEX IF NOT EXISTS outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL",
]

CATEGORIES = ("books", "games", "garden", "kitchen", "music", "outdoor", "tools", "toys")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """PBKDF2-SHA256, stored as ``pbkdf2$iterations$salt$hash`` (hex)."""
    salt = salt or os.urandom(16)
    iterations = 60_000
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, iterations, salt, digest = stored.split("$")
        candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


async def create_schema(node: Node) -> None:
    """Create every table and index if missing (safe to run on every start)."""
    statements = _COMMON + (_POSTGRES if node.dialect == "postgres" else _SQLITE) + _AFTER
    if node.dialect == "postgres":
        # several processes may start at once: serialise DDL with an advisory lock
        async with node.transaction() as tx:
            await tx.execute("SELECT pg_advisory_xact_lock(%s)", (727_001,))
            for sql in statements:
                await tx.execute(sql)
        return
    for sql in statements:
        await node.execute(sql)


async def ensure_users(node: Node, admin_password: str, demo_password: str) -> None:
    """The two built-in accounts: ``admin`` (role admin) and ``demo`` (role user)."""
    for username, password, role in (("admin", admin_password, "admin"), ("demo", demo_password, "user")):
        row = await node.fetchone("SELECT password_hash FROM users WHERE username = %s", (username,))
        if row is None:
            await node.execute(
                "INSERT INTO users (username, password_hash, role) VALUES (%s, %s, %s) "
                "ON CONFLICT (username) DO NOTHING", (username, hash_password(password), role))
        elif not verify_password(password, row[0]):
            await node.execute("UPDATE users SET password_hash = %s WHERE username = %s",
                               (hash_password(password), username))


async def seed_products(node: Node, count: int, *, seed: int = 7, batch: int = 500) -> int:
    """Insert products 1..count that do not exist yet (with search rows and recommendations)."""
    rng = random.Random(seed)
    now = time.time()
    existing = await node.fetchone("SELECT COALESCE(MAX(id), 0) FROM products")
    start = int(existing[0] if existing else 0) + 1
    made = 0
    for lo in range(start, count + 1, batch):
        hi = min(count, lo + batch - 1)
        products, search, recs = [], [], []
        for pid in range(lo, hi + 1):
            cat = CATEGORIES[pid % len(CATEGORIES)]
            name = f"{cat.title()} item {pid}"
            products.append((pid, name, f"A fine {cat} product, number {pid}.", cat, rng.randint(199, 99_999),
                             rng.randint(0, 500), now))
            search.append((pid, name.lower()))
            recs += [(pid, rec) for rec in sorted({rng.randint(1, max(1, count)) for _ in range(3)} - {pid})]
        async with node.transaction() as tx:
            await tx.executemany(
                "INSERT INTO products (id, name, description, category, price_cents, stock, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING", products)
            await tx.executemany("INSERT INTO search_index (product_id, name) VALUES (%s, %s) "
                                 "ON CONFLICT (product_id) DO NOTHING", search)
            await tx.executemany("INSERT INTO recommendations (product_id, recommended_id) VALUES (%s, %s) "
                                 "ON CONFLICT (product_id, recommended_id) DO NOTHING", recs)
        made += len(products)
    return made
