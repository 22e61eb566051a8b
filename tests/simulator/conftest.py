"""Shared scenario builder for the simulator tests: small, long runs (duration >> every TTL)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from simulator import Scenario, load_scenario

BASE: dict[str, Any] = {
    "name": "agreement",
    "users": 2000,
    "requests_per_user_s": 1.0,
    "duration_s": 600,
    "warmup_s": 60,
    "seed": 3,
    "data_types": {
        "product": {"keys": 20000, "zipf": 0.9, "l2_ttl_s": 30, "value_bytes": 1000},
        "listing": {"keys": 10000, "zipf": 0.6, "l2_ttl_s": 20, "value_bytes": 1000},
    },
    "endpoints": [
        {"name": "GET /products/{id}", "weight": 0.7, "data_type": "product"},
        {"name": "GET /products", "weight": 0.3, "data_type": "listing"},
    ],
    "app": {"instances": 4},
    "l1": {"ttl_s": 5, "max_entries": 100000},
    "l2": {"memory_bytes": 1e12},
    "db": {"replicas": 1},
}


def make(**changes: Any) -> Scenario:
    return load_scenario(copy.deepcopy(BASE)).with_changes(**changes)


@pytest.fixture
def scenario() -> Scenario:
    return make()
