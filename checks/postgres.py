"""Built-in postgres checks (registered through the scaleready.checks entry point)."""
