"""Reading Prometheus HTTP API result documents: the values of an instant vector or a scalar.

The collector's signal queries and the evidence probes both turn ``data`` of ``/api/v1/query``
into plain ``{"labels", "value"}`` rows; a value that is not a finite number (NaN, +Inf, text)
becomes None, so no check ever compares against a NaN.
"""

from __future__ import annotations

import math
from typing import Any


def number(raw: Any) -> float | None:
    """A sample value as a finite float, or None."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def instant_values(data: Any, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of an instant query's result (vector or scalar), at most ``limit`` of them."""
    if not isinstance(data, dict):
        return []
    if data.get("resultType") == "scalar":
        return [{"labels": {}, "value": number(data["result"][1])}]
    items = (data.get("result") or [])[:limit]
    return [{"labels": item.get("metric") or {}, "value": number((item.get("value") or [None, None])[1])}
            for item in items]
