"""A binary min-heap over two parallel arrays (key, index), compiled: the replays in `knee` and
`rounds` keep their pending completions in one, O(log n) per event however long the queue grows."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def heap_push(tag: np.ndarray, who: np.ndarray, size: int, t: float, i: int) -> None:  # pragma: no cover
    """Insert (t, i) into a heap of ``size`` entries (the caller counts the new size)."""
    j = size
    while j > 0:
        parent = (j - 1) // 2
        if tag[parent] <= t:
            break
        tag[j], who[j] = tag[parent], who[parent]
        j = parent
    tag[j], who[j] = t, i


@numba.njit(cache=True)
def heap_pop(tag: np.ndarray, who: np.ndarray, size: int) -> None:  # pragma: no cover - compiled
    """Remove the top of a heap of ``size`` entries (the caller has read it)."""
    t, i = tag[size - 1], who[size - 1]
    n = size - 1
    j = 0
    while True:
        child = 2 * j + 1
        if child >= n:
            break
        if child + 1 < n and tag[child + 1] < tag[child]:
            child += 1
        if tag[child] >= t:
            break
        tag[j], who[j] = tag[child], who[child]
        j = child
    if n > 0:
        tag[j], who[j] = t, i
