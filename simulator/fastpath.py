"""The fast loop for cache tiers whose size limits never bind, and the checks that prove it.

With no eviction possible, a cached copy is just an expiry time per (instance, key) and per key,
so the loop touches one word per hit instead of walking LRU lists. `l1_never_full` and
`l2_never_full` decide, from the trace itself, that no size limit can bind: an entry lives at
most one TTL, so a limit above the reads (or bytes) of any TTL window is never reached.
"""

from __future__ import annotations

import numba
import numpy as np

SERVED_L1, SERVED_L2, SERVED_DB, SERVED_WRITE = 0, 1, 2, 3
"""where an event was answered (the ``served`` array of `cachesim.run_cache`)"""

__all__ = ["SERVED_DB", "SERVED_L1", "SERVED_L2", "SERVED_WRITE", "kernel_ttl", "l1_never_full", "l2_never_full"]


@numba.njit(cache=True)
def kernel_ttl(t, op, key, inst, lag, key_type, l2_ttl, l1_ttl, n_inst, use_l1, use_l2, inv_l2,
                inv_l1_mode, replicas, warm_keys, warm_exp, served, stale, node):
    """The same model as `_kernel` for tiers without size limits: plain expiry arrays, no lists.

    A cached copy is one float: its expiry time, negated when the copy is stale (0 = absent;
    event times are positive). A write negates every copy of its key (writes are few), so a hit
    reads one word. A key's copies in all instances are neighbours in memory.
    """
    n = t.size
    n_keys = key_type.size
    kv = np.empty((n_keys, 2))  # current version, time of the last write
    kv[:, 0] = 0.0
    kv[:, 1] = -1e300
    l1 = np.zeros(n_inst * n_keys if use_l1 else 1)
    l2 = np.zeros(n_keys)
    if use_l2:
        for j in range(warm_keys.size):
            l2[warm_keys[j]] = warm_exp[j]
    rr = 0
    for i in range(n):
        k = key[i]
        now = t[i]
        if op[i] == 1:
            kv[k, 0] += 1.0
            kv[k, 1] = now
            served[i] = SERVED_WRITE
            node[i] = 0
            l2[k] = 0.0 if inv_l2 else -abs(l2[k])
            if use_l1:
                base = k * n_inst
                for p in range(n_inst):
                    l1[base + p] = -abs(l1[base + p])
                if inv_l1_mode == 1:
                    l1[base + inst[i]] = 0.0
                elif inv_l1_mode == 2:
                    for p in range(n_inst):
                        l1[base + p] = 0.0
            continue
        j = k * n_inst + inst[i]
        if use_l1:
            e = l1[j]
            if abs(e) > now:
                served[i] = SERVED_L1
                stale[i] = e < 0.0
                continue
        if use_l2:
            e = l2[k]
            if abs(e) > now:
                served[i] = SERVED_L2
                stale[i] = e < 0.0
                if use_l1:
                    l1[j] = now + l1_ttl if e > 0.0 else -(now + l1_ttl)
                continue
        current = kv[k, 0]
        fresh = True
        if replicas > 0:
            node[i] = 1 + rr
            rr = (rr + 1) % replicas
            if current > 0 and now - lag[i] < kv[k, 1]:
                fresh = False
        else:
            node[i] = 0
        served[i] = SERVED_DB
        stale[i] = not fresh
        if use_l2:
            e2 = now + l2_ttl[key_type[k]]
            l2[k] = e2 if fresh else -e2
        if use_l1:
            e1 = now + l1_ttl
            l1[j] = e1 if fresh else -e1


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


def l1_never_full(t, op, inst, n_inst: int, ttl: float, entries: int, n_keys: int) -> bool:
    """An L1 entry lives at most one TTL, so a limit above the reads per window never binds."""
    if entries >= n_keys:
        return True
    if n_inst * (entries + 1) > 50_000_000:
        return False
    return bool(_max_window_reads(t, op, inst, n_inst, float(ttl), int(entries)))


def l2_never_full(t, op, key, key_type, key_bytes, l2_ttl, capacity: float) -> bool:
    """Upper bound of L2 bytes: per type, min(keys, reads in any TTL window) x value size."""
    n_types = l2_ttl.size
    reads = op == 0
    rtype = key_type[key[reads]]
    keys_per_type = np.bincount(key_type, minlength=n_types)
    bytes_per_type = np.bincount(key_type, weights=key_bytes, minlength=n_types) / np.maximum(keys_per_type, 1)
    reads_per_type = np.bincount(rtype, minlength=n_types)
    if float((np.minimum(keys_per_type, reads_per_type) * bytes_per_type).sum()) <= capacity:
        return True
    span = float(t[-1] - t[0]) if t.size else 0.0
    if bool(np.all(l2_ttl >= span)):
        return False
    rt = t[reads]
    bound = 0.0
    for d in range(n_types):
        td = rt[rtype == d]
        window = int((np.searchsorted(td, td + l2_ttl[d], side="left") - np.arange(td.size)).max()) \
            if td.size else 0
        bound += min(int(keys_per_type[d]), window) * float(bytes_per_type[d])
    return bound <= capacity
