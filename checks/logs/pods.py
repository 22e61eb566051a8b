"""Recent log lines of a Kubernetes workload's pods (live mode), bounded in pods, lines and bytes.

Lists the pods matching a label selector in one namespace and reads each one's log tail through
the API server (``tailLines`` and ``limitBytes``), with the same kubeconfig handling as the
kubernetes collector. A pod whose log cannot be read is recorded with the reason; the others
still count.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel, ConfigDict, Field

from checks.kubernetes.live import make_client
from scaleready.api import CollectError, ConfigPath


class PodLogsOptions(BaseModel):
    """The ``kubernetes:`` key of a ``logs`` target."""

    model_config = ConfigDict(extra="forbid")

    kubeconfig: ConfigPath | None = None
    context: str | None = None
    in_cluster: bool = False
    namespace: str = "default"
    selector: str = Field(..., description="label selector of the workload's pods, e.g. app=checkout")
    container: str | None = None
    max_pods: int = Field(3, ge=1, le=20)


def _why(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason or ''}".strip()
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"


def read_pod_logs(opts: PodLogsOptions, max_lines: int, max_bytes: int,
                  timeout: float) -> list[tuple[dict[str, Any], list[str]]]:
    """(source meta, lines) per pod; CollectError when the pods cannot even be listed."""
    api = make_client(opts.kubeconfig, opts.context, opts.in_cluster)
    core = client.CoreV1Api(api)
    try:
        pods = core.list_namespaced_pod(opts.namespace, label_selector=opts.selector, limit=opts.max_pods,
                                        _request_timeout=timeout)
    except Exception as exc:  # ApiException, urllib3 errors: one readable line either way
        api.close()
        raise CollectError(f"cannot list pods {opts.selector!r} in {opts.namespace}: {_why(exc)}") from None
    out: list[tuple[dict[str, Any], list[str]]] = []
    for pod in (pods.items or [])[:opts.max_pods]:
        name = pod.metadata.name
        meta: dict[str, Any] = {"source": f"pod {opts.namespace}/{name}", "kind": "pod", "reason": None}
        try:
            text = core.read_namespaced_pod_log(name, opts.namespace, container=opts.container,
                                                tail_lines=max_lines, limit_bytes=max_bytes,
                                                _request_timeout=timeout)
        except Exception as exc:
            meta["reason"] = f"cannot read its log: {_why(exc)}"
            out.append((meta, []))
            continue
        out.append((meta, str(text or "").splitlines()[-max_lines:]))
    if not out:
        out.append(({"source": f"pods {opts.selector} in {opts.namespace}", "kind": "pod",
                     "reason": "no pod matches the selector"}, []))
    api.close()
    return out
