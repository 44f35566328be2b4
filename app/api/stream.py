"""``/v1/stream``: the live event feed for consoles, transit staff, integrators and phones.

The protocol (first-message auth, resume, close codes) is in ``app/realtime/connection.py`` and
``docs/stream.md``.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from app.realtime.connection import StreamConnection

router = APIRouter(tags=["stream"])


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    await StreamConnection(websocket, websocket.app.state.context, websocket.app.state.hub).serve()
