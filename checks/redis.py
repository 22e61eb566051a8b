"""Built-in redis checks (registered through the scaleready.checks entry point)."""
