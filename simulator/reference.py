"""A plain-Python implementation of the cache model, for cross-checking and benchmarking.

It follows `cachesim` step by step with dicts and OrderedDicts instead of slot arrays, so tests
can demand event-for-event equality with the compiled loop, and bench/bench_simulator.py can
measure how much the compilation buys. It is deliberately simple and slow; do not use it for
real runs.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

__all__ = ["run_reference", "run_reference_ttl"]


class _Tier:
    """One partition: LRU order, per-type insertion (= expiry) order, weights and a capacity."""

    def __init__(self, capacity: float, slots: int) -> None:
        self.lru: OrderedDict[int, tuple[float, int, float]] = OrderedDict()  # key -> (expires, ver, w)
        self.by_type: dict[int, OrderedDict[int, None]] = {}
        self.used = 0.0
        self.capacity = capacity
        self.slots = slots
        self.evictions = 0

    def remove(self, key: int, ktype: int) -> None:
        _exp, _ver, w = self.lru.pop(key)
        del self.by_type[ktype][key]
        self.used -= w

    def expire(self, now: float, key_type: np.ndarray) -> None:
        for d, order in self.by_type.items():
            while order:
                key = next(iter(order))
                if self.lru[key][0] > now:
                    break
                self.remove(key, d)

    def lookup(self, key: int, now: float, ktype: int) -> int:
        entry = self.lru.get(key)
        if entry is None:
            return -1
        if entry[0] <= now:
            self.remove(key, ktype)
            return -1
        self.lru.move_to_end(key)
        return entry[1]

    def insert(self, key: int, expires: float, ver: int, w: float, ktype: int, key_type: np.ndarray) -> None:
        if w > self.capacity:
            return
        if key in self.lru:
            self.remove(key, ktype)
        while self.used + w > self.capacity or len(self.lru) >= self.slots:
            if not self.lru:
                return
            victim = next(iter(self.lru))
            self.remove(victim, int(key_type[victim]))
            self.evictions += 1
        self.lru[key] = (expires, ver, w)
        self.by_type.setdefault(ktype, OrderedDict())[key] = None
        self.used += w

    def invalidate(self, key: int, ktype: int) -> None:
        if key in self.lru:
            self.remove(key, ktype)


def run_reference(t, op, key, inst, lag, key_type, key_bytes, l2_ttl, *, l1_ttl: float, l1_entries: int,
                  l2_bytes: float, n_inst: int, use_l1: bool = True, use_l2: bool = True,
                  invalidate_l2: bool = True, invalidate_l1: str = "local", replicas: int = 0):
    """Same arguments and (served, stale, node) results as `cachesim.run_cache`."""
    n_keys = len(key_type)
    l1 = [_Tier(l1_entries, min(l1_entries, n_keys)) for _ in range(n_inst)]
    l2 = _Tier(l2_bytes, n_keys)
    versions = [0] * n_keys
    last_write = [-1e300] * n_keys
    served, stale, node = [], [], []
    rr = 0
    for i in range(len(t)):
        k, now, p = int(key[i]), float(t[i]), int(inst[i])
        d = int(key_type[k])
        if op[i] == 1:
            versions[k] += 1
            last_write[k] = now
            served.append(3)
            stale.append(False)
            node.append(0)
            if invalidate_l2 and use_l2:
                l2.invalidate(k, d)
            if use_l1 and invalidate_l1 == "local":
                l1[p].invalidate(k, d)
            elif use_l1 and invalidate_l1 == "all":
                for tier in l1:
                    tier.invalidate(k, d)
            continue
        current = versions[k]
        if use_l1:
            l1[p].expire(now, key_type)
            v = l1[p].lookup(k, now, d)
            if v >= 0:
                served.append(0)
                stale.append(v < current)
                node.append(-1)
                continue
        if use_l2:
            l2.expire(now, key_type)
            v = l2.lookup(k, now, d)
            if v >= 0:
                served.append(1)
                stale.append(v < current)
                node.append(-1)
                if use_l1:
                    l1[p].insert(k, now + l1_ttl, v, 1.0, d, key_type)
                continue
        if replicas > 0:
            node.append(1 + rr)
            rr = (rr + 1) % replicas
            v = current - 1 if current > 0 and now - float(lag[i]) < last_write[k] else current
        else:
            node.append(0)
            v = current
        served.append(2)
        stale.append(v < current)
        if use_l2:
            l2.insert(k, now + float(l2_ttl[d]), v, float(key_bytes[k]), d, key_type)
        if use_l1:
            l1[p].insert(k, now + l1_ttl, v, 1.0, d, key_type)
    return np.array(served, np.int8), np.array(stale, bool), np.array(node, np.int16)


def run_reference_ttl(t, op, key, inst, key_type, l2_ttl, *, l1_ttl: float, invalidate: bool = True
                      ) -> tuple[int, int, int]:
    """The unbounded L1 + L2 TTL model with plain dicts; returns (L1 hits, L2 hits, DB reads).

    This is the benchmark's plain-Python baseline: the same decisions as `cachesim`'s fast path
    (per-instance L1 expiry, shared L2 expiry and versions, invalidation on write).
    """
    l1: dict[tuple[int, int], tuple[float, int]] = {}
    l2: dict[int, tuple[float, int]] = {}
    versions: dict[int, int] = {}
    ttl_of = [float(x) for x in l2_ttl]
    types = key_type.tolist()
    h1 = h2 = db = 0
    for now, o, k, p in zip(t.tolist(), op.tolist(), key.tolist(), inst.tolist(), strict=True):
        if o == 1:
            versions[k] = versions.get(k, 0) + 1
            if invalidate:
                l2.pop(k, None)
                l1.pop((p, k), None)
            continue
        e = l1.get((p, k))
        if e is not None and e[0] > now:
            h1 += 1
            continue
        e = l2.get(k)
        if e is not None and e[0] > now:
            h2 += 1
            l1[(p, k)] = (now + l1_ttl, e[1])
            continue
        db += 1
        v = versions.get(k, 0)
        l2[k] = (now + ttl_of[types[k]], v)
        l1[(p, k)] = (now + l1_ttl, v)
    return h1, h2, db
