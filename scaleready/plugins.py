"""Entry-point discovery: finds every installed check and collector, built-in or third-party.

Built-ins get no special path: they are named in the same ``scaleready.checks`` group as
any plugin (the way Datasette loads its plugins), so a test that installs a throw-away
distribution exercises exactly the code the catalogue uses. A plugin that fails to import
is reported, not fatal: one broken plugin must not take the whole tool down.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import types
from dataclasses import dataclass, field, replace
from importlib.metadata import EntryPoint, entry_points

from scaleready.api import Check, Collector

ENTRY_POINT_GROUP = "scaleready.checks"


@dataclass(frozen=True)
class PluginInfo:
    """One entry point: where it came from and whether it loaded."""

    name: str
    module: str
    distribution: str
    version: str
    error: str | None = None


@dataclass
class Registry:
    """Every installed check (by id) and collector (by target kind)."""

    checks: dict[str, Check] = field(default_factory=dict)
    collectors: dict[str, Collector] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def checks_for(self, kind: str) -> list[Check]:
        return [c for c in self.checks.values() if c.kind == kind]

    def add_module(self, module: types.ModuleType, plugin: str, version: str) -> None:
        """Install every `Check` and `Collector` at a module's top level; for a package, in each of its modules.

        A package is how a target kind keeps its collector, topic modules and helpers in one
        folder; walking it lets each check be declared beside its logic, with no re-export list.
        """
        for sub in _submodules(module):
            self._add_values(sub, plugin, version)

    def _add_values(self, module: types.ModuleType, plugin: str, version: str) -> None:
        for value in vars(module).values():
            if isinstance(value, Check):
                self._add_check(replace(value, plugin=plugin, version=version))
            elif isinstance(value, Collector):
                self._add_collector(replace(value, plugin=plugin, version=version))

    def _add_check(self, item: Check) -> None:
        existing = self.checks.get(item.id)
        if existing is not None and existing.fn is not item.fn:
            self.problems.append(
                f"check id {item.id!r} is declared by both {existing.plugin} and {item.plugin}; "
                f"keeping {existing.plugin}"
            )
            return
        self.checks[item.id] = item

    def _add_collector(self, item: Collector) -> None:
        existing = self.collectors.get(item.kind)
        if existing is not None and existing.fn is not item.fn:
            self.problems.append(
                f"target kind {item.kind!r} has collectors in both {existing.plugin} and "
                f"{item.plugin}; keeping {existing.plugin}"
            )
            return
        self.collectors[item.kind] = item


def _submodules(module: types.ModuleType) -> list[types.ModuleType]:
    """The module itself and, for a package, every module below it (imported in name order)."""
    found = [module]
    path = getattr(module, "__path__", None)
    if path is not None:
        for info in sorted(pkgutil.walk_packages(path, module.__name__ + "."), key=lambda i: i.name):
            found.append(importlib.import_module(info.name))
    return found


def _load(ep: EntryPoint, registry: Registry) -> None:
    dist = ep.dist
    dist_name = dist.metadata["Name"] if dist is not None else "?"
    version = dist.version if dist is not None else "?"
    try:
        loaded = ep.load()
        modules = _submodules(loaded) if isinstance(loaded, types.ModuleType) else []
    except Exception as exc:  # a broken plugin is reported, never fatal
        registry.plugins.append(
            PluginInfo(ep.name, ep.value, dist_name, version, f"{type(exc).__name__}: {exc}")
        )
        return
    registry.plugins.append(PluginInfo(ep.name, ep.value, dist_name, version))
    if modules:
        for module in modules:
            registry._add_values(module, ep.name, version)
        return
    for value in loaded if isinstance(loaded, list | tuple) else [loaded]:
        if isinstance(value, Check):
            registry._add_check(replace(value, plugin=ep.name, version=version))
        elif isinstance(value, Collector):
            registry._add_collector(replace(value, plugin=ep.name, version=version))


def discover() -> Registry:
    """Load every entry point in the group into a fresh registry."""
    registry = Registry()
    seen: set[tuple[str, str]] = set()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if (ep.name, ep.value) in seen:  # the same dist seen twice on sys.path
            continue
        seen.add((ep.name, ep.value))
        _load(ep, registry)
    return registry


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry; discovery imports plugins, so do it once."""
    return discover()
