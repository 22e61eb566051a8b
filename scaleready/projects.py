"""Which project a command or a page acts on: one store serves several products.

``SCALEREADY_PROJECT`` if set, else the ``project:`` key of the config file (``scaleready.yaml``
in the working directory unless another is named), else ``default``. The CLI adds ``--project``
on top; the dashboard offers the store's projects with this one preselected.
"""

from __future__ import annotations

import os
from pathlib import Path

from scaleready.models import DEFAULT_PROJECT

PROJECT_ENV = "SCALEREADY_PROJECT"


def resolve_project(project: str | None = None, config_path: str | None = "scaleready.yaml") -> str:
    if project:
        return project
    if env := os.environ.get(PROJECT_ENV):
        return env
    if config_path and Path(config_path).is_file():
        from scaleready.config import load_config

        return load_config(config_path).project
    return DEFAULT_PROJECT
