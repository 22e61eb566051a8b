"""Structured JSON logs with the request and trace ids of the request being served (roadmap p2).

Each record is one JSON object per line: time, level, logger, message, request_id and trace_id
(from context variables the middleware sets) and any ``extra={...}`` fields. Lines at warning
level and above are counted by level (``log_messages_total``) so an alert can watch the log
error rate (guide 7.2's log analysis, automated). Nothing secret is logged:
the access log carries method, route template, status and duration, never headers or bodies.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any, TextIO

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)
_level_counter: Any = None  # a prometheus Counter labelled by level, set by count_levels()


def count_levels(counter: Any) -> None:
    """Count every formatted line at warning level and above on ``counter.labels(level)``."""
    global _level_counter
    _level_counter = counter

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName",
                                                                          "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 6),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid is not None:
            doc["request_id"] = rid
        tid = trace_id_var.get()
        if tid is not None:
            doc["trace_id"] = tid
        if record.levelno >= logging.WARNING and _level_counter is not None:
            _level_counter.labels(doc["level"]).inc()
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, separators=(",", ":"))


from json.encoder import encode_basestring_ascii as _q  # noqa: E402  (C-accelerated string quoting)

_second = [0, ""]  # the last formatted second, reused by the lines of that second


def _iso(now: float) -> str:
    sec = int(now)
    if sec != _second[0]:
        _second[0], _second[1] = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return f"{_second[1]}.{int(now * 1000) % 1000:03d}Z"


def access(logger: logging.Logger, rid: str, method: str, route: str, path: str, status: int,
           duration_ms: float, trace_id: str = "") -> None:
    """One access-log line. The hot path: when the logger's only handler is our JSON handler, the
    line is written directly with the fields `JsonFormatter` would give it, skipping the LogRecord
    machinery (which costs more than an L1 cache hit)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _fast_handler
    if handler is None or logger.handlers or not logger.propagate or _root.handlers != [handler]:
        logger.info("request", extra={"method": method, "route": route, "path": path, "status": status,
                                      "duration_ms": duration_ms})
        return
    now = time.time()
    handler.stream.write(
        f'{{"ts":{now:.6f},"time":"{_iso(now)}","level":"info","logger":{_q(logger.name)},"msg":"request",'
        f'"request_id":{_q(rid)},"trace_id":"{trace_id}","method":{_q(method)},"route":{_q(route)},"path":{_q(path)},'
        f'"status":{status},"duration_ms":{duration_ms}}}\n')


_fast_handler: logging.StreamHandler | None = None  # type: ignore[type-arg]
_root = logging.getLogger("refservice")


def configure(level: str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Send the ``refservice`` loggers to ``stream`` (stderr) as JSON lines; returns the handler."""
    logger = logging.getLogger("refservice")
    for handler in list(logger.handlers):
        if getattr(handler, "_refservice", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._refservice = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    global _fast_handler
    _fast_handler = handler
    return handler
