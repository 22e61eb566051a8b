"""The built-in check catalogue: one package per target kind, each an entry point of ``scaleready.checks``.

A kind's package holds everything about that kind of system: its collector (the only I/O),
its checks grouped by topic, and their helpers. Discovery walks the package's modules, so a
check is declared once, by the decorator on the function that does the work.
"""
