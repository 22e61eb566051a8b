"""The public plugin API: what a check or a collector is, and what they produce.

Everything a plugin author needs is importable from here. Checks are declared apart from
the engine (like Polaris): a check is metadata plus a pure function over a `Snapshot`;
a collector is the only place that does I/O. Keeping the two apart is what lets a run be
re-scored offline and lets every check be tested on plain JSON.

A plugin module registers by being named in the ``scaleready.checks`` entry-point group;
every `Check` and `Collector` found at its top level is installed.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Check",
    "CheckFunction",
    "CollectError",
    "Collector",
    "ConfigPath",
    "EvidenceUnavailable",
    "Finding",
    "Outcome",
    "Severity",
    "Snapshot",
    "Status",
    "Target",
    "TargetOptions",
    "check",
    "collector",
    "errored",
    "failed",
    "passed",
    "skipped",
    "warned",
]


class Status(StrEnum):
    """What a check concluded. ``error`` and ``skip`` mean *unknown*, never *passed*."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"

    @property
    def evaluated(self) -> bool:
        """True when the status is real evidence (pass/warn/fail), not an unknown."""
        return self in (Status.PASS, Status.WARN, Status.FAIL)


class Severity(StrEnum):
    """How much a failing finding matters; overridable per check in the config."""

    INFO = "info"
    WARNING = "warning"
    DANGER = "danger"


class TargetOptions(BaseModel):
    """Base for a collector's kind-specific target keys; unknown keys are config errors."""

    model_config = ConfigDict(extra="forbid")


class RelativeToConfig:
    """Marker for option fields holding filesystem paths (or globs)."""


ConfigPath = Annotated[str, RelativeToConfig()]
"""An option that names a file, folder or glob: relative values are resolved against the
folder of the config file that declares the target, so a config works from any directory."""


@dataclass(frozen=True)
class Target:
    """One configured system to check, with secrets already resolved.

    ``options`` holds the kind-specific keys, validated by the collector's options model.
    It may hold resolved secrets, so a Target is never stored or printed whole.
    """

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    environment: str | None = None
    active: bool = False
    timeout: float = 30.0

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


class CollectError(Exception):
    """Raised by a collector for an expected failure; the message is the user-facing reason.

    Keep it to one readable line ("connection refused at 127.0.0.1:5999"), never a traceback.
    """


class EvidenceUnavailable(Exception):
    """Raised inside a check when the snapshot lacks a section it needs; becomes ``error``."""


@dataclass(repr=False)
class Snapshot:
    """Frozen evidence from one target at one time: plain JSON plus a sha256.

    ``data`` maps section names to JSON values. A collector that could read some sections
    but not others records the reason per section in ``errors`` so the checks that need the
    missing part report ``error`` while the rest still run. ``error`` set means the whole
    collection failed.
    """

    target: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    collected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration_ms: float = 0.0

    def __repr__(self) -> str:
        # Short on purpose: snapshots can hold megabytes and asyncio.run() formats results.
        state = f"error={self.error!r}" if self.error else f"sections={sorted(self.data)}"
        return f"Snapshot(target={self.target!r}, kind={self.kind!r}, {state})"

    def section(self, name: str) -> Any:
        """The section's data, or `EvidenceUnavailable` with the collector's reason."""
        if name in self.errors:
            raise EvidenceUnavailable(f"{name}: {self.errors[name]}")
        if name not in self.data:
            raise EvidenceUnavailable(f"snapshot has no '{name}' section")
        return self.data[name]

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "kind": self.kind,
            "collected_at": self.collected_at.isoformat(),
            "duration_ms": round(self.duration_ms, 3),
            "error": self.error,
            "errors": self.errors,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Snapshot:
        return cls(  # deep copies: a snapshot must never alias the document it was read from
            target=doc["target"],
            kind=doc["kind"],
            data=copy.deepcopy(dict(doc.get("data") or {})),
            errors=dict(doc.get("errors") or {}),
            error=doc.get("error"),
            collected_at=datetime.fromisoformat(doc["collected_at"]),
            duration_ms=float(doc.get("duration_ms") or 0.0),
        )

    def canonical(self) -> str:
        """Canonical JSON text: the bytes the sha256 is taken over."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), default=str)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()


@dataclass
class Outcome:
    """What a check function returns for one subject; the engine turns it into a `Finding`.

    ``subject`` names the object inside the target the outcome is about (an index, a
    ``namespace/Kind/name``, a key pattern); ``location`` is ``file:line`` for file-based
    evidence; ``pointer`` is a JSON pointer into the snapshot's data (``/settings/work_mem``).
    """

    status: Status
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    subject: str | None = None
    location: str | None = None
    pointer: str | None = None
    remediation: str | None = None
    severity: Severity | None = None


def _outcome(status: Status) -> Callable[..., Outcome]:
    def make(message: str, /, **kwargs: Any) -> Outcome:
        known = {k: kwargs.pop(k) for k in ("subject", "location", "pointer", "remediation", "severity")
                 if k in kwargs}
        evidence = kwargs.pop("evidence", None) or {}
        evidence.update(kwargs)
        return Outcome(status, message, evidence, **known)

    make.__name__ = status.value
    make.__doc__ = f"An outcome with status {status.value!r}; extra keyword arguments become evidence."
    return make


passed = _outcome(Status.PASS)
warned = _outcome(Status.WARN)
failed = _outcome(Status.FAIL)
skipped = _outcome(Status.SKIP)
errored = _outcome(Status.ERROR)

CheckResult = Outcome | Iterable[Outcome] | None
CheckFunction = Callable[[Snapshot, Target], CheckResult]
CollectFunction = Callable[[Target], Awaitable[dict[str, Any]] | dict[str, Any] | Snapshot]


@dataclass
class Check:
    """A check's declaration: stable id, what it proves, and the pure function that decides.

    ``kind`` is the target kind whose snapshot it reads. ``items`` are framework item ids it
    is evidence for; ``section`` the guide section. ``plugin``/``version`` are filled in by
    discovery.
    """

    id: str
    kind: str
    title: str
    fn: CheckFunction
    severity: Severity = Severity.WARNING
    items: tuple[str, ...] = ()
    section: str | None = None
    remediation: str = ""
    description: str = ""
    plugin: str = ""
    version: str = ""

    def evaluate(self, snapshot: Snapshot, target: Target) -> list[Outcome]:
        """Run the function and normalise its result to a list of outcomes."""
        result = self.fn(snapshot, target)
        if result is None:
            return []
        if isinstance(result, Outcome):
            return [result]
        return list(result)


@dataclass
class Collector:
    """Reads one kind of target into a snapshot; the only code that touches the network.

    ``fn`` may be a coroutine function (preferred) or a plain function, which the engine
    runs in a daemon thread so a hung driver can never stall the run. It returns the
    snapshot ``data`` dict (sections); to report per-section failures it may return a full
    `Snapshot`. ``options`` validates the target's kind-specific keys.
    """

    kind: str
    fn: CollectFunction
    options: type[TargetOptions] = TargetOptions
    description: str = ""
    plugin: str = ""
    version: str = ""


@dataclass
class Finding:
    """One evaluated outcome with its check's metadata: the unit stored, scored and reported."""

    check: str
    target: str
    status: Status
    severity: Severity
    title: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: str = ""
    items: list[str] = field(default_factory=list)
    section: str | None = None
    subject: str | None = None
    location: str | None = None
    waived: bool = False
    waiver_reason: str | None = None

    @property
    def fingerprint(self) -> str:
        """Stable identity across runs (check, target, subject) for diffing and SARIF."""
        raw = "\x1f".join([self.check, self.target, self.subject or ""])
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "target": self.target,
            "subject": self.subject,
            "status": self.status.value,
            "severity": self.severity.value,
            "title": self.title,
            "message": self.message,
            "evidence": self.evidence,
            "remediation": self.remediation,
            "items": list(self.items),
            "section": self.section,
            "location": self.location,
            "waived": self.waived,
            "waiver_reason": self.waiver_reason,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Finding:
        return cls(
            check=doc["check"],
            target=doc["target"],
            status=Status(doc["status"]),
            severity=Severity(doc["severity"]),
            title=doc.get("title", ""),
            message=doc.get("message", ""),
            evidence=dict(doc.get("evidence") or {}),
            remediation=doc.get("remediation") or "",
            items=list(doc.get("items") or []),
            section=doc.get("section"),
            subject=doc.get("subject"),
            location=doc.get("location"),
            waived=bool(doc.get("waived")),
            waiver_reason=doc.get("waiver_reason"),
        )


def check(
    id: str,
    *,
    kind: str,
    title: str,
    severity: Severity | str = Severity.WARNING,
    items: Iterable[str] = (),
    section: str | None = None,
    remediation: str = "",
) -> Callable[[CheckFunction], Check]:
    """Declare a check. The decorated name becomes a `Check` that discovery picks up.

    >>> @check("redis.maxmemory", kind="redis", title="maxmemory is set", items=["cache.l2"])
    ... def maxmemory(snap, target):
    ...     return passed("set") if snap.section("config")["maxmemory"] else failed("unset")
    """

    def wrap(fn: CheckFunction) -> Check:
        return Check(
            id=id,
            kind=kind,
            title=title,
            fn=fn,
            severity=Severity(severity),
            items=tuple(items),
            section=section,
            remediation=remediation,
            description=(fn.__doc__ or "").strip(),
        )

    return wrap


def collector(
    kind: str, *, options: type[TargetOptions] = TargetOptions
) -> Callable[[CollectFunction], Collector]:
    """Declare the collector for a target kind, with the model that validates its keys."""

    def wrap(fn: CollectFunction) -> Collector:
        return Collector(kind=kind, fn=fn, options=options, description=(fn.__doc__ or "").strip())

    return wrap
