"""OAuth2 grants (RFC 6749): password and refresh_token (staff), client_credentials (integrators).

Refresh tokens rotate: each use returns a new one and retires the old. Presenting a retired token
again means it was stolen or replayed, so the whole sign-in session (its family) is revoked.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity import device_cookies
from app.identity.integrators import token_generation
from app.identity.staff import SignInDevice, authenticate_password
from app.identity.throttle import SignInPolicy, SignInThrottled
from app.models import IntegratorClient, RefreshToken, StaffUser
from app.schemas.identity import TokenResponse
from app.security.credentials import REFRESH_PREFIX, digest, new_secret
from app.security.hashing import SecretHasher
from app.security.tokens import TokenSigner


@dataclass
class OAuthFailure(Exception):
    error: str
    description: str
    status: int = 400
    retry_after_s: int | None = None


THROTTLED_ERROR = "slow_down"
"""The RFC 6749 ``error`` of a throttled token request (429). RFC 6749 section 5.2 defines no
"too many requests" code; ``slow_down`` is the one registered for the token endpoint (RFC 8628,
OAuth Extensions Error Registry) and means exactly "wait, then retry"; ``Retry-After`` says how
long. ``temporarily_unavailable`` would claim an outage, and ``invalid_grant`` a wrong password
that may not be wrong."""


async def password_grant(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    network: str,
    hasher: SecretHasher,
    policy: SignInPolicy,
    signer: TokenSigner,
    refresh_ttl: timedelta,
    now: datetime,
    device: SignInDevice | None = None,
) -> TokenResponse:
    """``device``: the device token presented and the key to check it (and to issue a new one
    with the answer, ``device_token``), or a one-time unlock code (``app.identity.throttle``)."""
    try:
        user = await authenticate_password(
            session,
            username=username,
            password=password,
            network=network,
            hasher=hasher,
            policy=policy,
            now=now,
            device=device,
        )
    except SignInThrottled as throttled:
        raise OAuthFailure(
            THROTTLED_ERROR,
            f"{throttled.reason} Retry in {throttled.retry_after_s} seconds.",
            status=429,
            retry_after_s=throttled.retry_after_s,
        ) from throttled
    if user is None:
        raise OAuthFailure(
            "invalid_grant", "Wrong username or password, or the account is disabled."
        )
    tokens = await _issue_staff_tokens(
        session, user=user, family_id=uuid.uuid4(), signer=signer, refresh_ttl=refresh_ttl, now=now
    )
    if device is not None:  # this device signed in: known from now on
        tokens.device_token = device_cookies.issue(
            device.key, user_id=user.id, password_hash=user.password_hash, now=now
        )
    return tokens


async def refresh_grant(
    session: AsyncSession,
    *,
    refresh_token: str,
    signer: TokenSigner,
    refresh_ttl: timedelta,
    now: datetime,
) -> TokenResponse:
    token = await session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == digest(refresh_token))
        .with_for_update()
    )
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise OAuthFailure("invalid_grant", "The refresh token is unknown, expired or revoked.")
    if token.used_at is not None:
        await revoke_family(session, family_id=token.family_id, now=now)
        raise OAuthFailure("invalid_grant", "The refresh token was already used; signed out.")
    user = await session.get(StaffUser, token.user_id)
    if user is None or user.disabled_at is not None:
        raise OAuthFailure("invalid_grant", "The account is disabled.")
    token.used_at = now
    return await _issue_staff_tokens(
        session,
        user=user,
        family_id=token.family_id,
        signer=signer,
        refresh_ttl=refresh_ttl,
        now=now,
    )


async def client_credentials_grant(
    session: AsyncSession,
    *,
    client_id: str,
    client_secret: str,
    requested_scopes: list[str] | None,
    signer: TokenSigner,
    now: datetime,
) -> TokenResponse:
    """Not throttled: the secret is 256 random bits checked by one SHA-256, so it can neither be
    guessed nor made to cost the server anything (only human-chosen passwords are)."""
    client = await session.scalar(
        select(IntegratorClient).where(IntegratorClient.client_id == client_id)
    )
    if (
        client is None
        or client.disabled_at is not None
        or not hmac.compare_digest(client.secret_hash, digest(client_secret))
    ):
        raise OAuthFailure("invalid_client", "Unknown client or wrong secret.", status=401)
    granted = set(client.scopes)
    scopes = granted if requested_scopes is None else set(requested_scopes)
    if not scopes <= granted:
        raise OAuthFailure("invalid_scope", "A requested scope was not granted to this client.")
    token, expires = signer.issue(
        subject=f"client:{client.id}",
        now=now,
        scopes=tuple(sorted(scopes)),
        generation=token_generation(client),
    )
    return TokenResponse(
        access_token=token,
        expires_in=int((expires - now).total_seconds()),
        scope=" ".join(sorted(scopes)),
    )


async def revoke_family(session: AsyncSession, *, family_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_refresh_token(session: AsyncSession, *, refresh_token: str, now: datetime) -> None:
    """RFC 7009: revoking an unknown token is not an error."""
    family = await session.scalar(
        select(RefreshToken.family_id).where(RefreshToken.token_hash == digest(refresh_token))
    )
    if family is not None:
        await revoke_family(session, family_id=family, now=now)


async def family_is_active(session: AsyncSession, family_id: uuid.UUID) -> bool:
    """A family is active while it has an unrevoked token (signing out revokes them all)."""
    found = await session.scalar(
        select(RefreshToken.id)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .limit(1)
    )
    return found is not None


async def _issue_staff_tokens(
    session: AsyncSession,
    *,
    user: StaffUser,
    family_id: uuid.UUID,
    signer: TokenSigner,
    refresh_ttl: timedelta,
    now: datetime,
) -> TokenResponse:
    refresh = new_secret(REFRESH_PREFIX)
    session.add(
        RefreshToken(
            id=uuid.uuid4(),
            token_hash=digest(refresh),
            family_id=family_id,
            user_id=user.id,
            issued_at=now,
            expires_at=now + refresh_ttl,
        )
    )
    await session.flush()
    access, expires = signer.issue(subject=f"staff:{user.id}", now=now, family_id=family_id)
    return TokenResponse(
        access_token=access,
        expires_in=int((expires - now).total_seconds()),
        refresh_token=refresh,
    )
