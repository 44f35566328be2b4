"""Keeping secrets out of logs, whatever the log level.

uvicorn writes request paths *with their query strings*: the access log (``"GET /x?token=…"``),
a websocket's acceptance or refusal, and at DEBUG the websockets library writes the whole
handshake (``< GET /v1/stream?token=… HTTP/1.1`` and every header, the console's cookie too).
A client that wrongly put a credential in a URL would leave it in the log; the stream refuses
such a connection, and this filter makes sure no log keeps it: every query string is dropped
from every argument of every record that passes through uvicorn's and websockets' loggers and
the handlers of the root logger, and credential-bearing header values are replaced.

Sigap's own loggers log ``request.url.path`` (never the query) and go through the root
handlers, so they pass this filter too.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_QUERY = re.compile(r"(/[^\s?#\"']*)\?[^\s#\"']*")
"""``/path?anything`` up to whitespace or a quote: the query goes, the path stays."""
_SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "proxy-authorization", "sec-websocket-protocol"}
)
_HEADER_LINES = frozenset({"< %s: %s", "> %s: %s"})  # the websockets library's handshake lines
_SCOPE_SECRETS = ("query_string", "headers", "raw_path")  # uvicorn's TRACE logs whole scopes
REDACTED = "[redacted]"
_LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "uvicorn.asgi",
    "websockets",
    "websockets.server",
    "websockets.protocol",
)


def drop_query(value: str) -> str:
    return _QUERY.sub(r"\1", value) if "?" in value else value


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return drop_query(value)
    if isinstance(value, bytes) and b"?" in value:
        return drop_query(value.decode("latin-1")).encode("latin-1")
    if isinstance(value, dict) and any(key in value for key in _SCOPE_SECRETS):
        return {k: (REDACTED if k in _SCOPE_SECRETS else _clean(v)) for k, v in value.items()}
    return value


class DropQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            if (
                record.msg in _HEADER_LINES
                and len(args) == 2
                and str(args[0]).lower() in _SECRET_HEADERS
            ):
                args = (args[0], REDACTED)
            record.args = tuple(_clean(arg) for arg in args)
        elif isinstance(args, dict):
            record.args = _clean(args)
        if isinstance(record.msg, str):
            record.msg = drop_query(record.msg)
        return True


def _attach(target: logging.Logger | logging.Handler) -> None:
    if not any(isinstance(f, DropQueryStrings) for f in target.filters):
        target.addFilter(DropQueryStrings())


def install() -> None:
    """Attach the filter to uvicorn's and websockets' loggers and to every handler already
    configured on them and on the root logger (idempotent; every worker calls it)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        _attach(logger)
        for handler in logger.handlers:
            _attach(handler)
    for handler in logging.getLogger().handlers:
        _attach(handler)
    if logging.lastResort is not None:
        _attach(logging.lastResort)
