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

When no size limit can bind during the trace, `run_cache` takes the much faster loop of
`fastpath` (same decisions, no lists); tests hold both to a plain-Python reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .fastpath import SERVED_DB, SERVED_L1, SERVED_L2, SERVED_WRITE, kernel_ttl, l1_never_full, l2_never_full

__all__ = ["SERVED_DB", "SERVED_L1", "SERVED_L2", "SERVED_WRITE", "CacheOutcome", "TierState", "run_cache"]

MAX_L1_CELLS = 250_000_000
"""instances x keys beyond which per-instance L1 arrays would need several GB"""

# columns of a slot record in ``rec``
_LPREV, _LNEXT, _IPREV, _INEXT, _KEY, _VER = 0, 1, 2, 3, 4, 5


@dataclass
class TierState:
    """Arrays of all cache partitions: L1 of each instance (0..I-1) and L2 (partition I).

    Partition p owns slots ``base[p] .. base[p] + per-partition slots``; ``lhd[p]`` is its LRU
    list (head = most recent, tail = next victim) and ``ihd[p * n_types + d]`` the insertion
    (= expiry) list of data type d.
    """

    slot_of: np.ndarray   # int32[parts * n_keys]: slot holding (part, key) or -1
    rec: np.ndarray       # int32[slots, 6]: list links, key, version
    fexp: np.ndarray      # float64[slots]: expiry time
    fw: np.ndarray        # float64[slots]: weight (entries or bytes)
    lhd: np.ndarray       # int64[parts, 2]: LRU head, tail
    ihd: np.ndarray       # int64[parts * n_types, 2]: insertion list head, tail
    used: np.ndarray      # float64[parts]
    cap: np.ndarray       # float64[parts]
    ftop: np.ndarray      # int64[parts]: free slots left
    base: np.ndarray      # int64[parts]: first slot of the partition
    evictions: np.ndarray  # int64[parts]
    free: np.ndarray      # int32[slots]: per-partition free stacks

    @classmethod
    def new(cls, n_inst: int, n_keys: int, n_types: int, l1_slots: int, l1_cap: float, l2_slots: int,
            l2_cap: float) -> TierState:
        parts = n_inst + 1
        if parts * n_keys > 2_000_000_000:
            raise ValueError("cache tier too large to simulate (instances x keys > 2e9)")
        per = np.array([l1_slots] * n_inst + [l2_slots], dtype=np.int64)
        base = np.concatenate([[0], np.cumsum(per)[:-1]]).astype(np.int64)
        slots = int(per.sum())
        free = np.empty(slots, dtype=np.int32)
        for p in range(parts):  # each partition's stack lists its own slot range
            b, m = int(base[p]), int(per[p])
            free[b: b + m] = np.arange(b + m - 1, b - 1, -1, dtype=np.int32)
        return cls(
            slot_of=np.full(parts * n_keys, -1, dtype=np.int32),
            rec=np.full((max(slots, 1), 6), -1, dtype=np.int32),
            fexp=np.zeros(max(slots, 1)),
            fw=np.zeros(max(slots, 1)),
            lhd=np.full((parts, 2), -1, dtype=np.int64),
            ihd=np.full((parts * max(n_types, 1), 2), -1, dtype=np.int64),
            used=np.zeros(parts),
            cap=np.array([float(l1_cap)] * n_inst + [float(l2_cap)]),
            ftop=per.copy(),
            base=base,
            evictions=np.zeros(parts, dtype=np.int64),
            free=free,
        )


@numba.njit(cache=True)
def _kernel(t, op, key, inst, lag, key_type, key_bytes, l2_ttl, l1_ttl, n_inst, use_l1, use_l2, inv_l2,
            inv_l1_mode, replicas, slot_of, rec, fexp, fw, lhd, ihd, used, cap, ftop, base, evictions, free,
            warm_keys, warm_exp, served, stale, node):
    """Size-limited tiers. The helpers are closures: numba inlines them with no per-call cost.

    A tier whose TTLs are all longer than the trace never expires anything, so it skips the
    insertion lists (``timed[p]`` false) — a pure LRU then costs what LRU costs.
    """
    n = t.size
    n_keys = key_type.size
    n_types = l2_ttl.size
    l2p = n_inst
    span = t[n - 1] - t[0] if n > 0 else 0.0
    l1_timed = l1_ttl <= span
    l2_timed = False
    for d in range(n_types):
        if l2_ttl[d] <= span:
            l2_timed = True

    def remove(p, s):
        k = rec[s, _KEY]
        a = rec[s, _LPREV]
        b = rec[s, _LNEXT]
        if a >= 0:
            rec[a, _LNEXT] = b
        else:
            lhd[p, 0] = b
        if b >= 0:
            rec[b, _LPREV] = a
        else:
            lhd[p, 1] = a
        if l2_timed if p == l2p else l1_timed:
            h = p * n_types + key_type[k]
            a = rec[s, _IPREV]
            b = rec[s, _INEXT]
            if a >= 0:
                rec[a, _INEXT] = b
            else:
                ihd[h, 0] = b
            if b >= 0:
                rec[b, _IPREV] = a
            else:
                ihd[h, 1] = a
        slot_of[p * n_keys + k] = -1
        used[p] -= fw[s]
        free[base[p] + ftop[p]] = s
        ftop[p] += 1

    def expire(p, now):
        if not (l2_timed if p == l2p else l1_timed):
            return
        for d in range(n_types):
            h = p * n_types + d
            s = ihd[h, 0]
            while s >= 0 and fexp[s] <= now:
                remove(p, s)
                s = ihd[h, 0]

    def lookup(p, k, now):
        """Version of the live copy (moved to the LRU front), or -1 on a miss."""
        s = slot_of[p * n_keys + k]
        if s < 0:
            return -1
        if fexp[s] <= now:
            remove(p, s)
            return -1
        head = lhd[p, 0]
        if head != s:  # not already the most recent: a has a predecessor
            a = rec[s, _LPREV]
            b = rec[s, _LNEXT]
            rec[a, _LNEXT] = b
            if b >= 0:
                rec[b, _LPREV] = a
            else:
                lhd[p, 1] = a
            rec[s, _LPREV] = -1
            rec[s, _LNEXT] = head
            rec[head, _LPREV] = s
            lhd[p, 0] = s
        return rec[s, _VER]

    def insert(p, k, expires, ver, w):
        if w > cap[p]:
            return
        s = slot_of[p * n_keys + k]
        if s >= 0:
            remove(p, s)
        while used[p] + w > cap[p] or ftop[p] == 0:
            victim = lhd[p, 1]
            if victim < 0:
                return
            remove(p, victim)
            evictions[p] += 1
        ftop[p] -= 1
        s = free[base[p] + ftop[p]]
        slot_of[p * n_keys + k] = s
        rec[s, _KEY] = k
        rec[s, _VER] = ver
        fexp[s] = expires
        fw[s] = w
        used[p] += w
        head = lhd[p, 0]
        rec[s, _LPREV] = -1
        rec[s, _LNEXT] = head
        if head >= 0:
            rec[head, _LPREV] = s
        else:
            lhd[p, 1] = s
        lhd[p, 0] = s
        if l2_timed if p == l2p else l1_timed:
            h = p * n_types + key_type[k]
            tail = ihd[h, 1]
            rec[s, _INEXT] = -1
            rec[s, _IPREV] = tail
            if tail >= 0:
                rec[tail, _INEXT] = s
            else:
                ihd[h, 0] = s
            ihd[h, 1] = s

    def invalidate(p, k):
        s = slot_of[p * n_keys + k]
        if s >= 0:
            remove(p, s)

    any_write = False
    for i in range(n):
        if op[i] == 1:
            any_write = True
            break
    versions = np.zeros(n_keys if any_write else 1, dtype=np.int32)
    last_write = np.full(n_keys if any_write else 1, -1e300)
    if use_l2:  # warm start: steady-state L2 contents, in expiry order
        for j in range(warm_keys.size):
            insert(l2p, warm_keys[j], warm_exp[j], 0, key_bytes[warm_keys[j]])
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
                invalidate(l2p, k)
            if use_l1:
                if inv_l1_mode == 1:
                    invalidate(inst[i], k)
                elif inv_l1_mode == 2:
                    for p in range(n_inst):
                        invalidate(p, k)
            continue
        current = versions[k] if any_write else 0
        p1 = inst[i]
        if use_l1:
            expire(p1, now)
            v = lookup(p1, k, now)
            if v >= 0:
                served[i] = SERVED_L1
                stale[i] = v < current
                continue
        if use_l2:
            expire(l2p, now)
            v = lookup(l2p, k, now)
            if v >= 0:
                served[i] = SERVED_L2
                stale[i] = v < current
                if use_l1:
                    insert(p1, k, now + l1_ttl, v, 1.0)
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
            insert(l2p, k, now + l2_ttl[key_type[k]], v, key_bytes[k])
        if use_l1:
            insert(p1, k, now + l1_ttl, v, 1.0)


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
              invalidate_l2: bool = True, invalidate_l1: str = "local", replicas: int = 0,
              warm_keys: np.ndarray | None = None, warm_exp: np.ndarray | None = None) -> CacheOutcome:
    """Run the tiers over a trace. ``lag`` (seconds per event) is read only for replica reads.

    ``warm_keys``/``warm_exp``: L2 entries present at time 0 (fresh, version 0) and their expiry.
    """
    n_keys = int(key_type.size)
    n_types = int(l2_ttl.size)
    if use_l1 and n_inst * n_keys > MAX_L1_CELLS:
        raise ValueError(f"{n_inst} instances x {n_keys:,} keys is too much per-instance L1 state for the trace "
                         f"engine (limit {MAX_L1_CELLS:.1e}); use the analytic engine")
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
    if warm_keys is None or warm_exp is None or not use_l2:
        warm_keys, warm_exp = np.empty(0, np.int64), np.empty(0)
    order = np.argsort(warm_exp, kind="stable")
    warm_keys = np.ascontiguousarray(np.asarray(warm_keys, dtype=np.int64)[order])
    warm_exp = np.ascontiguousarray(np.asarray(warm_exp, dtype=np.float64)[order])
    warm_bytes = float(key_bytes[warm_keys].sum()) if warm_keys.size else 0.0
    unbounded = (not use_l1 or l1_never_full(t, op, inst, n_inst, l1_ttl, l1_entries, n_keys)) and (
        not use_l2 or l2_bytes >= key_bytes.sum()
        or l2_never_full(t, op, key, key_type, key_bytes, l2_ttl, l2_bytes - warm_bytes))
    if unbounded:
        if use_l1 and n_inst * n_keys > 2_000_000_000:
            raise ValueError("cache tier too large to simulate (instances x keys > 2e9)")
        kernel_ttl(t, op, key, inst, lag, key_type, l2_ttl, float(l1_ttl), n_inst, use_l1, use_l2,
                    invalidate_l2 and use_l2, mode, replicas, warm_keys, warm_exp, served, stale, node)
        return CacheOutcome(served, stale, node, 0, 0)
    st = TierState.new(n_inst, n_keys, n_types, int(min(l1_entries, n_keys)) if use_l1 else 0, l1_entries,
                       n_keys if use_l2 else 0, l2_bytes)
    _kernel(t, op, key, inst, lag, key_type, key_bytes, l2_ttl, float(l1_ttl), n_inst, use_l1, use_l2,
            invalidate_l2, mode, replicas, st.slot_of, st.rec, st.fexp, st.fw, st.lhd, st.ihd, st.used, st.cap,
            st.ftop, st.base, st.evictions, st.free, warm_keys, warm_exp, served, stale, node)
    return CacheOutcome(served, stale, node, int(st.evictions[:n_inst].sum()), int(st.evictions[n_inst]))
