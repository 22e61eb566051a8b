"""The built-in check catalogue. Each module here is one entry point of ``scaleready.checks``."""
