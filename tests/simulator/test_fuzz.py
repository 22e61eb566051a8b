"""Random scenarios through both engines: no crash, sane ranges, loosely the same answer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from simulator import load_scenario, simulate


def _random_scenario(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n_types = int(rng.integers(1, 4))
    types = {}
    for d in range(n_types):
        types[f"t{d}"] = {
            "keys": int(rng.choice([1, 10, 500, 5000, 40000])),
            "zipf": float(rng.choice([0.0, 0.6, 1.0, 1.4, 2.5])),
            "l2_ttl_s": float(rng.choice([2, 30, 300, 3600])),
            "writes_per_s": float(rng.choice([0, 0, 1, 20])),
            "write_skew": str(rng.choice(["same", "uniform"])),
            "value_bytes": int(rng.choice([100, 1000, 5000])),
        }
    return {
        "name": f"fuzz-{seed}", "users": float(rng.choice([50, 500, 3000])), "requests_per_user_s": 1.0,
        "duration_s": 120, "warmup_s": 20, "seed": seed,
        "data_types": types,
        "endpoints": [{"name": f"e{d}", "weight": float(rng.uniform(0.1, 1)), "data_type": f"t{d}"}
                      for d in range(n_types)],
        "app": {"instances": int(rng.choice([1, 2, 8])), "workers": int(rng.choice([0, 4, 64])),
                "service": {"mean_ms": 0.5, "dist": str(rng.choice(["exp", "const", "lognormal"]))}},
        "l1": {"enabled": bool(rng.random() < 0.8), "ttl_s": float(rng.choice([1, 5, 30])),
               "max_entries": int(rng.choice([10, 1000, 100000]))},
        "l2": {"enabled": bool(rng.random() < 0.8), "memory_bytes": float(rng.choice([1e4, 1e6, 1e12]))},
        "invalidation": {"enabled": bool(rng.random() < 0.7), "l1": str(rng.choice(["none", "local", "all"]))},
        "db": {"replicas": int(rng.choice([0, 1, 3])), "cores_per_node": 8, "read": {"mean_ms": 0.5},
               "write": {"mean_ms": 1.0}, "lag": {"mean_ms": float(rng.choice([0, 20, 500])),
                                                  "dist": str(rng.choice(["exp", "const", "lognormal"]))}},
    }


@pytest.mark.parametrize("seed", range(16))
def test_random_scenarios(seed):
    sc = load_scenario(_random_scenario(seed))
    a = simulate(sc, "analytic")
    t = simulate(sc, "trace")
    for res in (a, t):
        doc = json.loads(res.to_json())
        assert doc["scenario"] == sc.name
        for v in (res.hit_ratio.l1, res.hit_ratio.l2, res.hit_ratio.overall, res.stale_read_probability.total):
            assert 0.0 <= v <= 1.0 and math.isfinite(v)
        assert res.latency_ms.p50 <= res.latency_ms.p95 <= res.latency_ms.p99
        assert all(n.queries_per_s >= 0 for n in res.db_nodes)
    # short runs with a warm L2: both engines tell the same story
    assert a.hit_ratio.overall == pytest.approx(t.hit_ratio.overall, abs=0.05)
    assert a.db_queries_per_s == pytest.approx(t.db_queries_per_s, rel=0.25, abs=5.0)
