"""Opaque cursors for keyset pagination (``limit`` at most 100)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from app.errors import ValidationFailed

MAX_LIMIT = 100


@dataclass(frozen=True)
class Cursor:
    value: str

    @classmethod
    def of(cls, at: datetime, row_id: uuid.UUID) -> Cursor:
        """The position after a row in a (time, id) descending listing."""
        return cls(f"{at.isoformat()}|{row_id}")

    def time_and_id(self) -> tuple[datetime, uuid.UUID]:
        """The (time, id) this cursor points after; a tampered cursor is a 422, not a 500."""
        stamp, _, row_id = self.value.partition("|")
        try:
            at, parsed = datetime.fromisoformat(stamp), uuid.UUID(row_id)
        except ValueError as exc:
            raise _invalid() from exc
        if at.tzinfo is None:
            raise _invalid()
        return at, parsed

    def encode(self) -> str:
        raw = json.dumps({"v": self.value}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None) -> Cursor | None:
        if not token:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            return cls(str(data["v"]))
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise _invalid() from exc


def _invalid() -> ValidationFailed:
    return ValidationFailed(
        "The cursor is not one this API issued.",
        extra={"errors": [{"loc": ["query", "cursor"], "msg": "invalid cursor"}]},
    )
