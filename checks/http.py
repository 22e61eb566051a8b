"""Built-in http checks (registered through the scaleready.checks entry point)."""
