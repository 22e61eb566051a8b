"""Installed checks and the built-in framework agree on item ids.

Scoring links findings to items both ways (an item lists its checks; a check lists its items),
so a check naming an item id the framework does not have would silently score nothing.
"""

from __future__ import annotations

from scaleready.framework import load_framework
from scaleready.plugins import discover


def test_every_installed_check_names_existing_framework_items():
    fw = load_framework()
    unknown = {
        check.id: sorted(set(check.items) - {item.id for item in fw.items})
        for check in discover().checks.values()
        if set(check.items) - {item.id for item in fw.items}
    }
    assert not unknown, f"checks naming items missing from {fw.path.name}: {unknown}"
