"""HTTP endpoints: ``collector`` calls health, metrics and (only with ``active: true``) the bounded
probes; ``api`` judges health, latency, error format, metrics, headers and the defences of guide 7.1.
"""
