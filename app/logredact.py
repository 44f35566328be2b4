"""Keeping secrets out of logs: uvicorn logs a websocket's path *with its query string* when it
accepts or rejects it, so a client that wrongly put a token in the URL would leave it in the log.
The stream refuses such a connection; this filter makes sure the log never holds the token."""

from __future__ import annotations

import logging


class DropQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and "WebSocket" in str(record.msg):
            record.args = tuple(
                arg.split("?", 1)[0] if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


def install() -> None:
    """Attach the filter to uvicorn's loggers (idempotent; every worker calls it)."""
    for name in ("uvicorn.error", "uvicorn.access", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
            logger.addFilter(DropQueryStrings())
