"""Vectorised workload sampling: Poisson arrivals, the endpoint mix and Zipf keys, as numpy arrays.

The whole trace is drawn up front (no per-request Python), so the compiled cache loop only walks
arrays. Zipf keys use the inverse CDF of p_i ∝ i^-s on the finite key space 1..N, which is exact
for every s ≥ 0 (numpy's own zipf needs s > 1 and an infinite support). Keys of all data types
share one global id space: type d owns ids ``offsets[d] .. offsets[d] + keys_d - 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .model import Scenario

__all__ = ["KeySpace", "Trace", "build_trace", "key_space", "zipf_pmf", "zipf_sample"]

READ, WRITE = 0, 1


def zipf_pmf(n: int, s: float) -> np.ndarray:
    """Popularity of ranks 1..n under Zipf(s) on a finite support (s = 0 is uniform)."""
    ranks = np.arange(1, n + 1, dtype=np.float64)
    weights = ranks ** (-s) if s > 0 else np.ones(n)
    return weights / weights.sum()


def _cdf(pmf: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(pmf)
    cdf[-1] = 1.0
    return cdf


@numba.njit(cache=True)
def _inverse_cdf(cdf: np.ndarray, u: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """Smallest i with cdf[i] > u, for each u; the guide table gives a start near the answer."""
    m = guide.size - 1
    n = cdf.size
    out = np.empty(u.size, dtype=np.int32)
    for j in range(u.size):
        x = u[j]
        i = guide[int(x * m)]
        while i < n - 1 and cdf[i] <= x:
            i += 1
        out[j] = i
    return out


def zipf_sample(rng: np.random.Generator, n_keys: int, s: float, size: int, cdf: np.ndarray | None = None
                ) -> np.ndarray:
    """`size` ranks (0-based) drawn by inverse CDF; pass a precomputed ``cdf`` to reuse it.

    The inversion uses a guide table (Chen & Asau): bucket j of M points to the first rank whose
    CDF exceeds j/M, so each draw scans O(1) entries instead of a binary search over N.
    """
    if cdf is None:
        cdf = _cdf(zipf_pmf(n_keys, s))
    u = rng.random(size)
    m = int(min(max(n_keys, 16), 1 << 22))
    guide = np.searchsorted(cdf, np.arange(m + 1) / m, side="right").astype(np.int64)
    np.minimum(guide, n_keys - 1, out=guide)
    return _inverse_cdf(cdf, u, guide)


@dataclass(frozen=True)
class KeySpace:
    """Where each data type lives in the global key id space, and per-key attributes."""

    names: list[str]
    offsets: np.ndarray      # int64, len = types + 1
    key_type: np.ndarray     # int8 per global key
    key_bytes: np.ndarray    # float64 per global key (L2 memory weight)

    @property
    def n_keys(self) -> int:
        return int(self.offsets[-1])


def key_space(scenario: Scenario) -> KeySpace:
    names = scenario.type_names
    sizes = np.array([scenario.data_types[n].keys for n in names], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    key_type = np.repeat(np.arange(len(names), dtype=np.int8), sizes)
    value_bytes = np.array([scenario.data_types[n].value_bytes for n in names], dtype=np.float64)
    return KeySpace(names, offsets, key_type, value_bytes[key_type])


@dataclass(frozen=True)
class Trace:
    """Time-ordered events: reads and writes on global keys, each routed to an app instance."""

    t: np.ndarray      # float64 seconds, non-decreasing
    op: np.ndarray     # int8: READ or WRITE
    key: np.ndarray    # int32 global key id
    inst: np.ndarray   # int32 app instance (for a write: the writer)
    space: KeySpace

    def __len__(self) -> int:
        return int(self.t.size)


def _poisson_times(rng: np.random.Generator, rate: float, duration: float) -> np.ndarray:
    """Arrival times of a Poisson process on [0, duration): cumulative exponential gaps."""
    if rate <= 0:
        return np.empty(0)
    expected = rate * duration
    chunk = int(expected + 6 * np.sqrt(expected) + 16)
    times = np.cumsum(rng.exponential(1.0 / rate, chunk))
    while times[-1] < duration:  # rare: draw more
        more = np.cumsum(rng.exponential(1.0 / rate, chunk)) + times[-1]
        times = np.concatenate([times, more])
    return times[: np.searchsorted(times, duration)]


def build_trace(scenario: Scenario, max_events: int = 200_000_000) -> Trace:
    """Sample the full event trace for a scenario (deterministic for a given seed)."""
    rng = np.random.default_rng(scenario.seed)
    space = key_space(scenario)
    names = space.names
    expected = scenario.read_rate * scenario.duration_s
    if expected > max_events:
        raise ValueError(f"{expected:.3g} requests exceed the trace limit of {max_events:.3g}; "
                         "shorten duration_s or use the analytic engine")
    n_inst = scenario.app.instances

    # reads: arrival times, data type from the endpoint mix, Zipf key within the type
    t_read = _poisson_times(rng, scenario.read_rate, scenario.duration_s)
    shares = scenario.type_read_shares()
    share_cdf = np.cumsum([shares[n] for n in names])
    share_cdf[-1] = 1.0
    r_type = np.searchsorted(share_cdf, rng.random(t_read.size), side="right").astype(np.int8)
    r_key = np.empty(t_read.size, dtype=np.int32)
    cdfs = {}
    for d, name in enumerate(names):
        dt = scenario.data_types[name]
        idx = np.flatnonzero(r_type == d)
        cdfs[d] = _cdf(zipf_pmf(dt.keys, dt.zipf))
        r_key[idx] = zipf_sample(rng, dt.keys, dt.zipf, idx.size, cdfs[d]) + np.int32(space.offsets[d])
    r_inst = rng.integers(0, n_inst, t_read.size, dtype=np.int32)

    # writes: an independent Poisson stream per type
    w_t, w_key = [], []
    for d, name in enumerate(names):
        dt = scenario.data_types[name]
        times = _poisson_times(rng, dt.writes_per_s, scenario.duration_s)
        if dt.write_skew == "same":
            keys = zipf_sample(rng, dt.keys, dt.zipf, times.size, cdfs[d])
        else:
            keys = rng.integers(0, dt.keys, times.size, dtype=np.int32)
        w_t.append(times)
        w_key.append(keys + np.int32(space.offsets[d]))
    wt = np.concatenate(w_t) if w_t else np.empty(0)
    wk = np.concatenate(w_key).astype(np.int32) if w_key else np.empty(0, np.int32)
    order = np.argsort(wt, kind="stable")
    wt, wk = wt[order], wk[order]
    w_inst = rng.integers(0, n_inst, wt.size, dtype=np.int32)

    # merge the (few) writes into the (many) reads in O(n)
    pos = np.searchsorted(t_read, wt, side="left")
    t = np.insert(t_read, pos, wt)
    op = np.insert(np.zeros(t_read.size, np.int8), pos, np.ones(wt.size, np.int8))
    key = np.insert(r_key, pos, wk)
    inst = np.insert(r_inst, pos, w_inst)
    return Trace(t=t, op=op, key=key, inst=inst, space=space)
