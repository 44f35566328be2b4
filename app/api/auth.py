"""OAuth2 token endpoint (RFC 6749), revocation (RFC 7009), sign-out and "who am I".

Errors here follow RFC 6749 (`{"error": "invalid_grant"}`), the one exception to problem+json.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from app.access import IntegratorPrincipal, StaffPrincipal, require_staff
from app.api.deps import Context, CurrentPrincipal, Session, error_responses
from app.audit import record
from app.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from app.identity import device_cookies
from app.identity.staff import SignInDevice, issue_unlock
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
from app.schemas.identity import OAuthError, PrincipalRead, SignInUnlockRead, TokenResponse

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
                        "device_token": {
                            "type": "string",
                            "description": (
                                "`password` grant: the `device_token` this app got with its "
                                "last sign-in to the account (or send it in `X-Sigap-Device`)"
                            ),
                        },
                        "unlock_code": {
                            "type": "string",
                            "description": "`password` grant: a supervisor's one-time unlock",
                        },
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
        'Password sign-in is throttled (docs/operators.md, "Sign-in throttling"), by lane. A '
        "device that signed in to the account before sends its `device_token` (returned by "
        "every successful `password` grant; form field `device_token` or header "
        "`X-Sigap-Device`): its failures count against it alone, so nobody elsewhere can keep "
        "it out. Devices without one share the account's unknown lane: after a few "
        "consecutive wrong passwords each next try waits 1 s, 2 s, 4 s ... at most 60 s, and "
        "after `SIGAP_SECURITY__SIGNIN_LOCKOUT_FAILURES` (10) the lane is locked for "
        "`SIGAP_SECURITY__SIGNIN_LOCKOUT_S` (15 min); a supervisor's one-time `unlock_code` "
        "or an admin's password reset is the way in from a new device then. Each network has "
        "a generous limit of unknown-device attempts per window. A throttled request gets "
        '`429` with `Retry-After` (seconds) and `{"error": "slow_down"}`. Unknown usernames '
        "are throttled exactly like known ones."
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
            device = SignInDevice(
                device_cookies.device_key(context.settings.effective_secret_key),
                token=form.get(device_cookies.FORM_FIELD)
                or request.headers.get(device_cookies.HEADER),
                cookies=request.cookies,
                unlock_code=form.get("unlock_code"),
            )
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
                device=device,
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


@router.post(
    "/users/{user_id}/sign-in-unlock",
    status_code=201,
    summary="A one-time sign-in unlock code for a staff member on a new device (supervisor)",
    description=(
        "For a counselor whose account's unknown-devices lane is locked (someone kept "
        "guessing its password) and who must sign in from a device she never used: she types "
        "the code beside her password, once, within `SIGAP_SECURITY__SIGNIN_UNLOCK_S` (1 h). "
        "It opens nothing without the right password, survives 5 wrong ones, and is shown "
        "only in this answer (stored as a digest). Audited (`staff.sign_in_unlock_issued`). "
        "Supervisors and admins; 404 for an unknown or disabled account."
    ),
    response_model=SignInUnlockRead,
    responses=error_responses(Unauthenticated, Forbidden, NotFound, ValidationFailed),
)
async def post_sign_in_unlock(
    user_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> SignInUnlockRead:
    staff = require_staff(principal, "supervisor", "admin")
    now = context.clock.now()
    code, unlock = await issue_unlock(
        session,
        user_id=user_id,
        issued_by=staff.user_id,
        policy=SignInPolicy.from_settings(context.settings.security),
        now=now,
    )
    record(
        session,
        principal=staff,
        action="staff.sign_in_unlock_issued",
        object_type="staff_user",
        object_id=user_id,
        at=now,
        detail={"unlock_id": str(unlock.id), "until": unlock.expires_at.isoformat()},
    )
    await session.commit()
    return SignInUnlockRead(user_id=user_id, code=code, expires_at=unlock.expires_at)
