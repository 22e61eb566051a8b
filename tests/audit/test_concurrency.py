"""Parallel processes: first opening of a fresh store, and appending to the chain at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scaleready.store import Store

REPO = Path(__file__).resolve().parents[2]
OPEN_AND_APPEND = """
import sys
from scaleready.store import Store
store = Store(sys.argv[1])
for i in range(int(sys.argv[2])):
    store.audit("proc-" + sys.argv[3], "test.parallel", str(i))
"""


def _spawn(url: str, processes: int, events: int) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_AND_APPEND, url, str(events), str(n)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(processes)]
    failures = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        if p.returncode != 0:
            failures.append(err.strip().splitlines()[-1:] or [f"exit {p.returncode}"])
    assert failures == [], failures


def test_parallel_first_open_and_appends_keep_one_chain(store_url):
    processes, events = 6, 10
    _spawn(store_url, processes, events)  # the store does not exist yet: all six create/upgrade it
    store = Store(store_url)
    verdict = store.verify_audit()
    assert verdict.ok, verdict.line()
    assert verdict.events == processes * events
