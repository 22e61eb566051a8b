"""A run is never lost: when the store cannot take a run, it waits in a local spool.

The spool is a folder of JSON files, one per run (the JSON report document, which reads back
losslessly, plus the snapshots with their bodies, the config path and the redacted target
summary). The next `scaleready check`, or `scaleready store flush`, uploads them in the order
they were taken. Files are written to a temporary name and renamed, so a crash mid-write
never leaves half a run to upload.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from scaleready.api import Snapshot
from scaleready.reports.json_report import from_json, to_document
from scaleready.results import RunResult

SPOOL_ENV = "SCALEREADY_SPOOL_DIR"


def spool_dir() -> Path:
    """``SCALEREADY_SPOOL_DIR`` if set, else ``spool/`` in the user's data dir."""
    if folder := os.environ.get(SPOOL_ENV):
        return Path(folder)
    return Path(platformdirs.user_data_dir("scaleready", appauthor=False)) / "spool"


def store_problem(exc: BaseException) -> str:
    """One line for why the store failed (see `scaleready.store.one_line`)."""
    from scaleready.store import one_line

    return one_line(exc)


def spool_run(run: RunResult, snapshots: list[Snapshot], config_path: str | None,
              targets: list[dict[str, Any]], folder: Path | None = None) -> Path:
    """Write the run to the spool; returns the file."""
    folder = folder or spool_dir()
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "report": to_document(run),
        "snapshots": [json.loads(s.canonical()) for s in snapshots],
        "config_path": config_path,
        "targets": targets,
    }
    stamp = run.started_at.strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}-{run.id}.json"
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(doc, default=str))
    partial.replace(path)
    return path


def pending(folder: Path | None = None) -> list[Path]:
    """Spooled runs, oldest first."""
    folder = folder or spool_dir()
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


@dataclass
class FlushResult:
    uploaded: list[str]
    already_stored: list[str]
    failed: list[tuple[Path, str]]


def flush(store: Any, folder: Path | None = None) -> FlushResult:
    """Upload every spooled run; a file leaves the spool only once its run is in the store."""
    result = FlushResult([], [], [])
    for path in pending(folder):
        try:
            doc = json.loads(path.read_text())
            run = from_json(doc["report"])
            snapshots = [Snapshot.from_json(s) for s in doc.get("snapshots", [])]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            result.failed.append((path, f"unreadable spool file: {exc}"))
            continue
        if store.has_run(run.id):
            result.already_stored.append(run.id)
        else:
            try:
                store.save_run(run, snapshots, doc.get("config_path"), doc.get("targets") or [])
            except Exception as exc:  # the store went away again: keep the file for next time
                result.failed.append((path, store_problem(exc)))
                break
            result.uploaded.append(run.id)
        path.unlink(missing_ok=True)
    return result
