"""Manifest mode loading: multi-document YAML, broken documents, Lists, Helm and Kustomize output, CRDs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checks.kubernetes import manifests as _manifests
from checks.kubernetes.collector import KubernetesOptions, collect_kubernetes
from scaleready.api import CollectError, Status, Target
from tests.kubernetes.helpers import run, snapshot_of, write

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
spec:
  replicas: 2
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: app
          image: example/{name}:1
"""


def test_broken_document_mid_file_is_an_error_with_line_and_the_rest_loads(tmp_path: Path) -> None:
    text = (DEPLOY.format(name="first") + "---\n"
            + "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  a: [1, 2\n  b: c\n"
            + "---\n" + DEPLOY.format(name="third"))
    path = write(tmp_path, "app.yaml", text)
    snap, target = snapshot_of({"manifests": [str(path)]})
    names = [o["metadata"]["name"] for o in snap.data["objects"]]
    assert names == ["first", "third"]
    [error] = snap.data["load_errors"]
    assert error["file"] == str(path)
    # The broken flow sequence opens on line 21 and the parser gives up on line 22.
    assert error["line"] == 22
    assert error["message"] == ("YAML error: while parsing a flow sequence (from line 21), "
                                "did not find expected ',' or ']'")
    [finding] = run("kubernetes.load", snap, target)
    assert finding.status is Status.ERROR
    assert finding.location == f"{path}:{error['line']}"
    # The other checks still run over what loaded.
    assert {o.subject for o in run("kubernetes.replicas.min", snap, target)} == {
        "shop/Deployment/first", "shop/Deployment/third"}


def test_line_numbers_point_at_each_document(tmp_path: Path) -> None:
    text = "# leading comment\n\n" + DEPLOY.format(name="a") + "---\n# note\n" + DEPLOY.format(name="b")
    path = write(tmp_path, "two.yml", text)
    loaded = _manifests.load([str(path)])
    lines = {o["metadata"]["name"]: o["line"] for o in loaded.objects}
    assert lines == {"a": 3, "b": 3 + DEPLOY.count("\n") + 2}
    assert text.splitlines()[lines["b"] - 1] == "apiVersion: apps/v1"


def test_lists_load_every_item_with_its_line(tmp_path: Path) -> None:
    doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "shop"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}]}
    typed = ("apiVersion: apps/v1\nkind: DeploymentList\nitems:\n"
             "- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d1}\n"
             "- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d2}\n")
    write(tmp_path, "list.json", json.dumps(doc, indent=2))
    write(tmp_path, "typed.yaml", typed)
    loaded = _manifests.load([str(tmp_path)])
    found = {(o["kind"], o["metadata"]["name"]): o["line"] for o in loaded.objects}
    assert set(found) == {("Service", "s"), ("ConfigMap", "c"), ("Deployment", "d1"), ("Deployment", "d2")}
    assert found[("Deployment", "d1")] == 4 and found[("Deployment", "d2")] == 7
    assert not loaded.errors


def test_helm_rendered_output_keeps_the_template_source(tmp_path: Path) -> None:
    text = ("---\n# Source: shop/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n"
            "  name: shop\n---\n# Source: shop/templates/deployment.yaml\n" + DEPLOY.format(name="shop")
            + "---\n# Source: shop/templates/empty.yaml\n# this template rendered nothing\n")
    path = write(tmp_path, "rendered.yaml", text)
    loaded = _manifests.load([str(path)])
    assert [(o["kind"], o["source"]) for o in loaded.objects] == [
        ("Service", "shop/templates/service.yaml"), ("Deployment", "shop/templates/deployment.yaml")]
    assert loaded.errors == []


def test_kustomize_output_with_document_end_markers_and_unknown_crds(tmp_path: Path) -> None:
    text = ("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n...\n---\n"
            "apiVersion: acme.example.com/v1alpha3\nkind: Widget\nmetadata:\n  name: w\n  namespace: shop\n"
            "spec:\n  anything: {goes: [here]}\n---\n" + DEPLOY.format(name="web"))
    path = write(tmp_path, "kustomized.yaml", text)
    snap, target = snapshot_of({"manifests": [str(path)]})
    kinds = [(o["apiVersion"], o["kind"]) for o in snap.data["objects"]]
    assert kinds == [("v1", "Namespace"), ("acme.example.com/v1alpha3", "Widget"), ("apps/v1", "Deployment")]
    assert snap.data["objects"][1]["spec"] == {"anything": {"goes": ["here"]}}
    assert snap.data["cluster"]["namespaces"] == ["shop"]
    assert [o.status for o in run("kubernetes.load", snap, target)] == [Status.PASS]


def test_folders_globs_non_manifests_and_missing_paths(tmp_path: Path) -> None:
    write(tmp_path, "k8s/a.yaml", DEPLOY.format(name="a"))
    write(tmp_path, "k8s/nested/b.yml", DEPLOY.format(name="b"))
    write(tmp_path, "k8s/values.yaml", "replicaCount: 3\nimage: {tag: latest}\n")
    write(tmp_path, "k8s/notes.txt", "not yaml at all: [")
    write(tmp_path, "k8s/.hidden/c.yaml", DEPLOY.format(name="c"))
    loaded = _manifests.load([str(tmp_path / "k8s"), str(tmp_path / "k8s/**/b.yml"),
                              str(tmp_path / "nope"), str(tmp_path / "none-*.yaml")])
    assert sorted(o["metadata"]["name"] for o in loaded.objects) == ["a", "b"]  # b deduplicated
    assert [s["reason"] for s in loaded.skipped] == ["not a Kubernetes object (no kind)"]
    assert sorted(e["message"] for e in loaded.errors) == ["glob matches no file", "no such file or folder"]


def test_relative_paths_are_shown_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "deploy/web.yaml", DEPLOY.format(name="web"))
    monkeypatch.chdir(tmp_path)
    snap, target = snapshot_of({"manifests": ["deploy"]})
    [finding] = run("kubernetes.probes.readiness", snap, target)
    assert finding.location == "deploy/web.yaml:1"
    assert finding.subject == "shop/Deployment/web"


def test_nothing_to_read_is_a_collect_error(tmp_path: Path) -> None:
    with pytest.raises(CollectError, match="no such file or folder"):
        collect_kubernetes.fn(Target("t", "kubernetes", {"manifests": [str(tmp_path / "missing")]}))


def test_unreadable_and_non_utf8_files_are_load_errors(tmp_path: Path) -> None:
    write(tmp_path, "ok.yaml", DEPLOY.format(name="ok"))
    (tmp_path / "latin1.yaml").write_bytes(b"kind: ConfigMap\nmetadata: {name: caf\xe9}\n")
    loaded = _manifests.load([str(tmp_path)])
    assert [o["metadata"]["name"] for o in loaded.objects] == ["ok"]
    assert loaded.errors == [{"file": str(tmp_path / "latin1.yaml"), "line": None,
                              "message": "cannot read: UnicodeDecodeError"}]


@pytest.mark.parametrize(("options", "message"), [
    ({}, "set either manifests"),
    ({"manifests": ["k8s"], "kubeconfig": "/x"}, "not both"),
    ({"in_cluster": True, "context": "prod"}, "cannot be combined"),
    ({"manifests": []}, "manifests is empty"),
    ({"manifests": ["k8s"], "namespaces": ["a"]}, "does not apply to manifests"),
    ({"kubeconfig": "/x", "namespaces": []}, "namespaces is empty"),
    ({"manifests": ["k8s"], "colour": "red"}, "Extra inputs"),
])
def test_options_allow_exactly_one_mode(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KubernetesOptions.model_validate(options)
    with pytest.raises(CollectError):
        collect_kubernetes.fn(Target("t", "kubernetes", options))


def test_valid_options() -> None:
    assert KubernetesOptions.model_validate({"manifests": ["k8s/"]}).manifests == ["k8s/"]
    live = KubernetesOptions.model_validate({"context": "prod", "namespaces": ["shop"]})
    assert live.namespaces == ["shop"] and not live.in_cluster
    assert KubernetesOptions.model_validate({"in_cluster": True}).in_cluster


@pytest.mark.parametrize("text", [
    "a: 1\nb: [1, 2, {c: d}]\n",
    "x: &a {k: v}\ny: *a\n",
    "base: &b {a: 1}\nd:\n  <<: *b\n  c: 2\n",
    "v: 0x1F\nw: 1_000\nf: 1.5\nt: 2001-12-14\nb: yes\nn: ~\ns: '01'\no: 012\n",
    "- 1\n- -2\n- +3\n- on\n- Off\n- NULL\n- ''\n- 'null'\n- 1e3\n- .inf\n",
    "k: !!binary aGVsbG8=\n",
    "{1: a, 2.5: b, null: c}\n",
    "port: '8080'\nreplicas: 3\nenabled: true\nnote: |\n  multi\n  line\n",
])
def test_fast_builder_agrees_with_pyyaml(text: str) -> None:
    import yaml

    assert _manifests._compose(text)[1] == yaml.load(text, Loader=yaml.CSafeLoader)


def test_constructs_pyyaml_rejects_are_load_errors(tmp_path: Path) -> None:
    text = "? [a, b]\n: c\n---\nkind: X\nvalue: !custom x\n---\n" + DEPLOY.format(name="ok")
    path = write(tmp_path, "odd.yaml", text)
    loaded = _manifests.load([str(path)])
    assert [o["metadata"]["name"] for o in loaded.objects] == ["ok"]
    assert [e["line"] for e in loaded.errors] == [1, 5]


def test_config_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scaleready.config import parse_config

    write(tmp_path, "repo/deploy/web.yaml", DEPLOY.format(name="web"))
    text = "targets:\n  - name: m\n    kind: kubernetes\n    manifests: [deploy/, 'deploy/*.yaml']\n"
    config = parse_config(text, tmp_path / "repo" / "scaleready.yaml")
    [configured] = config.targets
    target = getattr(configured, "target", configured)
    monkeypatch.chdir(tmp_path)  # run from elsewhere: the paths still resolve
    data = collect_kubernetes.fn(target)
    assert [o["metadata"]["name"] for o in data["objects"]] == ["web"]
    assert data["objects"][0]["file"] == "repo/deploy/web.yaml"
