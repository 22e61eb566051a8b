"""Our recommendations against PGTune's current formulas, re-implemented here from its published source.

The reference below follows le0pard/pgtune's ``src/features/configuration/configurationSlice.js``
line by line in its own units (kB, ``Math.floor``), for Linux and PostgreSQL >= 10, with its
default "database about the size of RAM". It shares no code with ``checks.postgres.tuning``.
Two measures over a grid of hosts (memory x CPUs x workload x storage):

- the recommended value of every setting matches PGTune's (to the kB it rounds to);
- PGTune's own configuration for a host, fed to our checks as the observed values, passes.
"""

from __future__ import annotations

import itertools
import math

from checks.postgres import settings
from checks.postgres.tuning import KB, Host, rules
from scaleready.api import Snapshot, Status, Target

MEMORIES_GB = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CPUS = (None, 1, 2, 4, 8, 16, 32, 64)
WORKLOADS = ("web", "oltp", "dw", "desktop", "mixed")
STORAGES = ("ssd", "hdd", "san", "nvme")


def pgtune(memory_gb: int, cpus: int | None, db_type: str, hd_type: str) -> dict[str, float]:
    """PGTune's answer: memory settings in kB, the others as numbers."""
    total_kb = memory_gb * 1024 * 1024
    max_connections = {"web": 200, "oltp": 300, "dw": 40, "desktop": 20, "mixed": 100}[db_type]
    shared_buffers = math.floor(total_kb / 16) if db_type == "desktop" else math.floor(total_kb / 4)
    effective_cache = math.floor(total_kb / 4) if db_type == "desktop" else math.floor(total_kb * 3 / 4)
    maintenance = math.floor(total_kb / 8) if db_type == "dw" else math.floor(total_kb / 16)
    maintenance = min(maintenance, 8 * 1024 * 1024)
    parallel = cpus if cpus and cpus >= 4 else 8  # max_worker_processes, else the PG default
    base = (total_kb - shared_buffers) / ((max_connections + parallel) * 3)
    work_mem = math.floor(base / {"dw": 2, "mixed": 2, "desktop": 6}.get(db_type, 1))
    work_mem = max(work_mem, 4 * 1024)
    random_page_cost = 4 if hd_type == "hdd" or db_type == "dw" else 1.1
    return {"shared_buffers": shared_buffers, "effective_cache_size": effective_cache,
            "maintenance_work_mem": maintenance, "work_mem": work_mem, "random_page_cost": random_page_cost,
            "max_connections": max_connections}


MEMORY = ("shared_buffers", "effective_cache_size", "maintenance_work_mem", "work_mem")
CHECKS = {c.id.rsplit(".", 1)[1]: c for c in settings.CHECKS}


def _hosts():
    return itertools.product(MEMORIES_GB, CPUS, WORKLOADS, STORAGES)


def test_recommendations_match_pgtune_on_every_host() -> None:
    compared, agreed, differences = 0, 0, []
    for memory_gb, cpus, workload, storage in _hosts():
        theirs = pgtune(memory_gb, cpus, workload, storage)
        ours = rules(Host(memory_gb * 1024**3, cpus, storage, workload), theirs["max_connections"])
        for name, value in theirs.items():
            expected = value * KB if name in MEMORY else value
            compared += 1
            if abs(ours[name].recommended - expected) <= (KB if name in MEMORY else 1e-9):
                agreed += 1
            else:
                differences.append((memory_gb, cpus, workload, storage, name, ours[name].recommended, expected))
    print(f"PGTune agreement on recommendations: {agreed}/{compared} = {agreed / compared:.1%}")
    assert agreed == compared, differences[:10]


def test_pgtunes_configuration_passes_our_checks() -> None:
    judged, passed, failures = 0, 0, []
    for memory_gb, cpus, workload, storage in _hosts():
        theirs = pgtune(memory_gb, cpus, workload, storage)
        values = {name: {"setting": str(int(v)) if name in MEMORY else str(v), "unit": "kB" if name in MEMORY
                         else None, "source": "configuration file"} for name, v in theirs.items()}
        snapshot = Snapshot("pg", "postgres", data={"settings": values, "role_settings": []})
        options = {"dsn": "postgresql://x@127.0.0.1/x", "memory": f"{memory_gb}GB", "storage": storage,
                   "workload": workload, **({"cpus": cpus} if cpus else {})}
        target = Target("pg", "postgres", options)
        for name, chk in CHECKS.items():
            (outcome,) = chk.evaluate(snapshot, target)
            judged += 1
            if outcome.status == Status.PASS:
                passed += 1
            else:
                failures.append((memory_gb, cpus, workload, storage, name, outcome.message))
    print(f"PGTune's configurations passing our checks: {passed}/{judged} = {passed / judged:.1%}")
    assert passed == judged, failures[:10]
