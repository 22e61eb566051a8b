"""PostgreSQL memory/planner settings recommended for a host, the way PGTune computes them today.

The guide (3.1) gives one host's answer: 16 GB RAM, SSD, a web workload, 200 connections ->
shared_buffers 4GB (25 %), effective_cache_size 12GB (75 %), maintenance_work_mem 1GB,
work_mem 64MB, random_page_cost 1.1, max_connections 200. To judge any host we follow the
current formulas of PGTune (le0pard/pgtune, ``configurationSlice.js``), Linux, PostgreSQL >= 10:

- ``max_connections`` per workload: web 200, oltp 300, dw 40, desktop 20, mixed 100;
- ``shared_buffers`` = RAM / 4 (desktop: RAM / 16);
- ``effective_cache_size`` = RAM * 3 / 4 (desktop: RAM / 4);
- ``maintenance_work_mem`` = RAM / 16 (dw: RAM / 8), capped at 8 GB;
- ``work_mem`` = (RAM - shared_buffers) / ((max_connections + max_worker_processes) * 3), where
  max_worker_processes = CPUs when there are 4 or more, else PostgreSQL's default 8; halved
  for dw and mixed, divided by 6 for desktop; at least 4 MB;
- ``random_page_cost`` = 4 on HDD and for a data warehouse (dw: large scans on SSD are still
  faster sequentially), 1.1 otherwise (SSD, SAN, NVMe).

Known differences from PGTune, on purpose: PGTune's "database size vs RAM" input (x1.3 /
x0.9 on work_mem, random_page_cost 1.1 when everything fits in RAM) is not asked for, so
its default (database about the size of RAM) is assumed; the Windows limits (2 GB - 1 MB on
PostgreSQL <= 17) are not applied since the OS is not known. work_mem uses the server's
observed max_connections where PGTune uses the profile's (or the user's) number.

Each rule carries a tolerance band on observed/recommended: inside the pass band is ``pass``,
inside the warn band ``warn`` ("a little off"), outside ``fail`` ("far off"). PGTune's
work_mem is deliberately conservative (it assumes three allocations per connection and worker
at once): the guide's own 64MB is 3.25x PGTune's 19.7MB on the guide's host, so the pass band
reaches 4x. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

KB, MB, GB, TB = 1024, 1024**2, 1024**3, 1024**4
WORKLOADS = ("web", "oltp", "dw", "desktop", "mixed")
STORAGE = ("ssd", "hdd", "san", "nvme")
PROFILE_CONNECTIONS = {"web": 200, "oltp": 300, "dw": 40, "desktop": 20, "mixed": 100}
DEFAULT_WORKER_PROCESSES = 8  # PostgreSQL's max_worker_processes default, PGTune's fallback
MAINTENANCE_CAP = 8 * GB
WORK_MEM_FLOOR = 4 * MB
PG_UNITS = {"b": 1, "kb": KB, "mb": MB, "gb": GB, "tb": TB, "8kb": 8 * KB, "16mb": 16 * MB}
_SIZE = re.compile(r"^\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[kmgt]?i?b?)?\s*$", re.IGNORECASE)


def parse_size(value: Any) -> int:
    """Bytes from a host size: a number is GiB (``memory: 16``); strings take kB/MB/GB/TB, GiB, G."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError(f"size must be positive: {value!r}")
        return int(value * GB)
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"not a size: {value!r} (use e.g. 16GB, 512MB or a number of GB)")
    num = float(match["num"])
    unit = (match["unit"] or "g").lower().rstrip("b").rstrip("i") or "b"
    factor = {"b": 1, "k": KB, "m": MB, "g": GB, "t": TB}[unit]
    if not match["unit"]:
        factor = GB
    if num <= 0:
        raise ValueError(f"size must be positive: {value!r}")
    return int(num * factor)


def pg_value_bytes(value: str, unit: str | None) -> int | None:
    """Bytes for a memory GUC value as PostgreSQL prints or stores it ('4GB', '65536' in kB units)."""
    text = str(value).strip()
    match = re.match(r"^(-?\d+(?:\.\d+)?)\s*([a-zA-Z]*)$", text)
    if not match:
        return None
    num, suffix = float(match[1]), match[2].lower()
    factor = PG_UNITS.get(suffix) if suffix else PG_UNITS.get((unit or "").lower())
    if factor is None:
        return None
    return int(num * factor)


def human_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("TB", TB), ("GB", GB), ("MB", MB), ("kB", KB)):
        if abs(n) >= size:
            value = n / size
            return f"{value:.0f}{unit}" if value >= 10 or value == int(value) else f"{value:.1f}{unit}"
    return f"{int(n)}B"


@dataclass(frozen=True)
class Host:
    """What the target says about the machine PostgreSQL runs on."""

    memory: int | None = None
    cpus: int | None = None
    storage: str | None = None
    workload: str = "web"


@dataclass(frozen=True)
class Rule:
    """One setting's recommendation and its bands (ratios of observed to recommended)."""

    name: str
    recommended: float | None  # bytes for memory settings, a number otherwise
    why: str
    pass_band: tuple[float, float]
    warn_band: tuple[float, float]
    memory: bool = True
    missing: str | None = None  # why no recommendation can be made (host facts absent)

    def judge(self, observed: float) -> tuple[str, float]:
        """('pass'|'warn'|'fail', ratio) for an observed value."""
        assert self.recommended
        ratio = observed / self.recommended
        if self.pass_band[0] <= ratio <= self.pass_band[1]:
            return "pass", ratio
        if self.warn_band[0] <= ratio <= self.warn_band[1]:
            return "warn", ratio
        return "fail", ratio

    def show(self, value: float | None) -> str:
        if value is None:
            return "?"
        if self.memory:
            return human_bytes(value)
        return f"{value:g}"


def worker_processes(cpus: int | None) -> int:
    """PGTune's max_worker_processes for work_mem: the CPU count from 4 CPUs up, else the default 8."""
    if cpus and cpus >= 4:
        return cpus
    return DEFAULT_WORKER_PROCESSES


def _work_mem(ram: int, shared_buffers: int, conns: int, cpus: int | None, profile: str) -> tuple[int, str]:
    workers = worker_processes(cpus)
    divisor = {"dw": 2, "mixed": 2, "desktop": 6}.get(profile, 1)
    value = (ram - shared_buffers) / ((conns + workers) * 3) / divisor
    why = (f"(RAM - shared_buffers) / (({conns} connections + {workers} worker processes) x 3)"
           + (f" / {divisor} for a {profile} workload" if divisor > 1 else "") + ", at least 4MB")
    return max(WORK_MEM_FLOOR, int(value)), why


def rules(host: Host, max_connections: int | None) -> dict[str, Rule]:
    """The recommendation for every tuned setting on this host (``missing`` when it cannot be made)."""
    ram = host.memory
    profile = host.workload if host.workload in WORKLOADS else "web"
    desktop = profile == "desktop"
    no_ram = "the target does not give the host's memory (set `memory:`, e.g. 16GB)"
    out: dict[str, Rule] = {}
    sb = (ram // 16 if desktop else ram // 4) if ram else None
    out["shared_buffers"] = Rule(
        "shared_buffers", sb,
        "RAM / 16 for a desktop" if desktop else
        "RAM / 4: PostgreSQL's own cache, leaving the rest to the OS page cache",
        (0.8, 1.25), (0.4, 1.6), missing=None if ram else no_ram)
    out["effective_cache_size"] = Rule(
        "effective_cache_size", (ram // 4 if desktop else ram * 3 // 4) if ram else None,
        "RAM / 4 for a desktop" if desktop else
        "RAM x 3 / 4: what the planner may assume is cached (shared_buffers + OS cache)",
        (0.67, 1.1), (0.33, 1.2), missing=None if ram else no_ram)
    share = 8 if profile == "dw" else 16
    mwm = min(MAINTENANCE_CAP, ram // share) if ram else None
    out["maintenance_work_mem"] = Rule(
        "maintenance_work_mem", mwm, f"RAM / {share} capped at 8GB: faster VACUUM and CREATE INDEX",
        (0.5, 2.0), (0.125, 4.0), missing=None if ram else no_ram)
    conns = max_connections or PROFILE_CONNECTIONS[profile]
    if ram and sb:
        wm, why = _work_mem(ram, sb, conns, host.cpus, profile)
    else:
        wm, why = None, "per-sort memory budget"
    out["work_mem"] = Rule("work_mem", wm, why, (0.5, 4.0), (0.2, 8.0), missing=None if ram else no_ram)
    storage = (host.storage or "").lower() or None
    if storage == "hdd" or (storage in STORAGE and profile == "dw"):
        rpc, rpc_why = 4.0, ("4 for a data warehouse: its large reads are faster as sequential scans even on "
                             "SSD" if storage != "hdd" else "4 on spinning disks: a random read costs a seek")
    elif storage in STORAGE:
        rpc, rpc_why = 1.1, f"1.1 on {storage.upper()}: random reads cost about as much as sequential ones"
    else:
        rpc, rpc_why = None, "random read cost of the storage"
    out["random_page_cost"] = Rule(
        "random_page_cost", rpc, rpc_why, (0.75, 1.4), (0.5, 2.3), memory=False,
        missing=None if rpc else "the target does not give the storage type (set `storage: ssd|hdd|san|nvme`)")
    out["max_connections"] = Rule(
        "max_connections", PROFILE_CONNECTIONS[profile],
        f"{PROFILE_CONNECTIONS[profile]} for a {profile} workload: each connection is a process; "
        "beyond that use a pooler (PgBouncer)",
        (0.25, 1.5), (0.1, 2.5), memory=False)
    return out
