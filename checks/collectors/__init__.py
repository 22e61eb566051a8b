"""Collectors: one module per target kind, the only code in the catalogue that does I/O."""
