"""scaleready: live evidence that a web product is ready to scale.

The public surface for plugin authors is `scaleready.api`; the rest of the package is the
engine, store, scoring and reports that the CLI and the dashboard share.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("scaleready")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
