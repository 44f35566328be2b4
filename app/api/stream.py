"""``/v1/stream``: the live event feed for consoles, transit staff, integrators and phones.

The protocol (first-message auth, resume, close codes) is in ``app/realtime/connection.py`` and
``docs/stream.md``. ``POST /v1/stream/leave`` is the console's ``pagehide`` beacon.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response, WebSocket

from app.api.deps import Context, Session, error_responses
from app.errors import Unauthenticated
from app.realtime.connection import StreamConnection
from app.realtime.presence import page_closed

router = APIRouter(tags=["stream"])
BEACON_MAX_BYTES = 8192


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    await StreamConnection(websocket, websocket.app.state.context, websocket.app.state.hub).serve()


@router.post(
    "/v1/stream/leave",
    status_code=204,
    summary="The console's page is closing: end this session's presence and close its stream",
    description=(
        "Sent by the console with `navigator.sendBeacon` on `pagehide`, so a counselor who "
        "closes the page stops counting as present at once, even if the browser never gets "
        "the socket's close frame out. The body is `{\"token\": \"<access token>\"}`, sent "
        "as `application/json` or as the `text/plain` a beacon uses: the token in the body, "
        "never a cookie or the URL, so another site cannot forge it. Safe to send twice."
    ),
    responses=error_responses(Unauthenticated),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["token"],
                        "properties": {"token": {"type": "string"}},
                    },
                    "example": {"token": "<access token>"},
                },
            },
        }
    },
)
async def leave(request: Request, session: Session, context: Context) -> Response:
    token = _beacon_token(await request.body())
    if token is None or not await page_closed(
        session, token=token, signer=context.signer, now=context.clock.now()
    ):
        raise Unauthenticated("The beacon carries no valid access token.")
    await session.commit()
    return Response(status_code=204)


def _beacon_token(body: bytes) -> str | None:
    if len(body) > BEACON_MAX_BYTES:
        return None
    try:
        message = json.loads(body)
    except ValueError:
        return None
    token = message.get("token") if isinstance(message, dict) else None
    return token if isinstance(token, str) and token else None
