"""The structure check (used when promtool is absent) against promtool itself as the oracle.

Each case is a small rule file written for this test; promtool (installed by scripts/test)
gives the verdict at test time, so the label is never our own opinion. The structure check
judges structure only: on cases whose only problem is PromQL it says "structure ok", which
the rule-files check reports as unvalidated (error), never as a pass. Agreement is measured
on every other case and must be at least 95 %; the PromQL-only cases are counted apart.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from checks.prometheus.rulefiles import parse_rule_file

pytestmark = [pytest.mark.prometheus]

ALERT = "  - alert: A\n    expr: up == 0\n"
HEAD = "groups:\n- name: g\n  rules:\n"

# name -> (file text, True when the only possible problem is in the PromQL)
CASES: dict[str, tuple[str, bool]] = {
    "empty file": ("", False),
    "empty mapping": ("{}\n", False),
    "groups null": ("groups:\n", False),
    "good alert": (HEAD + ALERT + "    for: 5m\n    labels: {severity: page}\n    annotations: {summary: s}\n",
                   False),
    "good record": (HEAD + "  - record: job:up:sum\n    expr: sum by (job) (up)\n", False),
    "for zero": (HEAD + ALERT + "    for: 0m\n", False),
    "for compound": (HEAD + ALERT + "    for: 1h30m\n", False),
    "for bad unit": (HEAD + ALERT + "    for: 5x\n", False),
    "for negative": (HEAD + ALERT + "    for: -5m\n", False),
    "keep_firing_for": (HEAD + ALERT + "    keep_firing_for: 2m\n", False),
    "group interval": ("groups:\n- name: g\n  interval: 30s\n  rules:\n" + ALERT, False),
    "group bad interval": ("groups:\n- name: g\n  interval: soon\n  rules:\n" + ALERT, False),
    "group limit": ("groups:\n- name: g\n  limit: 10\n  rules:\n" + ALERT, False),
    "unknown rule field": (HEAD + ALERT + "    severity: page\n", False),
    "unknown group field": ("groups:\n- name: g\n  owner: me\n  rules:\n" + ALERT, False),
    "unknown top field": ("group:\n- name: g\n  rules: []\n", False),
    "alert and record": (HEAD + "  - alert: A\n    record: a\n    expr: up\n", False),
    "neither alert nor record": (HEAD + "  - expr: up\n", False),
    "no expr": (HEAD + "  - alert: A\n", False),
    "empty expr": (HEAD + "  - alert: A\n    expr: ''\n", False),
    "record with for": (HEAD + "  - record: a\n    expr: up\n    for: 1m\n", False),
    "record with annotations": (HEAD + "  - record: a\n    expr: up\n    annotations: {summary: s}\n", False),
    "record bad name": (HEAD + "  - record: 'a-b'\n    expr: up\n", False),
    "record colon name": (HEAD + "  - record: 'a:b:c'\n    expr: up\n", False),
    "alert name with spaces": (HEAD + "  - alert: 'High error rate'\n    expr: up\n", False),
    "bad label name": (HEAD + ALERT + "    labels: {'team-name': x}\n", False),
    "label __name__": (HEAD + ALERT + "    labels: {__name__: x}\n", False),
    "bad annotation name": (HEAD + ALERT + "    annotations: {'run book': x}\n", False),
    "templated annotation": (HEAD + ALERT + "    annotations: {summary: '{{ $labels.instance }} down'}\n",
                             False),
    "repeated group": ("groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n", False),
    "unnamed group": ("groups:\n- rules:\n" + ALERT, False),
    "two groups": ("groups:\n- name: a\n  rules: []\n- name: b\n  rules:\n" + ALERT, False),
    "promql unclosed paren": (HEAD + "  - alert: A\n    expr: sum(rate(x[5m])\n", True),
    "promql bad range": (HEAD + "  - alert: A\n    expr: rate(x[5q])\n", True),
    "promql unknown function": (HEAD + "  - alert: A\n    expr: frobnicate(up)\n", True),
    "promql dangling operator": (HEAD + "  - alert: A\n    expr: up >\n", True),
}


def _promtool_ok(path: Path) -> bool:
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True,
                          timeout=30, check=False)
    return done.returncode == 0


def _structure_ok(text: str) -> bool:
    parsed = parse_rule_file(text)
    return parsed["parse_error"] is None and not parsed["structure"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (scripts/test installs it)")
def test_structure_check_agrees_with_promtool(tmp_path: Path):
    judged, agreed, disagreements, promql_only = 0, 0, [], []
    for index, (name, (text, promql)) in enumerate(CASES.items()):
        path = tmp_path / f"case{index}.yml"
        path.write_text(text)
        oracle, ours = _promtool_ok(path), _structure_ok(text)
        if promql:
            promql_only.append((name, oracle, ours))
            continue
        judged += 1
        if oracle == ours:
            agreed += 1
        else:
            disagreements.append((name, f"promtool {'ok' if oracle else 'rejects'}",
                                  f"structure {'ok' if ours else 'rejects'}"))
    agreement = agreed / judged
    print(f"structure check vs promtool: {agreed}/{judged} = {agreement:.1%}; disagreements: {disagreements}")
    assert agreement >= 0.95, disagreements
    # PromQL-only mistakes: promtool rejects them and the structure check does not claim otherwise
    # (it reports "structure ok", which the check turns into error "PromQL not validated").
    assert all(not oracle and ours for _, oracle, ours in promql_only), promql_only
