"""The compiled per-event cache loop: L1 per instance + shared L2, TTL, LRU size limits, invalidation.

One numba kernel walks the trace once. A tier is a set of *partitions* (one per app instance for
L1, one for L2), each with a capacity in weight units (entries for L1, bytes for L2). Entries live
in preallocated slots and sit on two intrusive doubly linked lists per partition:

* the LRU list (front = most recent), from which capacity evictions take the tail;
* an insertion list per data type. TTLs are fixed per type and not reset on hit (the guide's
  ``Set(key, val, ttl)`` on fill), so insertion order *is* expiry order and expired entries are
  dropped eagerly from the list heads, as Redis' active expiry and ``cachetools.TTLCache`` do —
  an expired entry never takes room from a live one.

Versions make staleness measurable: every key has a write counter; a cached copy keeps the
version it was filled with, and a hit on an older version is a stale read. A replica read within
the sampled replay lag after a write returns the previous version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["SERVED_DB", "SERVED_L1", "SERVED_L2", "SERVED_WRITE", "CacheOutcome", "TierState", "run_cache"]

SERVED_L1, SERVED_L2, SERVED_DB, SERVED_WRITE = 0, 1, 2, 3

# rows of TierState.link
_LPREV, _LNEXT, _IPREV, _INEXT, _KEY, _VER = 0, 1, 2, 3, 4, 5
# rows of TierState.heads
_LHEAD, _LTAIL, _IHEAD, _ITAIL = 0, 1, 2, 3


@dataclass
class TierState:
    """Arrays of one cache tier (see module docstring); built by `TierState.new`."""

    slot_of: np.ndarray   # int32[parts * n_keys]: slot holding (part, key) or -1
    link: np.ndarray      # int32[slots, 6]
    exp: np.ndarray       # float64[slots]: expiry time
    weight: np.ndarray    # float64[slots]
    heads: np.ndarray     # int32[parts * n_types, 4]
    free: np.ndarray      # int32[slots]: per-partition free stacks
    ftop: np.ndarray      # int64[parts]
    used: np.ndarray      # float64[parts]
    cap: np.ndarray       # float64[parts]
    evictions: np.ndarray  # int64[parts]

    @classmethod
    def new(cls, parts: int, n_keys: int, n_types: int, slots_per_part: int, capacity: float) -> TierState:
        slots = parts * slots_per_part
        if parts * n_keys > 2_000_000_000 or slots > 2_000_000_000:
            raise ValueError("cache tier too large to simulate (instances x keys > 2e9)")
        free = np.empty(slots, dtype=np.int32)
        for p in range(parts):  # each partition's stack lists its own slot range
            base = p * slots_per_part
            free[base: base + slots_per_part] = np.arange(base + slots_per_part - 1, base - 1, -1, dtype=np.int32)
        return cls(
            slot_of=np.full(parts * n_keys, -1, dtype=np.int32),
            link=np.full((slots, 6), -1, dtype=np.int32),
            exp=np.zeros(slots),
            weight=np.zeros(slots),
            heads=np.full((parts * max(n_types, 1), 4), -1, dtype=np.int32),
            free=free,
            ftop=np.full(parts, slots_per_part, dtype=np.int64),
            used=np.zeros(parts),
            cap=np.full(parts, float(capacity)),
            evictions=np.zeros(parts, dtype=np.int64),
        )

    def arrays(self) -> tuple:
        return (self.slot_of, self.link, self.exp, self.weight, self.heads, self.free, self.ftop,
                self.used, self.cap, self.evictions)

    @property
    def slots_per_part(self) -> int:
        return int(self.free.size // self.ftop.size)


@numba.njit(cache=True, inline="always")
def _unlink(link, heads, rp, rn, rh, rt, h, s):
    p = link[s, rp]
    n = link[s, rn]
    if p >= 0:
        link[p, rn] = n
    else:
        heads[h, rh] = n
    if n >= 0:
        link[n, rp] = p
    else:
        heads[h, rt] = p
    link[s, rp] = -1
    link[s, rn] = -1


@numba.njit(cache=True, inline="always")
def _push_front(link, heads, rp, rn, rh, rt, h, s):
    n = heads[h, rh]
    link[s, rp] = -1
    link[s, rn] = n
    if n >= 0:
        link[n, rp] = s
    else:
        heads[h, rt] = s
    heads[h, rh] = s


@numba.njit(cache=True, inline="always")
def _push_back(link, heads, rp, rn, rh, rt, h, s):
    p = heads[h, rt]
    link[s, rn] = -1
    link[s, rp] = p
    if p >= 0:
        link[p, rn] = s
    else:
        heads[h, rh] = s
    heads[h, rt] = s


@numba.njit(cache=True, inline="always")
def _remove(tier, part, s, key_type, n_keys, n_types, spp):
    slot_of, link, _exp, weight, heads, free, ftop, used, _cap, _ev = tier
    key = link[s, _KEY]
    _unlink(link, heads, _LPREV, _LNEXT, _LHEAD, _LTAIL, part, s)
    _unlink(link, heads, _IPREV, _INEXT, _IHEAD, _ITAIL, part * n_types + key_type[key], s)
    slot_of[part * n_keys + key] = -1
    used[part] -= weight[s]
    free[part * spp + ftop[part]] = s
    ftop[part] += 1


@numba.njit(cache=True, inline="always")
def _expire(tier, part, now, key_type, n_keys, n_types, spp):
    exp = tier[2]
    heads = tier[4]
    for d in range(n_types):
        h = part * n_types + d
        s = heads[h, _IHEAD]
        while s >= 0 and exp[s] <= now:
            _remove(tier, part, s, key_type, n_keys, n_types, spp)
            s = heads[h, _IHEAD]


@numba.njit(cache=True, inline="always")
def _lookup(tier, part, key, now, key_type, n_keys, n_types, spp):
    """Version of the live cached copy (moved to the LRU front), or -1 on a miss."""
    slot_of, link, exp, _w, heads, _f, _ft, _u, _c, _ev = tier
    s = slot_of[part * n_keys + key]
    if s < 0:
        return -1
    if exp[s] <= now:
        _remove(tier, part, s, key_type, n_keys, n_types, spp)
        return -1
    _unlink(link, heads, _LPREV, _LNEXT, _LHEAD, _LTAIL, part, s)
    _push_front(link, heads, _LPREV, _LNEXT, _LHEAD, _LTAIL, part, s)
    return link[s, _VER]


@numba.njit(cache=True, inline="always")
def _insert(tier, part, key, expires, ver, w, key_type, n_keys, n_types, spp):
    slot_of, link, exp, weight, heads, free, ftop, used, cap, evictions = tier
    if w > cap[part]:
        return
    s = slot_of[part * n_keys + key]
    if s >= 0:
        _remove(tier, part, s, key_type, n_keys, n_types, spp)
    while used[part] + w > cap[part] or ftop[part] == 0:
        victim = heads[part, _LTAIL]
        if victim < 0:
            return
        _remove(tier, part, victim, key_type, n_keys, n_types, spp)
        evictions[part] += 1
    ftop[part] -= 1
    s = free[part * spp + ftop[part]]
    slot_of[part * n_keys + key] = s
    link[s, _KEY] = key
    link[s, _VER] = ver
    exp[s] = expires
    weight[s] = w
    used[part] += w
    _push_front(link, heads, _LPREV, _LNEXT, _LHEAD, _LTAIL, part, s)
    _push_back(link, heads, _IPREV, _INEXT, _IHEAD, _ITAIL, part * n_types + key_type[key], s)


@numba.njit(cache=True, inline="always")
def _invalidate(tier, part, key, key_type, n_keys, n_types, spp):
    s = tier[0][part * n_keys + key]
    if s >= 0:
        _remove(tier, part, s, key_type, n_keys, n_types, spp)


@numba.njit(cache=True)
def _kernel(t, op, key, inst, lag, key_type, key_bytes, l2_ttl, l1_ttl,
            l1, l1_spp, l2, l2_spp, n_inst, use_l1, use_l2, inv_l2, inv_l1_mode, replicas,
            served, stale, node):
    n = t.size
    n_keys = key_type.size
    n_types = l2_ttl.size
    versions = np.zeros(n_keys, dtype=np.int32)
    last_write = np.full(n_keys, -1e300)
    rr = 0
    for i in range(n):
        k = key[i]
        now = t[i]
        if op[i] == 1:  # write: new version on the primary, then invalidation
            versions[k] += 1
            last_write[k] = now
            served[i] = SERVED_WRITE
            node[i] = 0
            if inv_l2 and use_l2:
                _invalidate(l2, 0, k, key_type, n_keys, n_types, l2_spp)
            if use_l1:
                if inv_l1_mode == 1:
                    _invalidate(l1, inst[i], k, key_type, n_keys, n_types, l1_spp)
                elif inv_l1_mode == 2:
                    for p in range(n_inst):
                        _invalidate(l1, p, k, key_type, n_keys, n_types, l1_spp)
            continue
        current = versions[k]
        p1 = inst[i]
        if use_l1:
            _expire(l1, p1, now, key_type, n_keys, n_types, l1_spp)
            v = _lookup(l1, p1, k, now, key_type, n_keys, n_types, l1_spp)
            if v >= 0:
                served[i] = SERVED_L1
                stale[i] = v < current
                continue
        if use_l2:
            _expire(l2, 0, now, key_type, n_keys, n_types, l2_spp)
            v = _lookup(l2, 0, k, now, key_type, n_keys, n_types, l2_spp)
            if v >= 0:
                served[i] = SERVED_L2
                stale[i] = v < current
                if use_l1:
                    _insert(l1, p1, k, now + l1_ttl, v, 1.0, key_type, n_keys, n_types, l1_spp)
                continue
        # database read: a replica (round robin) that may not have replayed the last write yet
        if replicas > 0:
            node[i] = 1 + rr
            rr = (rr + 1) % replicas
            v = current
            if current > 0 and now - lag[i] < last_write[k]:
                v = current - 1
        else:
            node[i] = 0
            v = current
        served[i] = SERVED_DB
        stale[i] = v < current
        if use_l2:
            _insert(l2, 0, k, now + l2_ttl[key_type[k]], v, key_bytes[k], key_type, n_keys, n_types, l2_spp)
        if use_l1:
            _insert(l1, p1, k, now + l1_ttl, v, 1.0, key_type, n_keys, n_types, l1_spp)


@numba.njit(cache=True)
def _kernel_ttl(t, op, key, inst, lag, key_type, l2_ttl, l1_ttl, n_inst, use_l1, use_l2, inv_l2,
                inv_l1_mode, replicas, served, stale, node):
    """The same model as `_kernel` for tiers without size limits: plain expiry arrays, no lists."""
    n = t.size
    n_keys = key_type.size
    versions = np.zeros(n_keys, dtype=np.int32)
    last_write = np.full(n_keys, -1e300)
    l1_exp = np.full(n_inst * n_keys if use_l1 else 1, -1e300)
    l1_ver = np.zeros(n_inst * n_keys if use_l1 else 1, dtype=np.int32)
    l2_exp = np.full(n_keys, -1e300)
    l2_ver = np.zeros(n_keys, dtype=np.int32)
    rr = 0
    for i in range(n):
        k = key[i]
        now = t[i]
        if op[i] == 1:
            versions[k] += 1
            last_write[k] = now
            served[i] = SERVED_WRITE
            node[i] = 0
            if inv_l2:
                l2_exp[k] = -1e300
            if use_l1:
                if inv_l1_mode == 1:
                    l1_exp[inst[i] * n_keys + k] = -1e300
                elif inv_l1_mode == 2:
                    for p in range(n_inst):
                        l1_exp[p * n_keys + k] = -1e300
            continue
        current = versions[k]
        j = inst[i] * n_keys + k
        if use_l1 and l1_exp[j] > now:
            served[i] = SERVED_L1
            stale[i] = l1_ver[j] < current
            continue
        if use_l2 and l2_exp[k] > now:
            v = l2_ver[k]
            served[i] = SERVED_L2
            stale[i] = v < current
            if use_l1:
                l1_exp[j] = now + l1_ttl
                l1_ver[j] = v
            continue
        if replicas > 0:
            node[i] = 1 + rr
            rr = (rr + 1) % replicas
            v = current
            if current > 0 and now - lag[i] < last_write[k]:
                v = current - 1
        else:
            node[i] = 0
            v = current
        served[i] = SERVED_DB
        stale[i] = v < current
        if use_l2:
            l2_exp[k] = now + l2_ttl[key_type[k]]
            l2_ver[k] = v
        if use_l1:
            l1_exp[j] = now + l1_ttl
            l1_ver[j] = v


@numba.njit(cache=True)
def _max_window_reads(t, op, inst, n_inst, ttl, limit):
    """True when no instance ever has more than ``limit`` reads within one TTL window."""
    ring = np.full((n_inst, limit + 1), -1e300)
    pos = np.zeros(n_inst, dtype=np.int64)
    for i in range(t.size):
        if op[i] != 0:
            continue
        p = inst[i]
        j = pos[p]
        # ring[p, j] holds the read limit+1 reads back; if it is still inside the window, too many
        if ring[p, j] > t[i] - ttl:
            return False
        ring[p, j] = t[i]
        pos[p] = (j + 1) % (limit + 1)
    return True


def _l1_never_full(t, op, inst, n_inst: int, ttl: float, entries: int, n_keys: int) -> bool:
    """An L1 entry lives at most one TTL, so a limit above the reads per window never binds."""
    if entries >= n_keys:
        return True
    if n_inst * (entries + 1) > 50_000_000:
        return False
    return bool(_max_window_reads(t, op, inst, n_inst, float(ttl), int(entries)))


def _l2_never_full(t, op, key, key_type, key_bytes, l2_ttl, capacity: float) -> bool:
    """Upper bound of L2 bytes: per type, min(keys, reads in any TTL window) x value size."""
    reads = op == 0
    rtype = key_type[key[reads]]
    rt = t[reads]
    bound = 0.0
    for d in range(l2_ttl.size):
        n_keys_d = int((key_type == d).sum())
        if n_keys_d == 0:
            continue
        td = rt[rtype == d]
        window = int((np.searchsorted(td, td + l2_ttl[d], side="left") - np.arange(td.size)).max()) \
            if td.size else 0
        bound += min(n_keys_d, window) * float(key_bytes[key_type == d][0])
    return bound <= capacity


@dataclass
class CacheOutcome:
    """Per-event results of the cache loop."""

    served: np.ndarray   # int8: SERVED_*
    stale: np.ndarray    # bool
    node: np.ndarray     # int16: DB node (0 primary, 1.. replicas) or -1
    l1_evictions: int
    l2_evictions: int


def run_cache(t: np.ndarray, op: np.ndarray, key: np.ndarray, inst: np.ndarray, lag: np.ndarray,
              key_type: np.ndarray, key_bytes: np.ndarray, l2_ttl: np.ndarray, *, l1_ttl: float,
              l1_entries: int, l2_bytes: float, n_inst: int, use_l1: bool = True, use_l2: bool = True,
              invalidate_l2: bool = True, invalidate_l1: str = "local", replicas: int = 0) -> CacheOutcome:
    """Run the tiers over a trace. ``lag`` (seconds per event) is read only for replica reads."""
    n_keys = int(key_type.size)
    n_types = int(l2_ttl.size)
    if replicas > 0 and lag.size != t.size:
        raise ValueError("lag must have one value per event when replicas > 0")
    if lag.size == 0:
        lag = np.zeros(1)
    served = np.empty(t.size, dtype=np.int8)
    stale = np.zeros(t.size, dtype=np.bool_)
    node = np.full(t.size, -1, dtype=np.int16)
    mode = {"none": 0, "local": 1, "all": 2}[invalidate_l1]
    key_type = key_type.astype(np.int8)
    key_bytes = key_bytes.astype(np.float64)
    l2_ttl = l2_ttl.astype(np.float64)
    unbounded = (not use_l1 or _l1_never_full(t, op, inst, n_inst, l1_ttl, l1_entries, n_keys)) and (
        not use_l2 or l2_bytes >= key_bytes.sum()
        or _l2_never_full(t, op, key, key_type, key_bytes, l2_ttl, l2_bytes))
    if unbounded:
        if use_l1 and n_inst * n_keys > 2_000_000_000:
            raise ValueError("cache tier too large to simulate (instances x keys > 2e9)")
        _kernel_ttl(t, op, key, inst, lag, key_type, l2_ttl, float(l1_ttl), n_inst, use_l1, use_l2,
                    invalidate_l2 and use_l2, mode, replicas, served, stale, node)
        return CacheOutcome(served, stale, node, 0, 0)
    l1_spp = int(min(l1_entries, n_keys)) if use_l1 else 1
    l1 = TierState.new(n_inst if use_l1 else 1, n_keys if use_l1 else 1, n_types, l1_spp, l1_entries)
    l2_spp = n_keys if use_l2 else 1
    l2 = TierState.new(1, n_keys if use_l2 else 1, n_types, l2_spp, l2_bytes)
    _kernel(t, op, key, inst, lag, key_type, key_bytes, l2_ttl, float(l1_ttl), l1.arrays(), l1_spp,
            l2.arrays(), l2_spp, n_inst, use_l1, use_l2, invalidate_l2, mode, replicas, served, stale, node)
    return CacheOutcome(served, stale, node, int(l1.evictions.sum()), int(l2.evictions.sum()))
