"""Waivers granted in the store, as plain rows with their state today (CLI and dashboard).

An expired waiver stops applying (the engine checks its date) but stays listed as
``expired``, so an auditor sees that an accepted risk lapsed instead of it vanishing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def waiver_rows(store: Any, project: str, include_revoked: bool = False) -> list[dict[str, Any]]:
    """The project's waivers as plain rows, with their state today (also for the dashboard)."""
    today: date = datetime.now(UTC).date()
    rows = []
    for w in store.waivers(include_revoked=include_revoked, project=project):
        expires = w.expires.date() if w.expires else None
        state = "revoked" if w.revoked else "expired" if expires and today > expires else "active"
        rows.append({"id": w.id, "state": state, "check": w.check_id, "target": w.target, "subject": w.subject,
                     "reason": w.reason, "expires": expires.isoformat() if expires else None, "by": w.actor,
                     "created": w.created_at.strftime("%Y-%m-%d %H:%M")})
    return rows
