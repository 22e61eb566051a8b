"""Kubernetes, live or as manifests: ``collector`` (with ``live``, ``manifests`` and ``objects``) reads
either into one snapshot shape; ``workloads`` judges each workload (replicas, HPA, PDB, resources,
probes, spread), ``cluster`` the cluster-wide tooling and ``mesh`` service-to-service mTLS.
"""
