"""Fixtures of the reference-service tests (helpers live in support.py)."""

from tests.refservice.support import server_factory

__all__ = ["server_factory"]
