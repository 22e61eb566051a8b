"""Built-in gitops checks (registered through the scaleready.checks entry point)."""
