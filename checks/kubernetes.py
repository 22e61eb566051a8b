"""Built-in kubernetes checks (registered through the scaleready.checks entry point).

Declarations only: ids, titles, framework items, guide sections and remediation live here so
the catalogue reads in one place; the decision logic lives in ``_k8s_workload`` (per
workload) and ``_k8s_cluster`` (cluster-wide), both pure functions over the snapshot that
``checks.collectors.kubernetes`` produces from a live cluster or from manifests.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks import _k8s_cluster as cluster
from checks import _k8s_mesh as mesh
from checks import _k8s_workload as workload
from checks.collectors.kubernetes import KubernetesOptions, collect_kubernetes
from scaleready.api import Outcome, Severity, Snapshot, Target, check, errored, passed

__all__ = ["KubernetesOptions", "collect_kubernetes"]

KIND = "kubernetes"


@check("kubernetes.load", kind=KIND, title="Every manifest loads and every resource can be listed",
       severity=Severity.WARNING, section="5",
       remediation="Fix the YAML at the named line, or grant the collector's identity `list` on the "
                   "named resource (a read-only ClusterRole).")
def load(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    """Broken manifest documents and forbidden resources, each as an error naming where."""
    problems = 0
    for err in snapshot.data.get("load_errors") or []:
        problems += 1
        line = err.get("line")
        location = f"{err['file']}:{line}" if line else err["file"]
        yield errored(f"{location}: {err['message']}", location=location, subject=err["file"])
    for err in snapshot.data.get("access_errors") or []:
        problems += 1
        yield errored(err["message"], subject=err.get("resource"), verb=err.get("verb"), scope=err.get("scope"))
    if not problems:
        objects = snapshot.section("objects")
        yield passed(f"{len(objects)} object(s) read without a load or access error", objects=len(objects))


@check("kubernetes.replicas.min", kind=KIND, title="Workloads run at least 2 replicas",
       severity=Severity.DANGER, items=["principles.horizontal_stateless"], section="1.1",
       remediation="Set spec.replicas (or the HPA's minReplicas) to 2 or more.")
def replicas_min(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return workload.replicas_min(snapshot, target)


@check("kubernetes.hpa.present", kind=KIND, title="Workloads have a HorizontalPodAutoscaler",
       severity=Severity.WARNING, items=["principles.horizontal_stateless", "roadmap.p3.autoscaling"], section="8",
       remediation="Add an autoscaling/v2 HorizontalPodAutoscaler targeting the workload.")
def hpa_present(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return workload.hpa_present(snapshot, target)


@check("kubernetes.hpa.buffer", kind=KIND, title="HPA targets leave a 30% buffer and are not saturated",
       severity=Severity.WARNING, items=["cost.autoscaling_buffer", "roadmap.p3.autoscaling"], section="9.1",
       remediation="Set averageUtilization to 70 or lower; raise maxReplicas when the HPA sits at its ceiling.")
def hpa_buffer(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return workload.hpa_buffer(snapshot, target)


@check("kubernetes.pdb.present", kind=KIND, title="Workloads have a PodDisruptionBudget that allows drains",
       items=["principles.design_for_failure"], severity=Severity.WARNING, section="1.1",
       remediation="Add a policy/v1 PodDisruptionBudget with maxUnavailable: 1 (not 0, and minAvailable "
                   "below the replica count).")
def pdb_present(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return workload.pdb_present(snapshot, target)


@check("kubernetes.resources.requests", kind=KIND, title="Containers request cpu and memory",
       severity=Severity.WARNING, items=["roadmap.p3.autoscaling"], section="8",
       remediation="Set resources.requests.cpu and .memory on every container; the HPA's utilisation is "
                   "measured against them.")
def resources_requests(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return workload.resources_requests(snapshot, target)


@check("kubernetes.resources.limits", kind=KIND, title="Containers have memory (and cpu) limits",
       items=["principles.design_for_failure"], severity=Severity.WARNING, section="1.1",
       remediation="Set resources.limits.memory on every container (cpu limits optional).")
def resources_limits(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return workload.resources_limits(snapshot, target)


@check("kubernetes.probes.readiness", kind=KIND, title="Containers have a readiness probe",
       severity=Severity.DANGER, items=["principles.design_for_failure"], section="1.1",
       remediation="Add a readinessProbe so traffic and `kubectl rollout status` wait for ready pods.")
def probes_readiness(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return workload.probes_readiness(snapshot, target)


@check("kubernetes.probes.liveness", kind=KIND, title="Containers have a liveness probe distinct from readiness",
       items=["principles.design_for_failure"], severity=Severity.WARNING, section="1.1",
       remediation="Add a cheap livenessProbe (process alive) separate from the readinessProbe "
                   "(dependencies ready).")
def probes_liveness(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return workload.probes_liveness(snapshot, target)


@check("kubernetes.spread", kind=KIND, title="Replicas are spread across nodes or zones",
       severity=Severity.WARNING, items=["principles.design_for_failure"], section="1.1",
       remediation="Add topologySpreadConstraints on topology.kubernetes.io/zone (or pod anti-affinity).")
def spread(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return workload.spread(snapshot, target)


@check("kubernetes.canary", kind=KIND, title="Deployments roll out through a Flagger Canary within guide 5.2",
       severity=Severity.WARNING, items=["deploy.canary"], section="5.2",
       remediation="Add a flagger.app/v1beta1 Canary per Deployment with analysis interval 1m, threshold 5, "
                   "error-rate <= 1% and latency <= 500ms.")
def canary(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return cluster.canary(snapshot, target)


@check("kubernetes.mtls", kind=KIND, title="Service-to-service traffic uses mTLS",
       severity=Severity.DANGER, items=["security.mtls"], section="7.1",
       remediation="Apply an Istio PeerAuthentication with mtls.mode STRICT in istio-system, or mesh with "
                   "Linkerd and require MeshTLSAuthentication in AuthorizationPolicies.")
def mtls(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return mesh.mtls(snapshot, target)


@check("kubernetes.network_policy.default_deny", kind=KIND, title="Namespaces deny ingress by default",
       items=["security.mtls"], severity=Severity.WARNING, section="7.1",
       remediation="Add a NetworkPolicy with podSelector: {} and policyTypes: [Ingress] in every application "
                   "namespace, then allow the flows you need.")
def network_policy_default_deny(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return cluster.network_policy_default_deny(snapshot, target)


@check("kubernetes.secrets.plaintext", kind=KIND, title="No plaintext secrets in env or ConfigMaps",
       severity=Severity.DANGER, items=["security.secrets_encryption"], section="7.1",
       remediation="Move the value to a Secret fed by External Secrets, Sealed Secrets, Vault or a CSI "
                   "driver, and reference it with valueFrom.secretKeyRef.")
def secrets_plaintext(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return cluster.secrets_plaintext(snapshot, target)


@check("kubernetes.secrets.external", kind=KIND, title="Secrets come from an external, encrypted store",
       severity=Severity.WARNING, items=["security.secrets_encryption"], section="7.1",
       remediation="Install External Secrets (Vault/KMS backend), Sealed Secrets or the secrets-store CSI "
                   "driver and move workloads onto it.")
def secrets_external(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return cluster.secrets_external(snapshot, target)


@check("kubernetes.tracing", kind=KIND, title="A distributed-tracing collector runs",
       severity=Severity.WARNING, items=["roadmap.p3.distributed_tracing"], section="8",
       remediation="Deploy an OpenTelemetry Collector (the operator's OpenTelemetryCollector) and point "
                   "OTEL_EXPORTER_OTLP_ENDPOINT at it.")
def tracing(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return cluster.tracing(snapshot, target)


@check("kubernetes.chaos", kind=KIND, title="Chaos engineering tooling is installed and used",
       severity=Severity.INFO, items=["roadmap.p4.chaos_engineering"], section="8",
       remediation="Install Chaos Mesh or Litmus and schedule a PodChaos/ChaosEngine experiment.")
def chaos(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return cluster.chaos(snapshot, target)


@check("kubernetes.regions", kind=KIND, title="Nodes span 2+ zones and 2+ regions",
       severity=Severity.WARNING, items=["roadmap.p4.regional_failover"], section="8",
       remediation="Run node pools in at least two zones; add a second region for regional failover.")
def regions(snapshot: Snapshot, target: Target) -> Iterator[Outcome]:
    return cluster.regions(snapshot, target)
