"""Which pepper each stored PIN hash uses (``sigap keys pins``): an old pepper may leave the ring
only when no hash uses it any more. PIN hashes cannot be re-peppered without the PIN, so a hash
moves to the first pepper only at its next successful use (``app.security.hashing``)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Device
from app.security.hashing import PepperRing, pepper_of

UNPEPPERED = "(none)"
"""A hash written before peppers existed."""


async def pepper_census(session: AsyncSession, ring: PepperRing) -> dict[str, int]:
    """PIN hashes per pepper id (``UNPEPPERED`` for plain ones), streamed in pages."""
    counts: Counter[str] = Counter()
    columns = (Device.cancel_pin_hash, Device.duress_pin_hash, Device.extra_duress_pin_hash)
    result = await session.stream(select(*columns).where(Device.cancel_pin_hash.is_not(None)))
    async for row in result:
        for stored in row:
            if stored is not None:
                counts[pepper_of(stored)[0] or UNPEPPERED] += 1
    return dict(sorted(counts.items()))


def missing_from(ring: PepperRing, census: dict[str, int]) -> list[str]:
    """Peppers hashes still use that the ring lacks: those PINs can no longer be checked."""
    return [kid for kid in census if kid != UNPEPPERED and ring.peppered(kid, "") is None]
