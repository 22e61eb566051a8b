"""What the load generator sends and when: arrival schedule, key popularity, endpoint mix.

The schedule is fixed before the run (open loop): constant spacing ``1/rate`` or Poisson
arrivals (exponential gaps with mean ``1/rate``). Keys follow a Zipf law over ``1..n_keys``
(``P(k) ∝ k^-s``), the usual model of catalogue popularity. The mix is a weight per endpoint;
``write_ratio`` rescales it so that writes get exactly that share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

READ_ENDPOINTS = ("get_product", "list_products", "search", "recommendations")
WRITE_ENDPOINTS = ("update_product", "checkout")
KNOWN_ENDPOINTS = READ_ENDPOINTS + WRITE_ENDPOINTS


def arrival_offsets(rate: float, duration_s: float, distribution: str, rng: np.random.Generator) -> np.ndarray:
    """Intended send times (seconds after start) of every request of the run."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError("rate and duration must be positive")
    if distribution == "constant":
        n = round(rate * duration_s)
        return np.arange(n, dtype=np.float64) / rate
    if distribution == "poisson":
        expected = rate * duration_s
        gaps = rng.exponential(1.0 / rate, size=int(expected + 10 * np.sqrt(expected) + 100))
        times = np.cumsum(gaps) - gaps[0]
        return times[times < duration_s]
    raise ValueError(f"unknown distribution {distribution!r} (constant or poisson)")


def zipf_keys(n_keys: int, exponent: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` keys in ``1..n_keys`` drawn with ``P(k) ∝ k^-exponent`` (exponent 0 = uniform)."""
    if n_keys < 1:
        raise ValueError("n_keys must be at least 1")
    weights = np.arange(1, n_keys + 1, dtype=np.float64) ** (-float(exponent))
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    picks = np.searchsorted(cdf, rng.random(size), side="right")
    return np.minimum(picks, n_keys - 1).astype(np.int64) + 1


def parse_mix(text: str | dict[str, float]) -> dict[str, float]:
    """``"get_product=90,list_products=10"`` (or a dict) → weights; ``GET /path=5`` is a custom read."""
    items = text.items() if isinstance(text, dict) else (
        part.rsplit("=", 1) if "=" in part else (part, "1") for part in text.split(",") if part.strip())
    mix: dict[str, float] = {}
    for name, weight in items:
        name = str(name).strip()
        w = float(weight)
        if w < 0:
            raise ValueError(f"negative weight for {name}")
        if name not in KNOWN_ENDPOINTS and not name.startswith("/"):
            raise ValueError(f"unknown endpoint {name!r}: use one of {', '.join(KNOWN_ENDPOINTS)} or a /path")
        if w > 0:
            mix[name] = mix.get(name, 0.0) + w
    if not mix:
        raise ValueError("the mix has no endpoint with a positive weight")
    return mix


def apply_write_ratio(mix: dict[str, float], write_ratio: float | None) -> dict[str, float]:
    """Rescale weights so writes make up ``write_ratio`` of the requests (None: keep the mix)."""
    if write_ratio is None:
        return dict(mix)
    if not 0 <= write_ratio <= 1:
        raise ValueError("write_ratio must be within 0..1")
    reads = {k: v for k, v in mix.items() if k not in WRITE_ENDPOINTS}
    writes = {k: v for k, v in mix.items() if k in WRITE_ENDPOINTS}
    if write_ratio > 0 and not writes:
        writes = {"update_product": 1.0}
    if write_ratio < 1 and not reads:
        reads = {"get_product": 1.0}
    out: dict[str, float] = {}
    for group, share in ((reads, 1 - write_ratio), (writes, write_ratio)):
        total = sum(group.values())
        for k, v in group.items():
            if share > 0:
                out[k] = share * v / total
    return out


@dataclass(frozen=True)
class Plan:
    """The whole run decided up front: per request its intended offset, endpoint index and key."""

    offsets: np.ndarray
    endpoints: list[str]
    choice: np.ndarray
    keys: np.ndarray
    aux: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets)


def make_plan(*, rate: float, duration_s: float, distribution: str, mix: dict[str, float], n_keys: int,
              zipf_exponent: float, seed: int) -> Plan:
    rng = np.random.default_rng(seed)
    offsets = arrival_offsets(rate, duration_s, distribution, rng)
    names = list(mix)
    probs = np.array([mix[n] for n in names], dtype=np.float64)
    probs /= probs.sum()
    choice = rng.choice(len(names), size=len(offsets), p=probs)
    keys = zipf_keys(n_keys, zipf_exponent, len(offsets), rng)
    aux = rng.integers(0, 1_000_000, size=len(offsets))
    return Plan(offsets, names, choice, keys, aux)
