"""Confidence intervals for the trace engine's estimates, by batch means.

One trace is one sample path: its stale-read share and P99 carry sampling noise that a single
figure hides (a rare-event share can swing many-fold between seeds). The measured window is cut
into ``BATCHES`` equal time slices; each slice gives one estimate, and the slices' spread gives a
Student-t interval for the whole-window figure. Slices of a cache trace are nearly independent
once a slice is much longer than the TTLs that correlate them; where they are not, the interval
is optimistic, which is why too few events are not estimated at all (``MIN_STALE_EVENTS``).

Stale reads are also *clustered*: one write to a hot key makes every instance's L1 copy stale
and hundreds of reads see it. With writes spread over a million keys and Zipf reads, the whole
figure can come from a handful of such episodes: in the bundled 100k-user scenario about 140
writes produce every stale read and the effective number of independent episodes is ~5, so the
figure swings several-fold between seeds and no interval from one run covers that (the episode
that would double it is one the run did not draw). `effective_episodes` measures this, and
below ``MIN_STALE_EPISODES`` the trace reports the analytic expectation instead of its own.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .result import Interval

__all__ = ["BATCHES", "MIN_STALE_EPISODES", "MIN_STALE_EVENTS", "effective_episodes", "p99_batch_interval",
           "proportion_batch_interval"]

BATCHES = 20
MIN_STALE_EVENTS = 50
"""below this many stale reads in the window the trace gives no estimate of its own"""
MIN_STALE_EPISODES = 30.0
"""below this effective number of independent stale episodes, neither: see `effective_episodes`"""

_METHOD = f"batch means over {BATCHES} time slices, Student t"


def _t_interval(values: np.ndarray, centre: float) -> tuple[float, float]:
    half = float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return centre - half, centre + half


def proportion_batch_interval(flags: np.ndarray, batch: np.ndarray) -> Interval | None:
    """95 % interval of the share of True in ``flags``, from the per-slice shares."""
    counts = np.bincount(batch, minlength=BATCHES)
    if flags.size == 0 or (counts == 0).any():
        return None
    shares = np.bincount(batch, weights=flags.astype(np.float64), minlength=BATCHES) / counts
    low, high = _t_interval(shares, float(flags.mean()))
    return Interval(low=max(0.0, low), high=min(1.0, high), method=_METHOD)


def p99_batch_interval(latency_s: np.ndarray, batch: np.ndarray) -> Interval | None:
    """95 % interval (ms) of the whole-window P99, from the per-slice P99s; None when unbounded."""
    if latency_s.size == 0 or not np.isfinite(latency_s).all():
        return None
    order = np.argsort(batch, kind="stable")
    bounds = np.searchsorted(batch[order], np.arange(BATCHES + 1))
    sorted_lat = latency_s[order]
    per = []
    for b in range(BATCHES):
        part = sorted_lat[bounds[b]:bounds[b + 1]]
        if part.size < 100:  # a slice this small has no P99 of its own
            return None
        per.append(np.quantile(part, 0.99, method="inverted_cdf") * 1000.0)
    centre = float(np.quantile(latency_s, 0.99, method="inverted_cdf") * 1000.0)
    low, high = _t_interval(np.asarray(per), centre)
    return Interval(low=max(0.0, low), high=high, method=_METHOD)


def effective_episodes(stale_key: np.ndarray, stale_t: np.ndarray, write_key: np.ndarray,
                       write_t: np.ndarray) -> float:
    """Effective number of independent stale episodes, (sum c)^2 / sum c^2, where c counts the
    stale reads each write caused (a stale read belongs to the last write of its key before
    it): n when n writes contribute alike, ~1 when one write's episode makes the figure."""
    if stale_key.size == 0:
        return 0.0
    span = float(max(stale_t.max(initial=0.0), write_t.max(initial=0.0))) + 1.0
    order = np.lexsort((write_t, write_key))
    wk = write_key[order].astype(np.int64)
    composite_w = wk * span + write_t[order]
    sk = stale_key.astype(np.int64)
    idx = np.searchsorted(composite_w, sk * span + stale_t, side="right") - 1
    ok = (idx >= 0) & (wk[np.maximum(idx, 0)] == sk)
    # a stale read with no earlier write in the trace (a warm-start copy) counts as its own key's
    episode = np.where(ok, idx, wk.size + sk)
    counts = np.unique(episode, return_counts=True)[1].astype(np.float64)
    total = counts.sum()
    return float(total * total / (counts * counts).sum())
