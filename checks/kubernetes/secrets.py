"""Spotting secret-looking literals in Kubernetes objects, and redacting them.

Both collector modes run every object through `redact_object` before it enters a snapshot,
so a snapshot never holds a credential: a secret-looking value becomes a *marker* that keeps
the key name, the length and a salted fingerprint (so two runs can tell "same value" from
"rotated" without storing it). `kubernetes.secrets.plaintext` then only has to find markers,
which keeps that check pure and the detection rules in one place.

Known difference from kube-linter's ``env-var-secret`` (which flags by name alone): a value
that is a placeholder (``changeme``, ``xxxxx``, ``${VAR}``, ``your-key-here``...) is not a
credential and is not flagged; cloud key names (Azure ``*_KEY``, OCI ``key_content``) and
well-known key formats (Google, OpenAI, GitLab, SendGrid, Azure connection strings and SAS
signatures, service-account JSON) are flagged whatever the key is called.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

MARKER_KEY = "__redacted__"
MAX_KEPT_VALUE = 64 * 1024  # larger ConfigMap values (dashboards, bundles) are summarised, not stored

# Key names that say "this is a credential". Suffix words such as _TTL, _LENGTH or _FILE
# mean the value is a setting about the secret, not the secret itself.
_SENSITIVE_NAME = re.compile(
    r"(pass(word|wd|phrase)?|pass_phrase|secret|token|api[_-]?key|apikey|private[_-]?key|credential|"
    r"access[_-]?key|auth[_-]?key|signing[_-]?key|encryption[_-]?key|client[_-]?secret|"
    r"session[_-]?key|dsn|connection[_-]?string|key[_-]?content|sas[_-]?token|"
    r"(account|storage|master|primary|secondary|shared|subscription|function|host|admin|query)[_-]?key)",
    re.IGNORECASE,
)
# Azure and other clouds name credentials just ``*_KEY`` (AZURE_OPENAI_KEY, SEARCH_KEY, ...).
# A trailing KEY counts, unless the word before it says the key is not a secret.
_KEY_SUFFIX = re.compile(r"(?:[A-Za-z0-9][_\-.][Kk][Ee][Yy]|[a-z0-9]Key|[A-Z0-9]_KEY)$")
_NOT_SECRET_KEY = re.compile(
    r"(public|cache|partition|sort|routing|shard|lookup|hash|row|foreign|idempotency|dedup|group|"
    r"object|s3|map|ssh[_-]?host|sign[_-]?in|hot|api[_-]?key[_-]?header)[_\-.]?key$",
    re.IGNORECASE,
)
_SETTING_SUFFIX = re.compile(
    r"(_|-|\.)?(ttl|length|len|expiry|expires?|timeout|lifetime|file|path|ref|name|enabled|"
    r"days|seconds|minutes|hours|min|max|policy|header|url|endpoint|id|version|type|region)$",
    re.IGNORECASE,
)
# Values that are credentials whatever the key is called.
_SECRET_VALUE = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a PEM private key"),
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:[^\s@/]+@"), "a URL with an embedded password"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), "a GitHub token"),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), "a GitLab token"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"\b(sk|rk)_live_[A-Za-z0-9]{16,}"), "a Stripe live key"),
    (re.compile(r"\bsk-(proj-)?[A-Za-z0-9_-]{32,}"), "an OpenAI-style secret key"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), "a Google API key"),
    (re.compile(r"\bSG\.[\w-]{16,}\.[\w-]{16,}"), "a SendGrid key"),
    (re.compile(r"(?i)\b(AccountKey|SharedAccessKey)=[A-Za-z0-9+/=]{20,}"), "an Azure connection string key"),
    (re.compile(r"[?&]sig=[A-Za-z0-9%+/=]{20,}"), "an Azure SAS signature"),
    (re.compile(r'"type"\s*:\s*"service_account"'), "a Google service-account key file"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "a JWT"),
]
# ${VAR}, $(VAR), $VAR, <placeholder>, {{ template }}, %(name)s, ****, xxxx, -, and the words
# people leave in examples (changeme, replace-me, your-key-here, dummy, ...).
_PLACEHOLDER = re.compile(
    r"^(\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_]\w*|<[^>]*>|\{\{.*\}\}|%\(.*\)s|\*+|x+|-|\.{3}|"
    r"change[_-]?(me|it|this)|replace[_-]?(me|this)?|placeholder|dummy|example|sample|fake|todo|tbd|"
    r"redacted|not[_-]?set|none|null|empty|secret|password|your[_-].*|my[_-]?(secret|password|key).*|"
    r"(.)\2{5,})$",
    re.IGNORECASE,
)
_BOOL_OR_NUMBER = re.compile(r"^(true|false|yes|no|on|off|null|none|[-+]?\d+(\.\d+)?[a-z]{0,3})$", re.IGNORECASE)


def is_sensitive_name(name: str) -> bool:
    """True when a key name says it holds a credential (not a setting about one)."""
    if _SETTING_SUFFIX.search(name):
        return False
    if _SENSITIVE_NAME.search(name):
        return True
    return bool(_KEY_SUFFIX.search(name)) and not _NOT_SECRET_KEY.search(name)


_CONFIG_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][\w.\-]*)\s*[:=]\s*(.*?)\s*$")


def _embedded(text: str) -> str | None:
    """A credential inside a config file held as one value (properties, YAML, .env)."""
    for line in text.splitlines():
        match = _CONFIG_LINE.match(line)
        if match and not line.lstrip().startswith("#"):
            key, value = match.group(1), match.group(2).strip("'\"")
            if is_sensitive_name(key.rsplit(".", 1)[-1]) and _literal(value):
                return f"embedded {key} looks like a credential"
    return None


def _literal(text: str) -> bool:
    return len(text) >= 4 and not _PLACEHOLDER.match(text) and not _BOOL_OR_NUMBER.match(text)


def secret_reason(name: str, value: Any) -> str | None:
    """Why ``name: value`` looks like a plaintext secret, or None when it does not."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or _PLACEHOLDER.match(text):
        return None
    for pattern, what in _SECRET_VALUE:
        if pattern.search(text):
            return f"value looks like {what}"
    if "\n" in text:
        return _embedded(text)
    if is_sensitive_name(name) and _literal(text):
        return "key name looks like a credential"
    return None


def fingerprint(value: str, salt: str) -> str:
    """A short salted digest: tells 'unchanged' from 'rotated' without keeping the value."""
    digest = hashlib.sha256(f"{salt}\x1f{value}".encode()).hexdigest()
    return f"sha256:{digest[:12]}"


def marker(value: str, reason: str, salt: str) -> dict[str, Any]:
    return {MARKER_KEY: True, "reason": reason, "length": len(value), "fingerprint": fingerprint(value, salt)}


def is_marker(value: Any) -> bool:
    return isinstance(value, dict) and value.get(MARKER_KEY) is True


def pod_spec_path(kind: str) -> tuple[str, ...] | None:
    """Where an object of this kind keeps its pod spec (None: it has none)."""
    if kind == "Pod":
        return ("spec",)
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template", "spec")
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Rollout",
                "ReplicationController"}:
        return ("spec", "template", "spec")
    return None


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    path = pod_spec_path(str(obj.get("kind", "")))
    if path is None:
        return None
    node: Any = obj
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _redact_env(spec: dict[str, Any], salt: str) -> None:
    for group in ("containers", "initContainers", "ephemeralContainers"):
        for container in _list(spec.get(group)):
            if not isinstance(container, dict):
                continue
            for env in _list(container.get("env")):
                if not isinstance(env, dict) or "value" not in env:
                    continue
                name = str(env.get("name", ""))
                reason = secret_reason(name, env["value"])
                if reason:
                    where = f"{salt}/{container.get('name')}/{name}"
                    env["value"] = marker(str(env["value"]), reason, where)


def _redact_mapping(values: Any, salt: str, *, always: bool) -> Any:
    if not isinstance(values, dict):
        return values
    out: dict[str, Any] = {}
    for key, value in values.items():
        text = value if isinstance(value, str) else str(value)
        reason = "value of a Secret object" if always else secret_reason(str(key), text)
        if reason:
            out[key] = marker(text, reason, f"{salt}/{key}")
        elif len(text) > MAX_KEPT_VALUE:  # scanned in full above, but not worth storing
            out[key] = {"__omitted__": True, "length": len(text), "fingerprint": fingerprint(text, salt)}
        else:
            out[key] = value
    return out


def redact_object(obj: dict[str, Any]) -> dict[str, Any]:
    """Replace every secret-looking literal in ``obj`` (in place) by a marker; returns ``obj``.

    Env ``value`` literals in pod templates, ConfigMap ``data`` and every value of a Secret's
    ``data``/``stringData`` (in a repository, base64 is not encryption).
    """
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    salt = f"{meta.get('namespace') or ''}/{kind}/{meta.get('name') or ''}"
    spec = pod_spec(obj)
    if spec is not None:
        _redact_env(spec, salt)
    if kind == "ConfigMap":
        obj["data"] = _redact_mapping(obj.get("data"), salt, always=False)
        if isinstance(obj.get("binaryData"), dict):
            obj["binaryData"] = {k: "<binary omitted>" for k in obj["binaryData"]}
    elif kind == "Secret":
        for field in ("data", "stringData"):
            if field in obj:
                obj[field] = _redact_mapping(obj.get(field), salt, always=True)
    return obj


def markers_in(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every marker in an object as (where, marker): ``data.KEY`` or ``container/ENV``."""
    found: list[tuple[str, dict[str, Any]]] = []
    spec = pod_spec(obj)
    if spec is not None:
        for group in ("containers", "initContainers", "ephemeralContainers"):
            for container in _list(spec.get(group)):
                for env in _list(container.get("env")) if isinstance(container, dict) else []:
                    if isinstance(env, dict) and is_marker(env.get("value")):
                        found.append((f"{container.get('name')}/env/{env.get('name')}", env["value"]))
    for field in ("data", "stringData"):
        values = obj.get(field)
        if isinstance(values, dict):
            found.extend((f"{field}.{k}", v) for k, v in values.items() if is_marker(v))
    return found
