"""The ``kubernetes`` target kind: one collector, two modes, one snapshot shape.

A target is either a live cluster (``kubeconfig``/``context`` or ``in_cluster``, optionally
limited to ``namespaces``) or a set of manifests (``manifests``: files, folders, globs),
never both. Either way the snapshot holds the same sections, so every ``kubernetes.*``
check is one pure function that works on a cluster and on a repository alike:

- ``source``: mode and where the evidence came from (server URL or manifest files)
- ``objects``: normalized objects (apiVersion, kind, metadata, body; ``file``/``line`` in
  manifest mode), secret-looking literals redacted to fingerprints
- ``cluster``: nodes with zone/region (live), CRDs, namespaces, API groups
- ``access_errors``: resources the identity may not list (live); ``load_errors``: broken
  documents and unreadable paths (manifests)
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, ValidationError, model_validator

from checks.kubernetes import live as _k8s_live
from checks.kubernetes import manifests as _manifests
from scaleready.api import CollectError, ConfigPath, Target, TargetOptions, collector


class KubernetesOptions(TargetOptions):
    """Target keys of kind ``kubernetes``."""

    kubeconfig: ConfigPath | None = None  # relative paths are read from the config file's folder
    context: str | None = None
    in_cluster: bool = False
    namespaces: list[str] | None = None
    manifests: list[ConfigPath] | None = None
    exclude_namespaces: list[str] | None = Field(
        default=None, description="namespaces the per-workload checks ignore (default: kube-system, "
        "kube-public, kube-node-lease)")
    page_size: int = Field(default=500, ge=1, le=5000)

    @model_validator(mode="after")
    def _one_mode(self) -> KubernetesOptions:
        live = self.kubeconfig is not None or self.context is not None or self.in_cluster
        if self.manifests is not None and live:
            raise ValueError("set either manifests or kubeconfig/context/in_cluster, not both")
        if self.manifests is None and not live:
            raise ValueError("set either manifests (files, folders, globs) or kubeconfig/context/in_cluster")
        if self.in_cluster and (self.kubeconfig is not None or self.context is not None):
            raise ValueError("in_cluster: true cannot be combined with kubeconfig or context")
        if self.manifests is not None and not self.manifests:
            raise ValueError("manifests is empty: list at least one file, folder or glob")
        if self.manifests is not None and self.namespaces is not None:
            raise ValueError("namespaces filters a live cluster; it does not apply to manifests")
        if self.namespaces is not None and not self.namespaces:
            raise ValueError("namespaces is empty: omit it to read every namespace")
        return self


def options_of(target: Target) -> KubernetesOptions:
    try:
        return KubernetesOptions.model_validate(dict(target.options))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "options"
        raise CollectError(f"{where}: {first.get('msg')}") from None


def collect_manifests(paths: list[str], base: str | None = None) -> dict[str, Any]:
    """Every section of a manifest-mode snapshot."""
    loaded = _manifests.load(paths, base)
    crds = sorted(f"{(o.get('spec') or {}).get('names', {}).get('plural')}.{(o.get('spec') or {}).get('group')}"
                  for o in loaded.objects if o["kind"] == "CustomResourceDefinition")
    namespaces = sorted({o["metadata"]["name"] for o in loaded.objects if o["kind"] == "Namespace"}
                        | {o["metadata"]["namespace"] for o in loaded.objects if o["metadata"]["namespace"]})
    return {
        "source": {"mode": "manifests", "paths": list(paths), "files": loaded.files,
                   "skipped": loaded.skipped[:200]},
        "objects": loaded.objects,
        "cluster": {"nodes": None, "crds": crds, "namespaces": namespaces, "api_groups": None},
        "access_errors": [],
        "load_errors": loaded.errors,
    }


@collector("kubernetes", options=KubernetesOptions)
def collect_kubernetes(target: Target) -> dict[str, Any]:
    """Read a live cluster or a set of manifests into one snapshot shape."""
    opts = options_of(target)
    if opts.manifests is not None:
        loaded = collect_manifests(opts.manifests, os.getcwd())
        if not loaded["source"]["files"] and loaded["load_errors"]:
            first = loaded["load_errors"][0]
            raise CollectError(f"manifests: {first['file']}: {first['message']}")
        return loaded
    api = _k8s_live.make_client(opts.kubeconfig, opts.context, opts.in_cluster)
    try:
        return _k8s_live.collect(api, opts.namespaces, target.timeout, opts.page_size)
    finally:
        api.close()
