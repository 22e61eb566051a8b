"""Closed forms for one cache tier: TTL hit ratios with invalidation, and the Che approximation.

Model of one key in one tier: reads arrive as a Poisson process of rate λ, invalidating writes
as an independent Poisson process of rate μ. A miss fills the key, which then lives until the
first of: its TTL T runs out (not reset by hits), a write invalidates it, or — in a tier with a
size limit — an idle gap of Che's characteristic time t_C passes without a read (LRU eviction).
Each fill-to-next-miss cycle holds exactly one miss, and by Wald's identity λ·E[L] hits, so

    hit = λ·E[L] / (1 + λ·E[L]),      occupancy = E[L] / (E[L] + 1/λ) = hit.

With q(t) = P(no idle gap ≥ t_C within [0, t]) the mean life is E[L] = ∫_0^T e^{-μt} q(t) dt.
Without a size limit (t_C ≥ T) q = 1, giving the textbook E[L] = (1 - e^{-μT})/μ and, for μ = 0,
hit = λT / (1 + λT). Otherwise q solves the delay equation q'(t) = -λe^{-λ t_C} q(t - t_C) for
t > t_C (q = 1 before t_C, q(t_C) = 1 - e^{-λ t_C}); we integrate it on a grid over the first
few t_C and continue with its dominant exponential mode e^{-θt}, θ = λe^{-(λ-θ) t_C}.

For a size-limited tier, t_C is found as in Che et al.: the expected occupied capacity
Σ_i w_i·hit_i(t_C) equals the capacity.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["che_time", "hit_ratio", "mean_life"]

_GRID_PER_TC = 64
_GRID_SPAN_TC = 8


@numba.njit(cache=True)
def _theta(a: float, tc: float) -> float:
    """Smallest root of θ = a·e^{θ·tc} (exists since a·tc ≤ 1/e); Newton from the left."""
    th = a
    for _ in range(200):
        e = a * math.exp(th * tc)
        f = th - e
        fp = 1.0 - tc * e
        if fp <= 1e-12:
            break
        nxt = th - f / fp
        if abs(nxt - th) <= 1e-14 * max(1.0, abs(th)):
            th = nxt
            break
        th = nxt
    return th


@numba.njit(cache=True)
def _ttl_life(mu: float, ttl: float) -> float:
    if mu * ttl < 1e-9:
        return ttl * (1.0 - 0.5 * mu * ttl)
    return -math.expm1(-mu * ttl) / mu


@numba.njit(cache=True)
def _q_grid(lam: float, tc: float, gap: float, span: float) -> np.ndarray:
    """q(t) on the grid t = j·t_C/64, 0 <= t <= span (survival of the idle-gap eviction)."""
    m = _GRID_PER_TC
    dt = tc / m
    n = int(span / dt)
    a = lam * gap
    q = np.empty(n + 1)
    for j in range(min(m, n + 1)):
        q[j] = 1.0
    if n < m:
        return q
    q[m] = 1.0 - gap
    for j in range(m + 1, n + 1):
        # q' = -a·q(t - t_C); at the jump q(t_C) the left end of the step takes the value after
        # the jump, the right end (t - t_C -> t_C from below) the value 1 before it
        back1 = 1.0 if j - m == m else q[j - m]
        q[j] = q[j - 1] - a * dt * 0.5 * (q[j - 1 - m] + back1)
        if q[j] < 0.0:
            q[j] = 0.0
    return q


@numba.njit(cache=True)
def _tail_rate(lam: float, tc: float, gap: float) -> float:
    a = lam * gap
    return _theta(a, tc) if a * tc <= math.exp(-1.0) else 1.0 / tc


@numba.njit(cache=True)
def _life_one(lam: float, mu: float, ttl: float, tc: float, gap: float) -> float:
    """E[L]; ``gap`` = P(no read within t_C after a read), e^{-λ t_C} for Poisson reads."""
    if tc >= ttl:
        return _ttl_life(mu, ttl)
    m = _GRID_PER_TC
    dt = tc / m
    q = _q_grid(lam, tc, gap, min(ttl, _GRID_SPAN_TC * tc))
    n = q.size - 1
    life = _ttl_life(mu, tc)  # [0, t_C): q = 1
    if n < m:
        return life
    prev = q[m] * math.exp(-mu * tc)
    for j in range(m + 1, n + 1):
        cur = q[j] * math.exp(-mu * j * dt)
        life += 0.5 * dt * (prev + cur)
        prev = cur
    t_end = n * dt
    if t_end >= ttl - 1e-12 * ttl:
        return life
    # continue with the dominant mode q(t) ≈ q(t_end)·e^{-θ(t - t_end)}
    r = _tail_rate(lam, tc, gap) + mu
    rest = ttl - t_end
    if r * rest < 1e-12:
        return life + q[n] * math.exp(-mu * t_end) * rest
    return life + q[n] * math.exp(-mu * t_end) * (-math.expm1(-r * rest)) / r


_MAX_RENEWALS = 5000
_LGAMMA = np.array([math.lgamma(k) if k else 0.0 for k in range(_MAX_RENEWALS + 2)])
"""lgamma(k) for the renewal sums: a table lookup instead of a call in the innermost loop"""


@numba.njit(cache=True)
def _renewal_density(t: float, lam: float, log_lam: float, life: float, lgam: np.ndarray) -> float:
    """Density of the k-th gap sums k·L + Gamma(k, λ), summed over k >= 1, at t."""
    ex = life + 1.0 / lam
    if t > 30.0 * ex:
        return 1.0 / ex
    u = 0.0
    k = 1
    while k * life < t and k <= _MAX_RENEWALS:
        x = t - k * life
        term = math.exp(k * log_lam + (k - 1) * math.log(x) - lam * x - lgam[k])
        u += term
        # past the Poisson mode (k - 1 > λx) the terms fall faster than geometrically
        if k > lam * x + 1.0 and term <= 1e-12 * u:
            break
        k += 1
    return u


@numba.njit(cache=True)
def _own_hits_q(lam_i: np.ndarray, life: np.ndarray, mu: np.ndarray, ttl: float, tc: float, lam2: np.ndarray,
                gap: np.ndarray, lgam: np.ndarray) -> np.ndarray:
    """∫_0^T q(t)·e^{-μt}·u(t) dt per key: own-instance lookups that find the entry alive."""
    out = np.zeros(lam_i.size)
    dt = tc / _GRID_PER_TC
    for i in range(lam_i.size):
        if lam_i[i] <= 0:
            continue
        span = min(ttl, _GRID_SPAN_TC * tc)
        q = _q_grid(lam2[i], tc, gap[i], span)
        n = q.size - 1
        log_lam = math.log(lam_i[i])
        decay = math.exp(-mu[i] * dt)
        ex = life[i] + 1.0 / lam_i[i]
        total = 0.0
        prev = 0.0
        damp = 1.0
        for j in range(1, n + 1):
            t = j * dt
            damp *= decay
            u = 1.0 / ex if t > 30.0 * ex else _renewal_density(t, lam_i[i], log_lam, life[i], lgam)
            cur = q[j] * damp * u
            total += 0.5 * dt * (prev + cur)
            prev = cur
        t_end = n * dt
        if t_end < ttl:
            r = _tail_rate(lam2[i], tc, gap[i]) + mu[i]
            rest = ttl - t_end
            tail = rest if r * rest < 1e-12 else -math.expm1(-r * rest) / r
            total += q[n] * math.exp(-mu[i] * t_end) * tail / ex
        out[i] = total
    return out


def own_hits_alive(lam_inst: np.ndarray, life: np.ndarray, mu: np.ndarray, ttl: float, tc: float,
                   lam2: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Like `own_stream_hits`, counting only the own returns that find the entry not evicted.

    The entry survives to t with q(t) (idle-gap eviction at t_C with the superposed stream's
    gap probability); the instance's own returns come with the renewal density of L + Exp(λ).
    """
    lam_inst = np.asarray(lam_inst, dtype=np.float64)
    shape = lam_inst.shape
    cols = np.stack([lam_inst.ravel()] + [np.broadcast_to(np.asarray(x, dtype=np.float64), shape).ravel()
                                          for x in (life, mu, lam2, gap)], axis=1)
    # keys of a uniform type share one set of inputs: integrate each distinct set once
    uniq, back = np.unique(cols, axis=0, return_inverse=True)
    pick = _interpolation_nodes(uniq.shape[0])
    f = np.ascontiguousarray
    at_nodes = _own_hits_q(f(uniq[pick, 0]), f(uniq[pick, 1]), f(uniq[pick, 2]), float(ttl), float(tc),
                           f(uniq[pick, 3]), f(uniq[pick, 4]), _LGAMMA)
    values = at_nodes if pick.size == uniq.shape[0] else np.interp(np.arange(uniq.shape[0]), pick, at_nodes)
    return values[back.ravel()].reshape(shape)


_OWN_HITS_NODES = 300


def _interpolation_nodes(n: int) -> np.ndarray:
    """Rows at which `own_hits_alive` integrates; the rest are interpolated between neighbours.

    The rows are distinct keys sorted by their read rate, every input a smooth function of it,
    so the integral is too: ~300 nodes keep it within 1e-4 of the full evaluation (checked in
    tests/simulator/test_closedform.py) at a fifth of the cost, which is what makes sweeps fast.
    """
    if n <= _OWN_HITS_NODES:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, _OWN_HITS_NODES)).astype(np.int64))


@numba.njit(cache=True)
def _life_many(lam: np.ndarray, mu: np.ndarray, ttl: np.ndarray, tc: float, gap: np.ndarray) -> np.ndarray:
    out = np.empty(lam.size)
    for i in range(lam.size):
        g = gap[i] if gap[i] >= 0 else math.exp(-lam[i] * tc)
        out[i] = _life_one(lam[i], mu[i], ttl[i], tc, g)
    return out


def mean_life(lam: np.ndarray, mu: np.ndarray, ttl: np.ndarray | float, tc: float = math.inf,
              gap: np.ndarray | None = None) -> np.ndarray:
    """E[L] per key: mean time a filled entry stays (TTL, invalidation rate μ, Che time t_C).

    ``gap``: per key, P(no read within t_C after a read); default Poisson e^{-λ t_C}.
    """
    lam = np.ascontiguousarray(lam, dtype=np.float64)
    mu = np.ascontiguousarray(np.broadcast_to(mu, lam.shape), dtype=np.float64)
    ttl_arr = np.ascontiguousarray(np.broadcast_to(ttl, lam.shape), dtype=np.float64)
    g = np.full(lam.shape, -1.0) if gap is None else np.ascontiguousarray(np.broadcast_to(gap, lam.shape),
                                                                             dtype=np.float64)
    return _life_many(lam, mu, ttl_arr, float(min(tc, 1e300)), g)


def hit_ratio(lam: np.ndarray, mu: np.ndarray, ttl: np.ndarray | float, tc: float = math.inf,
              gap: np.ndarray | None = None) -> np.ndarray:
    """Per-key hit ratio (= occupancy probability) of a TTL tier, optionally size limited."""
    x = np.asarray(lam, dtype=np.float64) * mean_life(lam, mu, ttl, tc, gap)
    return x / (1.0 + x)


def che_time(occupancy, capacity: float, hi: float) -> float:
    """Characteristic time t_C with ``occupancy(t_C) == capacity``; inf when everything fits.

    ``occupancy`` maps t_C to the expected used capacity and must be non-decreasing; ``hi`` is a
    time beyond which t_C no longer matters (the longest TTL).
    """
    if occupancy(math.inf) <= capacity:
        return math.inf
    lo_t, hi_t = 1e-9, hi
    if occupancy(hi_t) <= capacity:
        return math.inf
    for _ in range(80):  # bisection in log-space
        mid = math.sqrt(lo_t * hi_t)
        if occupancy(mid) > capacity:
            hi_t = mid
        else:
            lo_t = mid
        if hi_t / lo_t < 1 + 1e-7:
            break
    return math.sqrt(lo_t * hi_t)


def own_stream_hits(lam: np.ndarray, life: np.ndarray, mu: np.ndarray, ttl: np.ndarray | float) -> np.ndarray:
    """E[∫_0^T e^{-μt} dN(t)] for one instance's L1-miss stream, counted from one of its misses.

    An instance misses, keeps the entry for its life L (taken at its mean), then misses again at
    the next read (Exp(λ) later): a renewal process with gaps X = L + Exp(λ), so the n-th next
    miss is at nL + Gamma(n, λ), and E[e^{-μS_n}; S_n ≤ T] has a closed form. Far beyond E[X]
    the Laplace transform of the renewal density is used instead.
    """
    from scipy.special import gammainc

    lam = np.asarray(lam, dtype=np.float64)
    life = np.broadcast_to(np.asarray(life, dtype=np.float64), lam.shape)
    mu = np.broadcast_to(np.asarray(mu, dtype=np.float64), lam.shape)
    ttl = np.broadcast_to(np.asarray(ttl, dtype=np.float64), lam.shape)
    out = np.zeros(lam.shape)
    pos = lam > 0
    ex = np.where(pos, life + 1.0 / np.where(pos, lam, 1.0), np.inf)
    cv2 = np.where(pos, (1.0 / np.where(pos, lam, 1.0)) ** 2 / ex**2, 1.0)
    far = pos & (ttl / ex > 40)
    if far.any():
        # Laplace transform of the renewal density, U(μ) = F*(μ)/(1 - F*(μ)) with
        # F*(μ) = e^{-μL}·λ/(λ+μ), minus the part beyond T (where u ≈ 1/E[X]); for μ -> 0 this
        # tends to the renewal function's asymptote T/E[X] + (cv² - 1)/2, used there directly
        m, t, e, lf, lm = mu[far], ttl[far], ex[far], life[far], lam[far]
        small = m * e < 1e-7
        m_safe = np.where(small, 1.0, m)
        f = np.exp(-m_safe * lf) * lm / (lm + m_safe)
        laplace = f / (1 - f) - np.exp(-m_safe * t) / (m_safe * e)
        out[far] = np.where(small, t / e + (cv2[far] - 1) / 2, laplace)
    near = pos & ~far
    if near.any():
        lam_n, life_n, mu_n, t_n = lam[near], life[near], mu[near], ttl[near]
        n = np.arange(1, 201, dtype=np.float64)[:, None]
        rem = t_n[None, :] - n * life_n[None, :]
        rate = lam_n + mu_n
        terms = np.where(rem > 0, np.exp(-mu_n * n * life_n) * (lam_n / rate) ** n
                         * gammainc(n, rate * np.maximum(rem, 0.0)), 0.0)
        out[near] = terms.sum(axis=0)
    return out


def superposed_gap(lam_inst: np.ndarray, life: np.ndarray, instances: int, tc: float) -> np.ndarray:
    """P(no L2 lookup within t_C after one) when lookups are I instances' L1-miss streams.

    Each stream has gaps X = L + Exp(λ) (L at its mean). After a lookup by instance j, j itself
    cannot return before L; each other instance, seen at a random time, stays silent for t_C
    with probability ∫_{t_C}^∞ P(X > x) dx / E[X].
    """
    lam_inst = np.asarray(lam_inst, dtype=np.float64)
    life = np.broadcast_to(np.asarray(life, dtype=np.float64), lam_inst.shape)
    safe = np.where(lam_inst > 0, lam_inst, 1.0)
    over = np.maximum(tc - life, 0.0)
    own = np.exp(-safe * over)
    other = (np.maximum(life - tc, 0.0) + np.exp(-safe * over) / safe) / (life + 1.0 / safe)
    gap = own * other ** (instances - 1)
    return np.where(lam_inst > 0, gap, 1.0)


def superposed_occupancy(lam_inst: np.ndarray, life: np.ndarray, instances: int, tc: float) -> np.ndarray:
    """P(some instance looked the key up within the last t_C), at a random time (LRU occupancy)."""
    lam_inst = np.asarray(lam_inst, dtype=np.float64)
    life = np.broadcast_to(np.asarray(life, dtype=np.float64), lam_inst.shape)
    safe = np.where(lam_inst > 0, lam_inst, 1.0)
    over = np.maximum(tc - life, 0.0)
    silent = (np.maximum(life - tc, 0.0) + np.exp(-safe * over) / safe) / (life + 1.0 / safe)
    return np.where(lam_inst > 0, 1.0 - silent**instances, 0.0)
