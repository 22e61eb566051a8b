"""A run started from a front end: per-target progress from the real runner, and cancellation.

Targets are real: the local PostgreSQL and Redis, a port nobody listens on, a secret that is
not set, and a socket that accepts and then never answers (to have something to cancel).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from scaleready.config import parse_config
from scaleready.runjob import RunJob
from scaleready.runner import RunCancelled, execute
from scaleready.store import Store
from tests.support.pg_cluster import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never answers: an HTTP collector waits on it until cancelled."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


def _config(text: str, tmp_path):
    return parse_config(text, tmp_path / "scaleready.yaml")


def test_progress_reports_every_phase_of_every_target(pg_database, tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    config = _config(f"""
targets:
  - {{name: db, kind: postgres, dsn: '{pg_database}'}}
  - {{name: cache, kind: redis, url: 'redis://127.0.0.1:6379/2'}}
  - {{name: down, kind: redis, url: 'redis://127.0.0.1:{free_port()}/0', timeout: 5}}
  - {{name: nosecret, kind: postgres, dsn: 'postgresql://app:${{NOT_SET_ANYWHERE}}@127.0.0.1/app'}}
""", tmp_path)
    events: list[tuple[str, str]] = []
    run, _ = execute(config, progress=lambda target, phase, info: events.append((target, phase)))
    for name in ("db", "cache", "down"):
        phases = [p for t, p in events if t == name]
        assert phases[0] == "collecting" and phases[-1] == "evaluated", (name, phases)
    assert ("db", "collected") in events and ("cache", "collected") in events
    assert ("down", "failed") in events
    assert [p for t, p in events if t == "nosecret"] == ["failed", "evaluated"]
    down = [f for f in run.findings if f.target == "down"]
    assert down and {f.status.value for f in down} == {"error"}
    assert all("could not collect from down" in f.message for f in down)


def test_a_job_runs_in_the_background_and_stores_the_run(pg_database, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    config = _config(f"targets:\n  - {{name: db, kind: postgres, dsn: '{pg_database}'}}\n", tmp_path)
    job = RunJob(config, store).start()
    assert job.wait(60)
    assert job.state == "done" and job.result is not None
    (row,) = job.progress()
    assert row.phase == "evaluated" and row.error is None and row.findings == len(job.result.findings) > 0
    assert row.collect_ms is not None and "collected in" in row.label
    assert job.overall() == 1.0
    assert store.load_run("latest").id == job.result.id


def test_cancel_stops_a_hanging_collection_and_stores_nothing(silent_server, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    config = _config(f"targets:\n  - {{name: hangs, kind: http, url: 'http://127.0.0.1:{silent_server}', "
                     "timeout: 300}\n", tmp_path)
    job = RunJob(config, store).start()
    deadline = time.monotonic() + 20
    while job.progress()[0].phase != "collecting":
        assert time.monotonic() < deadline, "the target never started collecting"
        time.sleep(0.05)
    time.sleep(0.5)
    assert not job.done
    began = time.monotonic()
    job.cancel()
    assert job.wait(10), "cancel did not end the run"
    assert time.monotonic() - began < 5
    assert job.state == "cancelled" and "nothing was stored" in (job.error or "")
    assert store.runs() == []


def test_cancel_before_the_run_raises_and_stores_nothing(pg_database, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    config = _config(f"targets:\n  - {{name: db, kind: postgres, dsn: '{pg_database}'}}\n", tmp_path)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RunCancelled):
        execute(config, store=store, cancel=cancel)
    assert store.runs() == []
