"""Opaque cursors for keyset pagination (``limit`` at most 100)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from app.errors import ValidationFailed

MAX_LIMIT = 100


@dataclass(frozen=True)
class Cursor:
    value: str

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
            raise ValidationFailed(
                "The cursor is not one this API issued.",
                extra={"errors": [{"loc": ["query", "cursor"], "msg": "invalid cursor"}]},
            ) from exc
