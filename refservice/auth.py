"""JWT issue and verification (guide 7.1 "JWT signature verification").

The verifier pins the one configured algorithm (so ``alg: none`` and HS/RS key confusion are
refused), requires ``exp``, ``iat``, ``sub``, ``sid`` and the issuer, and checks expiry. A token
also names its session; a logged-out session makes its token useless even before it expires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from refservice.settings import Settings


class AuthError(Exception):
    """The request's credentials are missing or not acceptable; the message says why."""


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    session_id: str


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self.algorithm = settings.jwt_algorithm
        self.issuer = settings.jwt_issuer
        self.ttl_s = settings.jwt_ttl_s
        if self.algorithm.startswith("HS"):
            if len(settings.jwt_secret) < 32:
                raise ValueError("jwt_secret must be at least 32 characters for HMAC tokens")
            self._sign_key: Any = settings.jwt_secret
            self._verify_key: Any = settings.jwt_secret
        else:
            if not settings.jwt_public_key:
                raise ValueError(f"{self.algorithm} needs jwt_public_key")
            self._sign_key = settings.jwt_private_key
            self._verify_key = settings.jwt_public_key

    def issue(self, username: str, role: str, session_id: str, ttl_s: int | None = None) -> str:
        if self._sign_key is None:
            raise AuthError("this service verifies tokens but has no private key to issue them")
        now = int(time.time())
        claims = {"sub": username, "role": role, "sid": session_id, "iss": self.issuer, "iat": now,
                  "exp": now + (ttl_s if ttl_s is not None else self.ttl_s)}
        return jwt.encode(claims, self._sign_key, algorithm=self.algorithm)

    def verify(self, token: str) -> dict[str, Any]:
        try:
            return jwt.decode(token, self._verify_key, algorithms=[self.algorithm], issuer=self.issuer,
                              options={"require": ["exp", "iat", "sub", "sid", "iss"]})
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise AuthError("token algorithm not accepted") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError("token signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("missing Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization must be 'Bearer <token>'")
    return token.strip()
