"""A third-party plugin as a user would write one: a collector for a new target kind and two checks.

The ``gauge`` target reads a JSON file of readings (``{"value": 42, "sleep": 0}``); it exists so
the tests can drive pass, fail, danger and hanging targets through the real CLI.
"""

import json
import time
from pathlib import Path

from scaleready.api import CollectError, TargetOptions, check, collector, failed, passed, warned


class GaugeOptions(TargetOptions):
    path: str
    limit: float = 100.0


@collector("gauge", options=GaugeOptions)
def collect_gauge(target):
    """Read the readings file (sync on purpose: the engine runs it in a daemon thread)."""
    path = Path(target.options["path"])
    try:
        readings = json.loads(path.read_text())
    except FileNotFoundError:
        raise CollectError(f"readings file {path} does not exist") from None
    time.sleep(float(readings.get("sleep", 0)))
    return {"readings": readings, "limit": target.options["limit"]}


@check("gauge.value", kind="gauge", title="Gauge value under its limit", severity="danger",
       items=["metrics.p99_latency"], section="1.2", remediation="Lower the value.")
def gauge_value(snap, target):
    value, limit = snap.section("readings")["value"], snap.section("limit")
    if value > limit:
        return failed(f"value {value} exceeds {limit}", observed=value, limit=limit, pointer="/readings/value")
    if value > 0.8 * limit:
        return warned(f"value {value} is within 20 % of {limit}", observed=value, limit=limit)
    return passed(f"value {value} is under {limit}", observed=value, limit=limit)


@check("gauge.label", kind="gauge", title="Gauge has a label", severity="info", items=["metrics.error_rate"])
def gauge_label(snap, target):
    label = snap.section("readings").get("label")
    return passed(f"labelled {label!r}") if label else failed("no label")
