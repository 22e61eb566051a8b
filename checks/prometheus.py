"""Built-in prometheus checks (registered through the scaleready.checks entry point)."""
