"""Readable reasons for failed I/O, and bounded, clean text from servers we do not control.

Collectors talk to systems that fail in many ways; the user must read the *real* cause, not
the last exception some library raised while cleaning up ("no running event loop"), nor an
errno translated out of context ("Operation not permitted" for an untrusted certificate).
`describe_failure` walks an exception's cause/context chain and names the first cause it
knows (TLS, refused, reset, closed, unknown host, timeout, protocol garbage), falling back
to the outermost meaningful message. `server_text` bounds and cleans any text a server
supplies (error bodies, status messages) before it enters a message or a snapshot: a hostile
or broken server must not fill the store, break a report's layout or smuggle terminal escapes.
"""

from __future__ import annotations

import re
import socket
import ssl

MAX_SERVER_TEXT = 300
"""Characters of server-supplied text kept in a message or snapshot field."""
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NOISE = ("no running event loop", "event loop is closed", "cannot schedule new futures")
_TLS_WORDS = ("certificate verify failed", "certificate_verify_failed", "wrong version number", "sslv3_alert",
              "tlsv1_alert", "ssl:", "handshake failure")
_PROTOCOL_NAMES = ("ProtocolError", "InvalidResponse", "JSONDecodeError", "InterfaceError", "DecodeError",
                   "LocalProtocolError", "IncompleteRead", "BadStatusLine", "ResponseError")


def server_text(text: object, limit: int = MAX_SERVER_TEXT) -> str:
    """One clean line of at most ``limit`` characters (terminal escapes and controls removed)."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    clean = _CONTROLS.sub(" ", _ESCAPES.sub("", str(text)))
    clean = " ".join(clean.split())
    if len(clean) > limit:
        clean = f"{clean[: limit - 1].rstrip()}… ({len(clean) - limit + 1} more characters)"
    return clean


def exception_chain(exc: BaseException, limit: int = 16) -> list[BaseException]:
    """``exc`` and its causes/contexts, outermost first, without cycles."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < limit and not any(current is seen for seen in chain):
        chain.append(current)
        # urllib3 keeps the underlying error in ``reason`` (MaxRetryError) or in its args.
        wrapped = getattr(current, "reason", None)
        if not isinstance(wrapped, BaseException):
            wrapped = next((a for a in getattr(current, "args", ()) if isinstance(a, BaseException)), None)
        current = current.__cause__ or wrapped or current.__context__
    return chain


def _message(exc: BaseException) -> str:
    text = server_text(exc, 200)
    if isinstance(exc, OSError) and exc.strerror and text.startswith("["):
        text = server_text(exc.strerror, 200)  # "[Errno 104] Connection reset by peer" → the words
    return text


def _tls(chain: list[BaseException]) -> str | None:
    for exc in chain:
        if isinstance(exc, ssl.SSLCertVerificationError):
            detail = exc.verify_message or exc.reason or "not trusted"
            return f"TLS certificate verification failed ({server_text(detail, 120)})"
    for exc in chain:
        if isinstance(exc, ssl.SSLError):
            return f"TLS handshake failed ({server_text(exc.reason or exc.strerror or exc, 120)})"
    for exc in chain:
        lowered = str(exc).lower()
        if any(word in lowered for word in _TLS_WORDS):
            return f"TLS error ({server_text(exc, 160)})"
    return None


def _network(chain: list[BaseException]) -> str | None:
    kinds: tuple[tuple[type[BaseException], str], ...] = (
        (ConnectionRefusedError, "connection refused"),
        (ConnectionResetError, "connection reset by peer"),
        (BrokenPipeError, "connection closed by the server"),
        (ConnectionAbortedError, "connection closed by the server"),
        (socket.gaierror, "unknown host"),
        (TimeoutError, "timed out"),
    )
    for kind, words in kinds:
        if any(isinstance(exc, kind) for exc in chain):
            return words
    return None


def describe_failure(exc: BaseException, protocol: str = "") -> str:
    """The real cause of a failed exchange, as one bounded line.

    ``protocol`` ("HTTP", "Redis", ...) names what a garbled answer failed to be.
    """
    chain = exception_chain(exc)
    named = _tls(chain) or _network(chain)
    if named:
        return named
    for current in reversed(chain):  # the innermost protocol error holds the server's actual bytes
        if any(name in type(current).__name__ for name in _PROTOCOL_NAMES):
            what = f"a valid {protocol} answer" if protocol else "a valid answer"
            detail = _message(current)
            return f"the server's reply is not {what}" + (f" ({detail})" if detail else "")
    for current in chain:  # the outermost message that is not clean-up noise
        text = _message(current)
        if text and not any(noise in text.lower() for noise in _NOISE):
            return text
    meaningful = [c for c in chain if not isinstance(c, RuntimeError)]
    return type((meaningful or chain)[0]).__name__
