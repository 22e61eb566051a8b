"""Reads an alert's PromQL for what it means, not what it is called.

The guide's HighErrorRate (6.2) is "5xx responses / all responses > 1 %". Teams write that
in many shapes: ``sum(rate(...{status=~"5.."}[5m])) / sum(rate(...[5m])) > 0.01``, the same
times 100 against ``1``, through a recording rule, or as multi-window burn-rate alerts
(``ratio_rate1h > 14.4 * 0.001 and ratio_rate5m > 14.4 * 0.001``). Matching by alert name
would miss all of those and accept a "HighErrorRate" that alerts on 5 % or on absolute
counts. This module is a small tokenizer plus the few rules needed to recognise an error
ratio compared against a constant threshold; it is not a full PromQL parser and says so by
returning no match (with a reason) for shapes it cannot read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from checks.prometheus.queries import parse_duration

REQUEST_COUNTERS = (
    "http_requests_total",
    "http_server_requests_seconds_count",
    "http_server_request_duration_seconds_count",
    "http_request_duration_seconds_count",
    "http_server_duration_milliseconds_count",
    "nginx_ingress_controller_requests",
)
STATUS_LABELS = ("status", "code", "status_code", "response_code", "http_status")
SET_OPS = ("and", "or", "unless")
COMPARISONS = (">", ">=", "<", "<=")

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<duration>\[[^\]]*\])
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w:]))
  | (?P<ident>[A-Za-z_:][\w:]*)
  | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=,(){}])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    depth: int  # parenthesis depth (braces do not count)
    in_braces: bool


def tokenize(expr: str) -> list[Token]:
    """Tokens of a PromQL expression; unknown characters are skipped, never fatal."""
    tokens: list[Token] = []
    depth, braces, pos = 0, 0, 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            pos += 1
            continue
        pos = match.end()
        kind = match.lastgroup or ""
        text = match.group()
        if kind in ("ws", "comment"):
            continue
        if text == "(":
            depth += 1
            tokens.append(Token("op", text, depth, braces > 0))
            continue
        if text == ")":
            tokens.append(Token("op", text, depth, braces > 0))
            depth = max(depth - 1, 0)
            continue
        if text == "{":
            braces += 1
        elif text == "}":
            braces = max(braces - 1, 0)
        tokens.append(Token(kind, text, depth, braces > 0 or text == "}"))
    return tokens


class RecordExpander:
    """Inlines recording rules (``name{...}`` → ``(their expr)``) so their meaning counts.

    Built once per rule set: one alternation regex over all record names, so a server
    with thousands of rules is expanded in one pass per level, not one pass per name.
    """

    def __init__(self, records: dict[str, str], depth: int = 3) -> None:
        self.records = {k: v for k, v in records.items() if k}
        self.depth = depth
        names = sorted(self.records, key=len, reverse=True)
        self.pattern = (
            re.compile(r"(?<![\w:\"'])(" + "|".join(map(re.escape, names)) + r")(\{[^}]*\})?(?![\w:(])")
            if names else None
        )

    def expand(self, expr: str) -> str:
        if self.pattern is None:
            return expr
        for _ in range(self.depth):
            new = self.pattern.sub(lambda m: f"({self.records[m.group(1)]})", expr)
            if new == expr:
                break
            expr = new
        return expr


def expand_records(expr: str, records: dict[str, str], depth: int = 3) -> str:
    """One-off form of `RecordExpander`."""
    return RecordExpander(records, depth).expand(expr)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return body if text.startswith("`") else bytes(body, "utf-8").decode("unicode_escape")


def _is_5xx(op: str, value: str) -> bool:
    """True when a status matcher selects the 5xx class (500 and 503, not 200)."""
    try:
        if op == "=~":
            rx = re.compile(value)
            hits = bool(rx.fullmatch("500") and rx.fullmatch("503")) or bool(rx.fullmatch("5xx"))
            return hits and not rx.fullmatch("200")
    except re.error:
        return False
    return op == "=" and value.lower() in ("5xx", "5..")


@dataclass
class Selector:
    """One request-counter selector in an expression and whether it picks only 5xx."""

    name: str
    five_xx: bool
    index: int


def counter_selectors(tokens: list[Token], counters: tuple[str, ...] = REQUEST_COUNTERS) -> list[Selector]:
    found: list[Selector] = []
    for i, tok in enumerate(tokens):
        if tok.kind != "ident" or tok.in_braces or tok.text not in counters:
            continue
        five = False
        if i + 1 < len(tokens) and tokens[i + 1].text == "{":
            j = i + 2
            while j + 2 < len(tokens) and tokens[j].text != "}":
                label, op, value = tokens[j], tokens[j + 1], tokens[j + 2]
                if label.text in STATUS_LABELS and value.kind == "string" and _is_5xx(op.text, _unquote(value.text)):
                    five = True
                j += 1
        found.append(Selector(tok.text, five, i))
    return found


_ARITH = re.compile(r"^[\d.eE+\-*/() ]+$")


def constant(tokens: list[Token]) -> float | None:
    """The value of a constant arithmetic operand (``14.4 * 0.001``), else None."""
    text = " ".join(t.text for t in tokens if t.text != "bool")
    if not text or not _ARITH.match(text) or not any(t.kind == "number" for t in tokens):
        return None
    try:
        value = eval(compile(text, "<threshold>", "eval"), {"__builtins__": {}}, {})  # digits/operators only
    except (SyntaxError, ZeroDivisionError, TypeError, ValueError):
        return None
    return float(value) if isinstance(value, int | float) else None


@dataclass
class Comparison:
    """An error ratio compared against a constant: what the alert fires on."""

    threshold: float  # as a fraction (percent expressions are scaled back)
    windows: list[float]
    text: str


@dataclass
class Analysis:
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def windows(self) -> set[float]:
        return {w for c in self.comparisons for w in c.windows}

    @property
    def tightest(self) -> float | None:
        return min((c.threshold for c in self.comparisons), default=None)


def _operand_bounds(tokens: list[Token], at: int) -> tuple[int, int]:
    """Start (inclusive) of the left operand and end (exclusive) of the right one."""
    depth = tokens[at].depth
    start = at
    while start > 0:
        prev = tokens[start - 1]
        if prev.depth < depth or (prev.depth == depth and prev.text == "(" and not prev.in_braces):
            break
        if prev.depth == depth and (prev.text in SET_OPS or (prev.text in COMPARISONS and not prev.in_braces)):
            break
        start -= 1
    end = at + 1
    while end < len(tokens):
        tok = tokens[end]
        if tok.depth < depth or (tok.depth == depth and tok.text == ")" and not tok.in_braces):
            break
        if tok.depth == depth and (tok.text in SET_OPS or (tok.text in COMPARISONS and not tok.in_braces)):
            break
        end += 1
    return start, end


def _ratio_scale(left: list[Token]) -> tuple[bool, float, str]:
    """Whether ``left`` is 5xx/total, the factor it is scaled by (100 for percent) and why not."""
    divisions = [i for i, t in enumerate(left) if t.text == "/" and not t.in_braces]
    if not divisions:
        return False, 1.0, "no division: not a ratio"
    split = min(divisions, key=lambda i: left[i].depth)
    depth = left[split].depth
    lo = split
    while lo > 0 and not (left[lo - 1].depth < depth or (left[lo - 1].text == "(" and left[lo - 1].depth == depth)):
        lo -= 1
    hi = split + 1
    while hi < len(left) and not (left[hi].depth < depth or (left[hi].text == ")" and left[hi].depth == depth)):
        hi += 1
    numerator = counter_selectors(left[lo:split])
    denominator = counter_selectors(left[split + 1:hi])
    if not any(s.five_xx for s in numerator):
        return False, 1.0, "numerator does not select 5xx responses of a request counter"
    if not any(not s.five_xx for s in denominator):
        return False, 1.0, "denominator is not all requests"
    scale = 1.0
    for i, t in enumerate(left):
        if t.text == "*" and not t.in_braces:
            around = [left[j] for j in (i - 1, i + 1) if 0 <= j < len(left)]
            if any(a.kind == "number" and float(a.text) == 100 for a in around):
                scale = 100.0
    return True, scale, ""


_WINDOW = re.compile(r"\[([^\]:]+)(?::[^\]]*)?\]")


def _windows(tokens: list[Token]) -> list[float]:
    out: list[float] = []
    for t in tokens:
        if t.kind == "duration":
            match = _WINDOW.fullmatch(t.text)
            if match:
                try:
                    out.append(parse_duration(match.group(1).strip()))
                except ValueError:
                    continue
    return out


def analyse(expr: str, records: dict[str, str] | RecordExpander | None = None) -> Analysis:
    """Every error-ratio-versus-constant comparison in an alert expression."""
    result = Analysis()
    expander = records if isinstance(records, RecordExpander) else RecordExpander(records or {})
    tokens = tokenize(expander.expand(expr))
    for i, tok in enumerate(tokens):
        if tok.text not in COMPARISONS or tok.in_braces:
            continue
        start, end = _operand_bounds(tokens, i)
        left, right = tokens[start:i], tokens[i + 1:end]
        if right and right[0].text == "bool":
            right = right[1:]
        if tok.text in ("<", "<="):
            left, right = right, left  # "0.01 < ratio" reads as "ratio > 0.01"
        threshold = constant(right)
        ok, scale, why = _ratio_scale(left)
        if not ok:
            result.notes.append(why)
            continue
        if threshold is None:
            result.notes.append("error ratio is not compared against a constant threshold")
            continue
        text = " ".join(t.text for t in tokens[start:end])
        result.comparisons.append(Comparison(threshold / scale, _windows(left), text))
    if not result.comparisons and not result.notes:
        result.notes.append("no comparison against a threshold")
    return result
