"""Personal data never reaches the logs: a failing statement's parameters are hidden."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.context import AppContext

CANARY = "CANARY-0812-5555-1234"


async def test_a_failing_statement_never_logs_its_personal_values(
    context: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("app.api.problems")
    statement = text("INSERT INTO staff_user (username, display_name) VALUES (:u, :d)")
    async with context.sessions() as session:
        with pytest.raises(DBAPIError) as failure:  # id and role are NOT NULL: it fails
            await session.execute(statement, {"u": CANARY, "d": CANARY})
        # What the error handler does with an unexpected error: the full traceback to the log.
        log.exception("unexpected error", exc_info=failure.value)
    assert "parameters hidden" in str(failure.value)
    assert CANARY not in str(failure.value)
    assert CANARY not in caplog.text


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    from app import logredact

    logredact.install()
    caplog.set_level(logging.DEBUG)
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog


def test_a_url_token_never_reaches_the_log_at_debug(debug_logs: pytest.LogCaptureFixture) -> None:
    """The websockets library logs a handshake at DEBUG through uvicorn's logger, request line
    and headers; uvicorn's access log and its websocket lines carry the path with its query."""
    from websockets.server import ServerProtocol

    protocol = ServerProtocol(logger=logging.getLogger("uvicorn.error"))  # as uvicorn builds it
    protocol.receive_data(
        f"GET /v1/stream?token={CANARY}&after=1 HTTP/1.1\r\n"
        "Host: sigap.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Cookie: sigap_refresh={CANARY}\r\nAuthorization: Bearer {CANARY}\r\n\r\n".encode()
    )
    protocol.send_response(protocol.accept(protocol.events_received()[0]))  # type: ignore[arg-type]
    access = logging.getLogger("uvicorn.access")
    access.info(
        '%s - "%s %s HTTP/%s" %d', "203.0.113.7:4000", "GET", f"/v1/x?t={CANARY}", "1.1", 200
    )
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]', "203.0.113.7:4000", f"/v1/stream?token={CANARY}"
    )
    logging.getLogger("uvicorn.asgi").log(
        5, "%s [%d] Started scope=%s", "x", 1, {"type": "http", "query_string": CANARY.encode()}
    )
    assert "GET /v1/stream" in debug_logs.text  # the handshake was logged, without its secrets
    assert "/v1/x" in debug_logs.text
    assert CANARY not in debug_logs.text
