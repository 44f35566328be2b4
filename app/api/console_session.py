"""Browser sessions for the console: the refresh token lives in a cookie the page cannot read.

``POST /v1/auth/session`` signs in with a username and password and sets the refresh token as an
``HttpOnly``, ``SameSite=Strict`` cookie scoped to ``/v1/auth`` (``Secure`` unless the browser is
on this machine over plain HTTP, as in development); the short-lived access token is returned in
the body and kept only in the page's memory. It also sets the browser's device cookie for the
account (``app.identity.device_cookies``, same attributes, ``signin_device_days``): the next
sign-in from this browser is judged on its own failures, never kept out by an attacker's
elsewhere. A throttled sign-in answers 429 ``/problems/rate-limited`` with ``retry_after``
(seconds) in the body and ``Retry-After``. ``/refresh`` rotates the cookie and returns a new
access token; ``/signout`` revokes the whole sign-in. The same token service as the OAuth2
endpoint does the work, so rotation and replay detection are the same.

The cookie is sent by the browser on its own, so every cookie route is guarded against cross-site
requests: it needs the ``X-Sigap-Console`` header (which a foreign page cannot add without a CORS
preflight, which this server never grants) and, when the browser sends ``Origin``, this site's own
origin or one in ``SIGAP_SECURITY__ALLOWED_ORIGINS``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.api.deps import Context, Session, error_responses
from app.api.problems import problem_response
from app.errors import Forbidden, RateLimited, Unauthenticated, ValidationFailed
from app.identity import device_cookies
from app.identity.staff import SignInDevice
from app.identity.throttle import SignInPolicy
from app.identity.tokens import (
    OAuthFailure,
    password_grant,
    refresh_grant,
    revoke_refresh_token,
)
from app.ratelimit import network_key
from app.realtime.presence import sign_out_presence
from app.schemas.common import StrictInput

router = APIRouter(prefix="/v1/auth/session", tags=["auth"])
COOKIE = "sigap_refresh"
COOKIE_PATH = "/v1/auth"
CSRF_HEADER = "x-sigap-console"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_ERRORS = error_responses(Unauthenticated, Forbidden, ValidationFailed, RateLimited)
_GUARD_HEADER: dict[str, Any] = {
    "name": "X-Sigap-Console",
    "in": "header",
    "required": True,
    "description": "The cross-site request guard: `1`. Without it the answer is 403.",
    "schema": {"type": "string", "enum": ["1"]},
}
_SESSION_COOKIE: dict[str, Any] = {
    "name": COOKIE,
    "in": "cookie",
    "required": False,
    "description": "The refresh token, set by signing in; the browser sends it by itself.",
    "schema": {"type": "string"},
}
# The guard and the cookie are read from the request, not as parameters (a missing guard is a
# 403, not a 422), so they are described here for the OpenAPI document.
_BROWSER: dict[str, Any] = {"parameters": [_GUARD_HEADER]}
_BROWSER_WITH_COOKIE: dict[str, Any] = {"parameters": [_GUARD_HEADER, _SESSION_COOKIE]}


class SessionSignIn(StrictInput):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=1024)
    unlock_code: str | None = Field(
        None,
        max_length=32,
        description=(
            "A one-time unlock code from a supervisor (`POST /v1/users/{id}/sign-in-unlock`): "
            "the way in from a new device while the account's unknown-devices lane is locked"
        ),
    )


class SessionToken(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")


def _is_loopback(host: str) -> bool:
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ip_address(name).is_loopback
    except ValueError:
        return False


def _check_browser_request(request: Request, context: Context) -> None:
    """CSRF guard for the routes the cookie authenticates."""
    if request.headers.get(CSRF_HEADER) != "1":
        raise Forbidden(f"Console session routes need the header {CSRF_HEADER}: 1.")
    origin = request.headers.get("origin")
    if origin is None:
        return
    if origin in context.settings.security.allowed_origins:
        return
    if urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden("This request comes from another site.")


def _secure(request: Request) -> bool:
    """``Secure`` unless the browser is on this machine over plain HTTP (development)."""
    return not (request.url.scheme == "http" and _is_loopback(request.headers.get("host", "")))


def _answer(
    request: Request, context: Context, access: str, expires_in: int, refresh: str
) -> JSONResponse:
    response = JSONResponse(
        SessionToken(access_token=access, expires_in=expires_in).model_dump(), headers=_NO_STORE
    )
    response.set_cookie(
        COOKIE,
        refresh,
        max_age=context.settings.security.refresh_token_ttl_s,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


def _forget(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")


@router.post(
    "",
    summary="Sign in to the console (refresh token in an HttpOnly cookie)",
    response_model=SessionToken,
    responses=_ERRORS,
    openapi_extra=_BROWSER,
)
async def sign_in(
    body: SessionSignIn, request: Request, session: Session, context: Context
) -> JSONResponse:
    _check_browser_request(request, context)
    now = context.clock.now()
    key = device_cookies.device_key(context.settings.effective_secret_key)
    try:
        tokens = await password_grant(
            session,
            username=body.username,
            password=body.password,
            # The same throttle as the OAuth2 endpoint: a browser is no way around it.
            network=network_key(request.client.host if request.client else None),
            hasher=context.hasher,
            policy=SignInPolicy.from_settings(context.settings.security),
            signer=context.signer,
            refresh_ttl=timedelta(seconds=context.settings.security.refresh_token_ttl_s),
            now=now,
            device=SignInDevice(key, cookies=request.cookies, unlock_code=body.unlock_code),
        )
    except OAuthFailure as failure:
        await session.commit()  # the failed attempt counts towards the back-off
        if failure.status == 429:
            wait = failure.retry_after_s or 1
            raise RateLimited(
                failure.description,
                extra={"retry_after": wait},  # the console says "try again in N s"
                headers={"Retry-After": str(wait)},
            ) from failure
        raise Unauthenticated(failure.description) from failure
    await session.commit()
    assert tokens.refresh_token is not None and tokens.device_token is not None
    response = _answer(
        request, context, tokens.access_token, tokens.expires_in, tokens.refresh_token
    )
    # This browser signed in to the account: from now on it is a known device (the cookie
    # names the account; the page never reads it).
    user_id = uuid.UUID(tokens.device_token.split(".", 1)[0])
    response.set_cookie(
        device_cookies.cookie_name(user_id),
        tokens.device_token,
        max_age=context.settings.security.signin_device_days * 86400,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


@router.post(
    "/refresh",
    summary="A fresh access token for the console (rotates the cookie)",
    description="204 without a body when this browser holds no session cookie at all.",
    response_model=SessionToken,
    responses={204: {"description": "No session in this browser"}, **_ERRORS},
    openapi_extra=_BROWSER_WITH_COOKIE,
)
async def refresh(request: Request, session: Session, context: Context) -> Response:
    _check_browser_request(request, context)
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return Response(status_code=204, headers=_NO_STORE)  # nobody signed in: nothing to do
    try:
        tokens = await refresh_grant(
            session,
            refresh_token=cookie,
            signer=context.signer,
            refresh_ttl=timedelta(seconds=context.settings.security.refresh_token_ttl_s),
            now=context.clock.now(),
        )
    except OAuthFailure as failure:
        await session.commit()  # a detected replay must stay revoked
        response = problem_response(request, Unauthenticated(failure.description))
        response.headers.update(_NO_STORE)
        _forget(response)
        return response
    await session.commit()
    assert tokens.refresh_token is not None
    return _answer(request, context, tokens.access_token, tokens.expires_in, tokens.refresh_token)


@router.post(
    "/signout",
    status_code=204,
    summary="Sign out of the console: revokes the sign-in and clears the cookie",
    responses=_ERRORS,
    openapi_extra=_BROWSER_WITH_COOKIE,
)
async def sign_out(request: Request, session: Session, context: Context) -> Response:
    _check_browser_request(request, context)
    cookie = request.cookies.get(COOKIE)
    if cookie:
        now = context.clock.now()
        # Presence ends with the sign-in, not a grace later (app/realtime/presence.py).
        await sign_out_presence(session, refresh_token=cookie, at=now)
        await revoke_refresh_token(session, refresh_token=cookie, now=now)
        await session.commit()
    response = Response(status_code=204, headers=_NO_STORE)
    _forget(response)
    return response
