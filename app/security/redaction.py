"""Keeping personal data out of database error messages, which end up in logs.

``hide_parameters=True`` on the engine keeps bound values out of SQLAlchemy's messages, but two
more paths print them: PostgreSQL's own ``DETAIL`` line ("Failing row contains (...)", "Key
(username)=(...) already exists"), which asyncpg folds into the error text, and aiosqlite's
debug log of every operation with its arguments. Both are closed here; the SQL text, the error
class, the constraint and column names stay, which is what an operator needs.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

_DETAIL = re.compile(r"^\s*DETAIL:.*$", re.MULTILINE)
REDACTED = "DETAIL: (hidden: it may hold personal data)"


def redact_detail(message: str) -> str:
    return _DETAIL.sub(REDACTED, message)


def hide_error_details(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "handle_error")
    def _redact(context: ExceptionContext) -> None:
        for error in (context.original_exception, context.sqlalchemy_exception):
            if error is None:
                continue
            error.args = tuple(
                redact_detail(a) if isinstance(a, str) else a for a in error.args
            )
        cause = context.original_exception.__cause__
        if cause is not None and getattr(cause, "detail", None):
            # asyncpg's own exception is printed in a traceback's chain with its ``detail``;
            # its other attributes (sqlstate, constraint_name) stay for code that reads them.
            setattr(cause, "detail", REDACTED.removeprefix("DETAIL: "))  # noqa: B010


def quiet_driver_logs() -> None:
    """aiosqlite logs each operation with its arguments at DEBUG: never below INFO."""
    driver = logging.getLogger("aiosqlite")
    if driver.level < logging.INFO:  # NOTSET included: it would inherit a DEBUG root
        driver.setLevel(logging.INFO)
