"""Argon2id hashing for staff passwords and the device's cancel and duress PINs.

PINs are short (4 to 12 digits): from a database dump alone, argon2 still gives them up to an
offline search. So a PIN is hashed with a pepper, a key kept outside the database
(``SIGAP_SECURITY__PIN_PEPPERS``, a ring like the encryption keys): argon2 hashes
HMAC-SHA256(pepper, PIN), and the stored hash names the pepper (``$pepper-<kid>$argon2id$…``).
The first pepper of the ring peppers new hashes; the others still verify, and a hash under an
older pepper, or one written before peppers existed (plain ``$argon2id$…``), is re-hashed under
the first at its next successful check (in the same job, so with no transaction open). Whichever
kind a hash is, checking it costs exactly one argon2 verification, so neither the kind nor a
rotation changes what a cancel answers or how long it takes.

Argon2 is slow on purpose (hundreds of milliseconds on a loaded server), so it never runs on the
event loop: every hash and verification is a job on this hasher's own small thread pool. The
pool's size caps how many run at once, so a flood of sign-in attempts queues behind it instead of
taking every core, and presses and sockets keep their event loop. (argon2-cffi releases the GIL
while hashing, so the loop really runs meanwhile.)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.config import SecuritySettings

# Verifying against this keeps the timing of "unknown user" equal to "wrong password".
_DUMMY_INPUT = "sigap-timing-equaliser"
_T = TypeVar("_T")
_NICENESS = 19
_PEPPER_MARK = "$pepper-"
DUMMY_PIN_SLOTS = 3
"""Stored PINs checked on every PIN check: the cancel PIN and two duress PINs (a missing one is
checked against a dummy hash), so every check costs the same three verifications."""
log = logging.getLogger("sigap.security")


class PepperRing:
    """The PIN peppers, "kid:base64url(32 bytes),kid2:…"; the first peppers new hashes."""

    def __init__(self, spec: str) -> None:
        self._keys: dict[str, bytes] = {}
        self.primary: str | None = None
        for entry in (part.strip() for part in spec.split(",") if part.strip()):
            kid, _, encoded = entry.partition(":")
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            if not kid or "$" in kid or len(raw) != 32:
                raise ValueError("each PIN pepper is 'kid:<base64url of 32 bytes>'")
            self._keys[kid] = raw
            self.primary = self.primary or kid

    def peppered(self, kid: str | None, pin: str) -> str | None:
        """What argon2 hashes for ``pin`` under pepper ``kid`` (None: the plain PIN); None
        when the ring lacks ``kid``."""
        if kid is None:
            return pin
        key = self._keys.get(kid)
        if key is None:
            return None
        return hmac.new(key, pin.encode("utf-8"), hashlib.sha256).hexdigest()


def pepper_of(stored: str) -> tuple[str | None, str]:
    """(the pepper's kid or None for a hash from before peppers, the argon2 hash itself)."""
    if not stored.startswith(_PEPPER_MARK):
        return None, stored
    kid, _, rest = stored[len(_PEPPER_MARK) :].partition("$")
    return kid, "$" + rest


@dataclass(frozen=True)
class PinCheck:
    """What one PIN check found: whether the PIN is the cancel PIN, whether it is a duress PIN,
    and the stored hashes again with the one that matched re-peppered (None when nothing needs
    writing)."""

    cancel: bool
    duress: bool
    rehashed: tuple[str | None, ...] | None = None


def _lower_priority() -> None:
    """Run this hashing thread (and the lane threads argon2 starts from it) at the lowest CPU
    priority. Off the loop is not enough on a small machine: a few argon2 jobs, each with its
    lanes, would otherwise take every core from the event loop, and presses would queue behind
    sign-in attempts all the same. At nice 19 hashing gets the CPU intake leaves over; sign-in
    is slower under load, intake is not. (Linux sets niceness per thread; elsewhere, a no-op.)"""
    setpriority = getattr(os, "setpriority", None)
    if setpriority is None:
        return
    with contextlib.suppress(OSError):
        setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICENESS)


class SecretHasher:
    def __init__(self, settings: SecuritySettings, *, peppers: str = "") -> None:
        self.peppers = PepperRing(peppers)
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
        )
        self._dummy = self._hasher.hash(_DUMMY_INPUT)
        self._pool = ThreadPoolExecutor(
            max_workers=settings.hashing_threads,
            thread_name_prefix="sigap-argon2",
            initializer=_lower_priority,
        )

    # The blocking primitives: only ever called on the pool (or by a CLI with no loop to stall).

    def hash_blocking(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify_blocking(self, stored: str | None, secret: str) -> bool:
        """True when ``secret`` matches; a missing hash still costs one verification."""
        try:
            return self._hasher.verify(stored or self._dummy, secret) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def hash_pin_blocking(self, pin: str) -> str:
        kid = self.peppers.primary
        hashed = self.hash_blocking(self.peppers.peppered(kid, pin) or pin)
        return hashed if kid is None else f"{_PEPPER_MARK}{kid}{hashed}"

    def verify_pin_blocking(self, stored: str | None, pin: str) -> tuple[bool, bool]:
        """(matches, the hash should be re-peppered): always exactly one verification."""
        kid, hashed = pepper_of(stored) if stored is not None else (None, None)
        secret = self.peppers.peppered(kid, pin)
        if secret is None:
            # A pepper left the ring while hashes still used it: the PIN cannot be checked.
            log.error("a PIN hash uses pepper %r, which is not in the ring: keep it there", kid)
            hashed = None
        ok = self.verify_blocking(hashed, secret or pin)
        return ok, ok and kid != self.peppers.primary

    # What the service code awaits.

    async def hash(self, secret: str) -> str:
        return await self._run(self.hash_blocking, secret)

    async def hash_many(self, *secrets: str) -> list[str]:
        """Several hashes as one job (setting both PINs takes one pool slot, not two)."""
        return await self._run(lambda: [self.hash_blocking(s) for s in secrets])

    async def verify(self, stored: str | None, secret: str) -> bool:
        return await self._run(self.verify_blocking, stored, secret)

    async def hash_pins(self, *pins: str) -> list[str]:
        """New PIN hashes under the current pepper, as one job."""
        return await self._run(lambda: [self.hash_pin_blocking(p) for p in pins])

    async def verify_pins(self, stored: tuple[str | None, ...], pin: str) -> PinCheck:
        """Check ``pin`` against the stored (cancel, duress, extra duress) hashes, in one job.

        Every stored PIN is verified whichever PIN was sent, a missing one against the dummy hash
        (always ``DUMMY_PIN_SLOTS`` verifications), so the time taken cannot tell a duress PIN
        from the cancel PIN or a wrong one. A match under an old pepper is re-hashed under the
        current one in the same job: one more hash, alike for whichever PIN matched.
        """

        def check() -> PinCheck:
            slots = list(stored) + [None] * (DUMMY_PIN_SLOTS - len(stored))
            results = [self.verify_pin_blocking(s, pin) for s in slots]
            cancel, duress = results[0][0], any(ok for ok, _ in results[1:])
            rehashed = None
            stale = next((i for i, (_, old) in enumerate(results) if old), None)
            if stale is not None:
                renewed = list(stored)
                renewed[stale] = self.hash_pin_blocking(pin)
                rehashed = tuple(renewed)
            return PinCheck(cancel=cancel, duress=duress, rehashed=rehashed)

        return await self._run(check)

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
