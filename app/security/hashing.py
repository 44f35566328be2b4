"""Argon2id hashing for staff passwords and the device's cancel and duress PINs.

Argon2 is slow on purpose (hundreds of milliseconds on a loaded server), so it never runs on the
event loop: every hash and verification is a job on this hasher's own small thread pool. The
pool's size caps how many run at once, so a flood of sign-in attempts queues behind it instead of
taking every core, and presses and sockets keep their event loop. (argon2-cffi releases the GIL
while hashing, so the loop really runs meanwhile.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.config import SecuritySettings

# Verifying against this keeps the timing of "unknown user" equal to "wrong password".
_DUMMY_INPUT = "sigap-timing-equaliser"
_T = TypeVar("_T")
_NICENESS = 19


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
    def __init__(self, settings: SecuritySettings) -> None:
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

    # What the service code awaits.

    async def hash(self, secret: str) -> str:
        return await self._run(self.hash_blocking, secret)

    async def hash_many(self, *secrets: str) -> list[str]:
        """Several hashes as one job (setting both PINs takes one pool slot, not two)."""
        return await self._run(lambda: [self.hash_blocking(s) for s in secrets])

    async def verify(self, stored: str | None, secret: str) -> bool:
        return await self._run(self.verify_blocking, stored, secret)

    async def verify_pins(
        self, cancel_hash: str | None, duress_hash: str | None, pin: str
    ) -> tuple[bool, bool]:
        """(matches the cancel PIN, matches the duress PIN), both always computed, in one job.

        Both verifications run whichever PIN was sent (a device without a duress PIN verifies
        against the dummy hash), so the time taken cannot tell a duress cancel from a genuine one.
        """

        def both() -> tuple[bool, bool]:
            cancel = self.verify_blocking(cancel_hash, pin)
            duress = self.verify_blocking(duress_hash, pin)
            return cancel, duress

        return await self._run(both)

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
