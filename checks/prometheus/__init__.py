"""Prometheus: ``collector`` runs the signal queries and reads rules and targets; ``monitoring`` judges
the guide's metric targets (1.2) and monitoring stack (6); ``queries``, ``expr`` and ``rulefiles``
are the PromQL templates, the expression reader and the rule-file linter they use. ``evidence``
holds the probes for the rest of the guide, judged by ``resilience`` (breakers, consumer lag,
spans, log analysis), ``cost`` (9) and ``playbooks`` (10).
"""
