"""Workload logs: ``collector`` samples recent lines and probes traceparent, ``structure`` judges them."""
