"""Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"), pure.

A browser or phone that signed in to an account gets a token naming that account: its id, a
random nonce, when it was issued and an HMAC over them and a fingerprint of the account's
password hash (so an admin's password reset forgets every device at once, the attacker's
too). Failures from a valid token count against that token only (``throttle``), so an attacker
who rotates networks cannot keep the counselor's own browser or phone out.

The browser keeps it in an ``HttpOnly`` cookie (``cookie_name``: one per account, several
accounts may share a post's computer); an app gets it in the token response and sends it back in
``X-Sigap-Device`` or the form field ``device_token``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

COOKIE_PREFIX = "sigap_device_"
HEADER = "X-Sigap-Device"
FORM_FIELD = "device_token"
_LABEL = b"sigap device cookie v1"


def device_key(secret_key: str) -> bytes:
    """A key of its own for device tokens, derived from the deployment's secret key (rotating
    that key forgets every device: they sign in as unknown ones once)."""
    return hmac.new(secret_key.encode(), _LABEL, hashlib.sha256).digest()


def cookie_name(user_id: uuid.UUID) -> str:
    return COOKIE_PREFIX + user_id.hex[:12]


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def _mac(key: bytes, user_id: uuid.UUID, nonce: str, issued: int, password_hash: str) -> str:
    message = f"v1|{user_id.hex}|{nonce}|{issued}|{_fingerprint(password_hash)}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(key: bytes, *, user_id: uuid.UUID, password_hash: str, now: datetime) -> str:
    nonce = secrets.token_urlsafe(16)
    issued = int(now.timestamp())
    return f"{user_id.hex}.{nonce}.{issued}.{_mac(key, user_id, nonce, issued, password_hash)}"


@dataclass(frozen=True)
class KnownDevice:
    nonce: str
    issued_at: datetime


def verify(
    key: bytes,
    token: str | None,
    *,
    user_id: uuid.UUID,
    password_hash: str,
    lifetime: timedelta,
    now: datetime,
) -> KnownDevice | None:
    """The device, if ``token`` is a genuine, unexpired token for this account and its current
    password; None for anything else (forged, another account's, before a reset, malformed)."""
    if not token or len(token) > 200:
        return None
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != user_id.hex or not parts[2].isdigit():
        return None
    _, nonce, issued_text, mac = parts
    issued = int(issued_text)
    expected = _mac(key, user_id, nonce, issued, password_hash)
    if not hmac.compare_digest(expected, mac):
        return None
    issued_at = datetime.fromtimestamp(issued, tz=UTC)
    if issued_at > now + timedelta(minutes=5) or now - issued_at > lifetime:
        return None
    return KnownDevice(nonce=nonce, issued_at=issued_at)
