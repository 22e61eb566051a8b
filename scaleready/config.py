"""``scaleready.yaml``: targets, secrets by reference, severity overrides, waivers.

Loading validates everything up front (structure, unknown keys, each target's kind-specific
keys through its collector's options model) and fails with *one* readable error naming the
file, the line and the key. Secret references are resolved in memory only; a secret that
cannot be resolved does not abort the run: that target alone is reported as ``error``.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scaleready.access import AccessConfig
from scaleready.api import RelativeToConfig, Severity, Target, TargetOptions
from scaleready.engine import Policy, Waiver
from scaleready.plugins import Registry, default_registry
from scaleready.secrets import Redactor, SecretError, resolve
from scaleready.yamlsource import (
    PathKey,
    SourceMap,
    YamlSyntaxError,
    format_path,
    load_with_lines,
    one_line,
    read_source,
    unknown_key_hint,
)

DEFAULT_FILE = "scaleready.yaml"
BASE_TARGET_KEYS = ("name", "kind", "environment", "active", "timeout")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class ConfigError(ValueError):
    """The config cannot be used; ``str()`` is the single line shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class _TargetBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN)
    kind: str
    environment: str | None = None
    active: bool = False
    timeout: float = Field(default=30.0, gt=0, le=3600)


class _WaiverSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    check: str
    reason: str = Field(min_length=1)
    target: str = "*"
    subject: str = "*"
    expires: date | None = None


class _AuthSpec(BaseModel):
    """``auth``: sign in to the dashboard with OpenID Connect (client settings stay in Streamlit's
    secrets.toml)."""

    model_config = ConfigDict(extra="forbid")
    oidc: bool = False
    provider: str | None = Field(default=None, pattern=NAME_PATTERN)


class _RolesSpec(BaseModel):
    """``roles``: e-mail globs of editors (run, tick, waive, milestones) and viewers (browse, export)."""

    model_config = ConfigDict(extra="forbid")
    editors: list[str] = Field(default_factory=list)
    viewers: list[str] = Field(default_factory=lambda: ["*"])


class _ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    project: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    framework: str | None = None
    environment: str | None = None
    targets: list[dict[str, Any]] = Field(default_factory=list)
    severity: dict[str, Severity] = Field(default_factory=dict)
    waivers: list[_WaiverSpec] = Field(default_factory=list)
    auth: _AuthSpec = Field(default_factory=_AuthSpec)
    roles: _RolesSpec = Field(default_factory=_RolesSpec)


@dataclass
class ConfiguredTarget:
    """A target as configured: the resolved `Target`, or why its secrets could not resolve."""

    target: Target
    secret_error: str | None = None


@dataclass
class Config:
    path: Path | None
    targets: list[ConfiguredTarget] = field(default_factory=list)
    policy: Policy = field(default_factory=Policy)
    framework: str | None = None
    environment: str | None = None
    redactor: Redactor = field(default_factory=Redactor)
    project: str = "default"  # whose ticks, waivers and milestones: one store serves several products
    access: AccessConfig = field(default_factory=AccessConfig)
    framework_where: str | None = None
    """``file:line`` of the ``framework:`` key, for errors about the framework it names."""

    def select(self, environment: str | None = None) -> list[ConfiguredTarget]:
        """Targets of one environment (targets without one belong to every environment)."""
        wanted = environment or self.environment
        if not wanted:
            return list(self.targets)
        return [t for t in self.targets if t.target.environment in (None, wanted)]


def _model_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of ``loc`` (list indexes and dict keys skipped)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part) if isinstance(current, type) and issubclass(current, BaseModel) \
            else None
        if info is None:
            return None
        inner = [a for a in (info.annotation, *typing.get_args(info.annotation))
                 if isinstance(a, type) and issubclass(a, BaseModel)]
        if not inner:
            return None
        current = inner[0]
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _first_error(exc: ValidationError, prefix: PathKey, source: SourceMap,
                 model: type[BaseModel] | None = None) -> ConfigError:
    err = exc.errors()[0]
    path: PathKey = (*prefix, *err["loc"])
    key = format_path(path) or "(top level)"
    if err["type"] == "extra_forbidden":
        owner = _model_at(model, err["loc"]) if model else None
        hint = f" {unknown_key_hint(err['loc'][-1], _model_keys(owner))}" if owner else ""
        return ConfigError(f"{source.where(path)}: {key}: unknown key{hint}")
    if err["type"] == "missing":
        return ConfigError(f"{source.where(path[:-1])}: {key}: required key is missing")
    return ConfigError(f"{source.where(path)}: {key}: {err['msg']}")


def _build_target(
    raw: Any, index: int, source: SourceMap, registry: Registry, base_dir: Path, redactor: Redactor
) -> ConfiguredTarget:
    where: PathKey = ("targets", index)
    if not isinstance(raw, dict):
        raise ConfigError(f"{source.where(where)}: targets[{index}]: expected a mapping with name and kind")
    base_raw = {k: raw[k] for k in BASE_TARGET_KEYS if k in raw}
    try:
        base = _TargetBase.model_validate(base_raw)
    except ValidationError as exc:
        raise _first_error(exc, where, source, _TargetBase) from None
    collector = registry.collectors.get(base.kind)
    if collector is None:
        installed = ", ".join(sorted(registry.collectors)) or "none"
        raise ConfigError(
            f"{source.where((*where, 'kind'))}: targets[{index}].kind: unknown target kind "
            f"'{base.kind}' (installed: {installed})"
        )
    options_raw = {k: v for k, v in raw.items() if k not in BASE_TARGET_KEYS}
    known = set(collector.options.model_fields) | {
        f.alias for f in collector.options.model_fields.values() if f.alias
    }
    for key in options_raw:
        if key not in known:
            raise ConfigError(
                f"{source.where((*where, key))}: targets[{index}].{key}: unknown key for a "
                f"{base.kind} target {unknown_key_hint(key, [*BASE_TARGET_KEYS, *known])}"
            )
    try:
        resolved, used = resolve(options_raw, base_dir)
    except SecretError as exc:
        target = Target(base.name, base.kind, {}, base.environment, base.active, base.timeout)
        return ConfiguredTarget(target, secret_error=str(exc))
    redactor.add(used)
    try:
        options = collector.options.model_validate(resolved)
    except ValidationError as exc:
        raise ConfigError(redactor.text(str(_first_error(exc, where, source)))) from None
    values = _anchor_paths(options, base_dir)
    target = Target(base.name, base.kind, values, base.environment, base.active, base.timeout)
    return ConfiguredTarget(target)


def _holds_marker(annotation: Any) -> bool:
    if any(isinstance(m, RelativeToConfig) for m in getattr(annotation, "__metadata__", ())):
        return True
    return any(_holds_marker(arg) for arg in typing.get_args(annotation))


def _anchor(value: Any, base_dir: Path) -> Any:
    if isinstance(value, str) and value and "://" not in value:
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else base_dir / path)
    if isinstance(value, list):
        return [_anchor(v, base_dir) for v in value]
    return value


def _anchor_paths(options: TargetOptions, base_dir: Path) -> dict[str, Any]:
    """Option values, with `ConfigPath` fields resolved against the config file's folder."""
    values = options.model_dump()
    for name, info in type(options).model_fields.items():
        if any(isinstance(m, RelativeToConfig) for m in info.metadata) or _holds_marker(info.annotation):
            values[name] = _anchor(values[name], base_dir)
    return values


def parse_config(
    text: str, file: str | Path = DEFAULT_FILE, registry: Registry | None = None
) -> Config:
    """Validate a config document; raises `ConfigError` with file, line and key."""
    registry = registry or default_registry()
    try:
        data, source = load_with_lines(text, file)
    except YamlSyntaxError as exc:
        raise ConfigError(str(exc)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source.where(())}: the config must be a mapping with a 'targets' list")
    # A section whose entries are all commented out parses as null: treat it as empty.
    optional_sections = ("targets", "severity", "waivers", "auth", "roles")
    data = {k: v for k, v in data.items() if not (v is None and k in optional_sections)}
    try:
        doc = _ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, (), source, _ConfigFile) from None
    base_dir = Path(file).resolve().parent if file else Path.cwd()
    redactor = Redactor()
    targets = [
        _build_target(raw, i, source, registry, base_dir, redactor) for i, raw in enumerate(doc.targets)
    ]
    seen: dict[str, int] = {}
    for i, ct in enumerate(targets):
        if ct.target.name in seen:
            raise ConfigError(
                f"{source.where(('targets', i, 'name'))}: targets[{i}].name: duplicate target name "
                f"'{ct.target.name}' (first at targets[{seen[ct.target.name]}])"
            )
        seen[ct.target.name] = i
    waivers = [Waiver(w.check, w.reason, w.target, w.subject, w.expires) for w in doc.waivers]
    return Config(
        path=Path(file) if file else None,
        targets=targets,
        policy=Policy(severity=dict(doc.severity), waivers=waivers),
        framework=doc.framework,
        environment=doc.environment,
        redactor=redactor,
        project=doc.project,
        access=AccessConfig(oidc=doc.auth.oidc, provider=doc.auth.provider, editors=tuple(doc.roles.editors),
                            viewers=tuple(doc.roles.viewers)),
        framework_where=source.where(("framework",)) if doc.framework else None,
    )


def load_config(path: str | Path | None = None, registry: Registry | None = None) -> Config:
    """Read and validate a config file (default ``./scaleready.yaml``)."""
    file = Path(path or DEFAULT_FILE)
    if not file.exists() and not file.is_symlink():
        raise ConfigError(f"{file}: no such config file (create one with `scaleready init`)")
    try:
        text = read_source(file, "config file")
    except YamlSyntaxError as exc:
        raise ConfigError(str(exc)) from None
    return parse_config(text, file, registry)


def starter_config() -> str:
    """The commented starter file that `scaleready init` writes."""
    return (Path(__file__).parent / "starter_config.yaml").read_text()


def redacted_target_summary(targets: Sequence[ConfiguredTarget]) -> list[dict[str, Any]]:
    """What may be stored about targets: names, kinds and flags, never their options."""
    return [
        {"name": t.target.name, "kind": t.target.kind, "environment": t.target.environment,
         "active": t.target.active}
        for t in targets
    ]


