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
