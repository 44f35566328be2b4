"""Application-layer encryption of personal fields (AES-256-GCM with a key ring).

Envelope: ``b"\\x01" + len(kid) + kid + nonce(12) + ciphertext``. The key id travels with the
ciphertext so keys can rotate: the first key of the ring encrypts, any key decrypts. The
associated data binds a ciphertext to its table, column and row, so a value copied onto another
row fails to decrypt instead of leaking into the wrong record.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = 1


class KeyRing:
    def __init__(self, spec: str) -> None:
        keys: dict[str, AESGCM] = {}
        order: list[str] = []
        for entry in (part.strip() for part in spec.split(",") if part.strip()):
            kid, _, encoded = entry.partition(":")
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            if not kid or len(raw) != 32:
                raise ValueError("each encryption key is 'kid:<base64url of 32 bytes>'")
            keys[kid] = AESGCM(raw)
            order.append(kid)
        if not order:
            raise ValueError("the encryption key ring is empty")
        self._keys = keys
        self._primary = order[0]

    @property
    def primary_kid(self) -> str:
        return self._primary

    def encrypt(self, plaintext: bytes, *, aad: str) -> bytes:
        kid = self._primary.encode()
        nonce = os.urandom(12)
        sealed = self._keys[self._primary].encrypt(nonce, plaintext, aad.encode())
        return bytes([_VERSION, len(kid)]) + kid + nonce + sealed

    def decrypt(self, envelope: bytes, *, aad: str) -> bytes:
        if len(envelope) < 2 or envelope[0] != _VERSION:
            raise ValueError("unknown ciphertext envelope")
        kid_len = envelope[1]
        kid = envelope[2 : 2 + kid_len].decode()
        nonce = envelope[2 + kid_len : 14 + kid_len]
        key = self._keys.get(kid)
        if key is None:
            raise ValueError(f"no key {kid!r} in the key ring")
        try:
            return key.decrypt(nonce, envelope[14 + kid_len :], aad.encode())
        except InvalidTag as exc:
            raise ValueError("ciphertext does not belong here or was altered") from exc

    def encrypt_json(self, value: Any, *, aad: str) -> bytes:
        return self.encrypt(json.dumps(value, separators=(",", ":")).encode(), aad=aad)

    def decrypt_json(self, envelope: bytes, *, aad: str) -> Any:
        return json.loads(self.decrypt(envelope, aad=aad))


def new_key_spec(kid: str = "k1") -> str:
    """A fresh single-key ring specification (used by ``./run`` and ``sigap secrets``)."""
    return f"{kid}:" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
