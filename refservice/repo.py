"""Data access: every statement the endpoints run, parameterised, routed primary/replica.

Reads go through `Router.reader` with the tokens that matter for read-your-writes (the caller's
session and the cache key); a replica that errors is marked failed and the read is retried on the
primary. Writes go to the primary and then tell the router their WAL position.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

from refservice.db import Node
from refservice.outbox import TOPIC_PRODUCT_DELETED
from refservice.routing import Router

_PRODUCT_COLS = "id, name, description, category, price_cents, stock, updated_at"


def _product(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": int(row[0]), "name": row[1], "description": row[2], "category": row[3],
            "price_cents": int(row[4]), "stock": int(row[5]), "updated_at": float(row[6])}


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()



def like_literal(text: str) -> str:
    """``text`` escaped for ``LIKE ... ESCAPE '!'`` (same on SQLite and PostgreSQL, unlike a backslash)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")

class Conflict(Exception):
    """The row already exists."""


class Repo:
    def __init__(self, router: Router) -> None:
        self.router = router

    @property
    def primary(self) -> Node:
        return self.router.primary

    async def _read(self, method: str, sql: str, params: tuple[Any, ...], *tokens: str | None) -> Any:
        node = self.router.reader(*tokens)
        try:
            return await getattr(node, method)(sql, params)
        except Exception as exc:
            if node is self.router.primary:
                raise
            self.router.mark_failed(node, exc)
            return await getattr(self.router.primary, method)(sql, params)

    # -- products ------------------------------------------------------------------------------
    async def product_json(self, pid: int, *tokens: str | None) -> bytes | None:
        row = await self._read("fetchone", f"SELECT {_PRODUCT_COLS} FROM products "
                               "WHERE id = %s AND deleted_at IS NULL", (pid,), *tokens)
        return None if row is None else dumps(_product(row))

    async def products_json(self, lo: int, hi: int) -> list[tuple[int, bytes]]:
        rows = await self._read("fetchall", f"SELECT {_PRODUCT_COLS} FROM products WHERE id BETWEEN %s AND %s "
                                "AND deleted_at IS NULL ORDER BY id", (lo, hi))
        return [(int(r[0]), dumps(_product(r))) for r in rows]

    async def listing_json(self, page: int, size: int, *tokens: str | None) -> bytes:
        rows = await self._read("fetchall", f"SELECT {_PRODUCT_COLS} FROM products WHERE deleted_at IS NULL "
                                "ORDER BY id LIMIT %s OFFSET %s", (size, (page - 1) * size), *tokens)
        return dumps({"page": page, "size": size, "items": [_product(r) for r in rows]})

    async def create_product(self, pid: int, fields: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        async with self.primary.transaction() as tx:
            row = await tx.fetchone("SELECT deleted_at FROM products WHERE id = %s", (pid,))
            if row is not None and row[0] is None:
                raise Conflict(str(pid))
            if row is not None:  # re-creating a soft-deleted product revives it
                await tx.execute("UPDATE products SET name = %s, description = %s, category = %s, "
                                 "price_cents = %s, stock = %s, updated_at = %s, deleted_at = NULL WHERE id = %s",
                                 (fields["name"], fields["description"], fields["category"],
                                  fields["price_cents"], fields["stock"], now, pid))
            else:
                await tx.execute("INSERT INTO products (id, name, description, category, price_cents, stock, "
                                 "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                                 (pid, fields["name"], fields["description"], fields["category"],
                                  fields["price_cents"], fields["stock"], now))
            await tx.execute("INSERT INTO search_index (product_id, name) VALUES (%s, %s) "
                             "ON CONFLICT (product_id) DO UPDATE SET name = EXCLUDED.name",
                             (pid, str(fields["name"]).lower()))
        return {"id": pid, **fields, "updated_at": now}

    async def update_product(self, pid: int, fields: dict[str, Any]) -> dict[str, Any] | None:
        now = time.time()
        sets = [f"{col} = %s" for col in fields]  # column names come from the model, never from input
        async with self.primary.transaction() as tx:
            n = await tx.execute(f"UPDATE products SET {', '.join(sets)}, updated_at = %s "
                                 "WHERE id = %s AND deleted_at IS NULL", (*fields.values(), now, pid))
            if not n:
                return None
            row = await tx.fetchone(f"SELECT {_PRODUCT_COLS} FROM products WHERE id = %s", (pid,))
            if "name" in fields:
                await tx.execute("UPDATE search_index SET name = %s WHERE product_id = %s",
                                 (str(fields["name"]).lower(), pid))
        return _product(row) if row else None

    async def soft_delete(self, pid: int, actor: str) -> str | None:
        """Soft delete + outbox row in one transaction; returns the event id (None: not found)."""
        now = time.time()
        event_id = uuid.uuid4().hex
        payload = json.dumps({"product_id": pid, "deleted_at": now, "actor": actor})
        async with self.primary.transaction() as tx:
            n = await tx.execute("UPDATE products SET deleted_at = %s, updated_at = %s "
                                 "WHERE id = %s AND deleted_at IS NULL", (now, now, pid))
            if not n:
                return None
            await tx.execute("INSERT INTO outbox (event_id, topic, payload, created_at) VALUES (%s, %s, %s, %s)",
                             (event_id, TOPIC_PRODUCT_DELETED, payload, now))
        return event_id

    async def search(self, q: str, limit: int) -> list[int]:
        """Names containing ``q`` literally: its ``%`` and ``_`` are characters, not wildcards."""
        rows = await self._read("fetchall", "SELECT product_id FROM search_index WHERE name LIKE %s ESCAPE '!' "
                                "ORDER BY product_id LIMIT %s", ("%" + like_literal(q.lower()) + "%", limit))
        return [int(r[0]) for r in rows]

    async def recommendations(self, pid: int) -> list[int]:
        rows = await self._read("fetchall", "SELECT recommended_id FROM recommendations WHERE product_id = %s "
                                "ORDER BY recommended_id", (pid,))
        return [int(r[0]) for r in rows]

    # -- users and sessions --------------------------------------------------------------------
    async def user(self, username: str) -> tuple[str, str] | None:
        row = await self.primary.fetchone("SELECT password_hash, role FROM users WHERE username = %s",
                                          (username,))
        return None if row is None else (row[0], row[1])

    async def create_session(self, username: str, role: str, ttl_s: int) -> dict[str, Any]:
        sid = secrets.token_urlsafe(24)
        now = time.time()
        await self.primary.execute("INSERT INTO sessions (id, username, created_at, expires_at) "
                                   "VALUES (%s, %s, %s, %s)", (sid, username, now, now + ttl_s))
        return {"id": sid, "username": username, "role": role, "created_at": now, "expires_at": now + ttl_s}

    async def session_json(self, sid: str, *tokens: str | None) -> bytes | None:
        row = await self._read("fetchone", "SELECT s.id, s.username, u.role, s.created_at, s.expires_at "
                               "FROM sessions s JOIN users u ON u.username = s.username "
                               "WHERE s.id = %s AND s.expires_at > %s", (sid, time.time()), *tokens)
        if row is None:
            return None
        return dumps({"id": row[0], "username": row[1], "role": row[2], "created_at": float(row[3]),
                      "expires_at": float(row[4])})

    async def delete_session(self, sid: str) -> bool:
        return bool(await self.primary.execute("DELETE FROM sessions WHERE id = %s", (sid,)))

    # -- orders --------------------------------------------------------------------------------
    async def price(self, pid: int) -> int | None:
        row = await self.primary.fetchone("SELECT price_cents FROM products WHERE id = %s AND deleted_at IS NULL",
                                          (pid,))
        return None if row is None else int(row[0])

    async def create_order(self, username: str, pid: int, quantity: int, amount: int, status: str) -> int:
        row = await self.primary.fetchone(
            "INSERT INTO orders (username, product_id, quantity, amount_cents, status, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id", (username, pid, quantity, amount, status, time.time()))
        return int(row[0]) if row else 0
