"""Where scaleready's bundled data lives, for wheel installs and source checkouts alike.

Wheels force-include the repository's ``data/`` as ``scaleready/_data``; an editable install or a
plain checkout reads ``data/`` next to the package. Everything that loads bundled files (the
framework, schemas, demo config) goes through `data_dir` so the two layouts never diverge.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_dir"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    """The directory holding ``frameworks/``, ``schemas/`` and the other bundled data."""
    installed = _PACKAGE_DIR / "_data"
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / "data"
