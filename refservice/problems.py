"""Uniform RFC 7807 problem+json errors (guide 8, "API response standardization").

Every error the service returns, whether raised by a handler, by validation, by the rate
limiter or by an emergency switch, has the same shape and media type, so clients and the
checks can rely on it.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://scaleready.dev/problems/"


class Problem(Exception):
    """An error to be answered as problem+json; `kind` becomes the `type` URI's last part."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extra = extra


def problem_body(status: int, kind: str, detail: str, *, title: str | None = None,
                 instance: str | None = None, **extra: Any) -> bytes:
    """The JSON body of one problem document."""
    doc: dict[str, Any] = {
        "type": TYPE_BASE + kind,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        doc["instance"] = instance
    doc.update(extra)
    return json.dumps(doc, separators=(",", ":")).encode()


def problem_response(status: int, kind: str, detail: str, *, title: str | None = None,
                     instance: str | None = None, headers: dict[str, str] | None = None,
                     **extra: Any) -> Response:
    """A Starlette response carrying one problem document."""
    body = problem_body(status, kind, detail, title=title, instance=instance, **extra)
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def install_handlers(app: FastAPI) -> None:
    """Route every error path of the app through problem+json."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc.status, exc.kind, exc.detail, title=exc.title,
                                instance=request.url.path, headers=exc.headers, **exc.extra)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, kind, str(exc.detail), instance=request.url.path,
                                headers=dict(exc.headers or {}))

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")} for e in exc.errors()]
        return problem_response(422, "validation-error", "the request is not valid",
                                instance=request.url.path, errors=errors)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        return problem_response(500, "internal-error", "an unexpected error occurred",
                                instance=request.url.path)

    async def on_database_down(request: Request, exc: Exception) -> Response:
        return problem_response(503, "dependency-unavailable", "the database is not reachable right now",
                                instance=request.url.path, headers={"Retry-After": "5"})

    import sqlite3

    app.add_exception_handler(sqlite3.OperationalError, on_database_down)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    else:
        app.add_exception_handler(psycopg.OperationalError, on_database_down)
    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)
