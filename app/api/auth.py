"""OAuth2 token endpoint (RFC 6749), revocation (RFC 7009), sign-out and "who am I".

Errors here follow RFC 6749 (`{"error": "invalid_grant"}`), the one exception to problem+json.
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from app.access import IntegratorPrincipal, StaffPrincipal, require_staff
from app.api.deps import Context, CurrentPrincipal, Session, error_responses
from app.errors import Forbidden, Unauthenticated
from app.identity.throttle import SignInPolicy
from app.identity.tokens import (
    OAuthFailure,
    client_credentials_grant,
    password_grant,
    refresh_grant,
    revoke_family,
    revoke_refresh_token,
)
from app.models import StaffUser
from app.ratelimit import network_key
from app.realtime.presence import sign_out_presence
from app.schemas.identity import OAuthError, PrincipalRead, TokenResponse

router = APIRouter(prefix="/v1", tags=["auth"])
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FORM = "application/x-www-form-urlencoded"
_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            _FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {
                            "type": "string",
                            "enum": ["password", "refresh_token", "client_credentials"],
                        },
                        "username": {"type": "string"},
                        "password": {"type": "string", "format": "password"},
                        "refresh_token": {"type": "string"},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string", "format": "password"},
                        "scope": {"type": "string"},
                    },
                },
                "example": {
                    "grant_type": "password",
                    "username": "konselor.gambir",
                    "password": "…",
                },
            }
        },
    }
}


def _oauth_error(failure: OAuthFailure) -> JSONResponse:
    headers = dict(_NO_STORE)
    if failure.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="sigap"'
    if failure.retry_after_s is not None:
        headers["Retry-After"] = str(failure.retry_after_s)
    return JSONResponse(
        {"error": failure.error, "error_description": failure.description},
        status_code=failure.status,
        headers=headers,
    )


async def _read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM:
        raise OAuthFailure("invalid_request", f"Send the parameters as {_FORM}.")
    form = await request.form()
    values: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise OAuthFailure("invalid_request", "Only text parameters are accepted.")
        if key in values:
            raise OAuthFailure("invalid_request", f"The parameter {key} is repeated.")
        values[key] = value
    return values


def _client_auth(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthFailure(
                "invalid_client", "Malformed Basic credentials.", status=401
            ) from exc
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise OAuthFailure("invalid_client", "Malformed Basic credentials.", status=401)
        return client_id, secret
    if "client_id" in form and "client_secret" in form:
        return form["client_id"], form["client_secret"]
    raise OAuthFailure("invalid_client", "Client authentication is required.", status=401)


def _require(form: dict[str, str], *names: str) -> list[str]:
    missing = [n for n in names if not form.get(n)]
    if missing:
        raise OAuthFailure("invalid_request", f"Missing parameter: {', '.join(missing)}.")
    return [form[n] for n in names]


@router.post(
    "/auth/token",
    summary="Get an access token (OAuth2)",
    description=(
        "`password` and `refresh_token` grants for staff (access token about 10 minutes, rotating "
        "refresh token); `client_credentials` for integrators (HTTP Basic or form client "
        "authentication). Errors follow RFC 6749 section 5.2.\n\n"
        'Password sign-in is throttled (docs/operators.md, "Sign-in throttling"): after a few '
        "consecutive wrong passwords for an account each next try waits 1 s, 2 s, 4 s ... at "
        "most 60 s (never a lockout; a correct password after the wait works), and each network "
        "has a generous limit of password attempts per window. A throttled request gets `429` "
        'with `Retry-After` (seconds) and `{"error": "slow_down"}`. Unknown usernames are '
        "throttled exactly like known ones."
    ),
    openapi_extra=_FORM_BODY,
    response_model=TokenResponse,
    responses={
        400: {"model": OAuthError},
        401: {"model": OAuthError},
        429: {
            "model": OAuthError,
            "description": "Throttled (`slow_down`): retry after `Retry-After` seconds.",
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before the next try.",
                    "schema": {"type": "integer"},
                }
            },
        },
    },
)
async def token(request: Request, session: Session, context: Context) -> JSONResponse:
    now = context.clock.now()
    refresh_ttl = timedelta(seconds=context.settings.security.refresh_token_ttl_s)
    try:
        form = await _read_form(request)
        grant = form.get("grant_type")
        if grant == "password":
            username, password = _require(form, "username", "password")
            result = await password_grant(
                session,
                username=username,
                password=password,
                network=network_key(request.client.host if request.client else None),
                hasher=context.hasher,
                policy=SignInPolicy.from_settings(context.settings.security),
                signer=context.signer,
                refresh_ttl=refresh_ttl,
                now=now,
            )
        elif grant == "refresh_token":
            (refresh,) = _require(form, "refresh_token")
            result = await refresh_grant(
                session,
                refresh_token=refresh,
                signer=context.signer,
                refresh_ttl=refresh_ttl,
                now=now,
            )
        elif grant == "client_credentials":
            client_id, secret = _client_auth(request, form)
            scope = form.get("scope")
            result = await client_credentials_grant(
                session,
                client_id=client_id,
                client_secret=secret,
                requested_scopes=scope.split() if scope else None,
                signer=context.signer,
                now=now,
            )
        elif grant is None:
            raise OAuthFailure("invalid_request", "Missing parameter: grant_type.")
        else:
            raise OAuthFailure(
                "unsupported_grant_type", f"The grant type {grant!r} is not supported."
            )
    except OAuthFailure as failure:
        await session.commit()  # a detected refresh-token replay must stay revoked
        return _oauth_error(failure)
    await session.commit()
    return JSONResponse(result.model_dump(exclude_none=True), headers=_NO_STORE)


@router.post(
    "/auth/revoke",
    summary="Revoke a refresh token (RFC 7009)",
    description="Signs the whole session out. Unknown tokens are not an error.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                _FORM: {
                    "schema": {
                        "type": "object",
                        "required": ["token"],
                        "properties": {"token": {"type": "string"}},
                    }
                }
            },
        }
    },
    responses={
        200: {
            "description": "Revoked (or never existed): an empty JSON object",
            "content": {
                "application/json": {
                    "schema": {"type": "object", "additionalProperties": False},
                    "example": {},
                }
            },
        },
        400: {"model": OAuthError},
    },
)
async def revoke(request: Request, session: Session, context: Context) -> Response:
    try:
        form = await _read_form(request)
        (token_value,) = _require(form, "token")
    except OAuthFailure as failure:
        return _oauth_error(failure)
    now = context.clock.now()
    await sign_out_presence(session, refresh_token=token_value, at=now)
    await revoke_refresh_token(session, refresh_token=token_value, now=now)
    await session.commit()
    # RFC 7009 fixes the status, not the body: an empty JSON object, typed, so every client
    # (and the published schema) knows what a 200 holds.
    return JSONResponse({}, headers=_NO_STORE)


@router.post(
    "/auth/logout",
    status_code=204,
    summary="Sign out (revokes this session's refresh tokens and access)",
    responses=error_responses(Unauthenticated, Forbidden),
)
async def logout(session: Session, context: Context, principal: CurrentPrincipal) -> Response:
    staff = require_staff(principal)
    if staff.family_id is not None:
        now = context.clock.now()
        await sign_out_presence(session, staff_id=staff.user_id, at=now)
        await revoke_family(session, family_id=staff.family_id, now=now)
        await session.commit()
    return Response(status_code=204)


@router.get(
    "/me",
    summary="Who the token belongs to",
    response_model=PrincipalRead,
    responses=error_responses(Unauthenticated, Forbidden),
)
async def me(session: Session, principal: CurrentPrincipal) -> PrincipalRead:
    if isinstance(principal, StaffPrincipal):
        user = await session.scalar(select(StaffUser).where(StaffUser.id == principal.user_id))
        return PrincipalRead(
            kind="staff",
            id=principal.user_id,
            name=(user.display_name if user else None) or principal.username,
            role=principal.role,
            unit_code=principal.unit_code,
        )
    if isinstance(principal, IntegratorPrincipal):
        return PrincipalRead(
            kind="integrator",
            id=principal.client_id,
            name=principal.name,
            scopes=sorted(principal.scopes),
        )
    raise Forbidden("Devices use /v1/devices/me.")
