"""Random bearer secrets (device credentials, refresh tokens, client secrets) and their digests.

These secrets carry 256 bits of randomness, so a plain SHA-256 digest is a safe lookup key; slow
password hashing is for human-chosen secrets only and would only slow the press path down.
"""

from __future__ import annotations

import hashlib
import secrets

DEVICE_PREFIX = "sgd_"
REFRESH_PREFIX = "sgr_"
CLIENT_SECRET_PREFIX = "sgc_"  # noqa: S105 - a prefix, not a secret


def new_secret(prefix: str) -> str:
    """A URL-safe secret with 256 bits of randomness and a recognisable prefix."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
