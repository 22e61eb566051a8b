"""Built-in kubernetes checks (registered through the scaleready.checks entry point)."""
