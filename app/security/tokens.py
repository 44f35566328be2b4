"""Signed access tokens (JWT, HS256 pinned; iss, aud, exp, iat checked)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from app.config import Settings

_ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    """"staff:<uuid>" or "client:<uuid>"."""
    family_id: uuid.UUID | None
    scopes: tuple[str, ...]
    expires_at: datetime
    generation: str | None = None
    """An integrator token's client generation (``app.identity.integrators.token_generation``)."""


class TokenSigner:
    def __init__(self, settings: Settings) -> None:
        self._key = settings.effective_secret_key
        self._issuer = settings.security.token_issuer
        self._audience = settings.security.token_audience
        self.ttl = timedelta(seconds=settings.security.access_token_ttl_s)

    def issue(
        self,
        *,
        subject: str,
        now: datetime,
        family_id: uuid.UUID | None = None,
        scopes: tuple[str, ...] = (),
        generation: str | None = None,
    ) -> tuple[str, datetime]:
        expires = now + self.ttl
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()) - 5,
            "exp": int(expires.timestamp()),
            "jti": uuid.uuid4().hex,
        }
        if family_id is not None:
            claims["fam"] = str(family_id)
        if scopes:
            claims["scope"] = " ".join(scopes)
        if generation is not None:
            claims["gen"] = generation
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM), expires

    def verify(self, token: str, *, now: datetime) -> AccessClaims | None:
        """The claims of a valid token, or None (bad signature, algorithm, audience, expiry...)."""
        try:
            # Verify the signature and the audience with PyJWT, but expiry against our clock.
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": ["exp", "iat", "sub", "iss", "aud"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            return None
        exp = int(claims["exp"])
        if now.timestamp() >= exp or now.timestamp() < int(claims.get("nbf", 0)):
            return None
        family = claims.get("fam")
        return AccessClaims(
            subject=str(claims["sub"]),
            family_id=uuid.UUID(family) if family else None,
            scopes=tuple(str(claims.get("scope", "")).split()),
            expires_at=datetime.fromtimestamp(exp, tz=now.tzinfo),
            generation=str(claims["gen"]) if "gen" in claims else None,
        )

    def expiry(self, token: str) -> datetime | None:
        """When a correctly signed token expires (expired or not); None if it is not ours."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
            return datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            return None
