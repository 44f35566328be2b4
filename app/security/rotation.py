"""Re-encrypting every personal field with the key ring's primary key, while the service runs.

Rotation: add the new key at the front of ``SIGAP_SECURITY__ENCRYPTION_KEYS`` (keep the old one
after it), restart or reload the processes so they write with it, then run ``sigap keys rotate``:
it walks each encrypted column in pages of rows locked for the moment of their update, rewrites
every value not under the primary key, and reports how many remain on other keys (0 unless a
process still writes with the old ring). Only then may the old key leave the ring.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.dispatch.views import note_aad
from app.identity.devices import contact_aad
from app.ingestion.views import private_aad
from app.models import Alert, AlertNote, BreakGlassGrant, Device, IntegratorClient, WebhookEndpoint
from app.models.confidentiality import reason_aad
from app.security.fields import KeyRing


@dataclass(frozen=True)
class Encrypted:
    name: str
    model: Any
    column: str
    aad: Callable[[Any], str]


COLUMNS: tuple[Encrypted, ...] = (
    Encrypted("alert.private_enc", Alert, "private_enc", lambda row: private_aad(row.id)),
    Encrypted("alert_note.body_enc", AlertNote, "body_enc", lambda row: note_aad(row.alert_id)),
    Encrypted("device.contact_enc", Device, "contact_enc", lambda row: contact_aad(row.id)),
    Encrypted(
        "break_glass_grant.reason_enc",
        BreakGlassGrant,
        "reason_enc",
        lambda row: reason_aad(row.id),
    ),
    Encrypted(
        "webhook_endpoint.secrets_enc",
        WebhookEndpoint,
        "secrets_enc",
        lambda row: f"webhook_endpoint.secrets:{row.id}",  # app.integrations.webhooks._aad
    ),
    Encrypted(
        "integrator_client.inbound_secret_enc",
        IntegratorClient,
        "inbound_secret_enc",
        lambda row: f"integrator_client.inbound_secret:{row.id}",  # identity.integrators
    ),
)
"""Every column that holds a ciphertext (a test checks none is missing)."""


def kid_of(envelope: bytes) -> str:
    return envelope[2 : 2 + envelope[1]].decode()


async def _rotate_page(
    session: AsyncSession, spec: Encrypted, keyring: KeyRing, after: uuid.UUID | None, page: int
) -> tuple[int, uuid.UUID | None]:
    model, column = spec.model, getattr(spec.model, spec.column)
    query = select(model).where(column.is_not(None)).order_by(model.id).limit(page)
    if after is not None:
        query = query.where(model.id > after)
    rows = (await session.scalars(query.with_for_update())).all()
    rotated = 0
    for row in rows:
        envelope: bytes = getattr(row, spec.column)
        if kid_of(envelope) != keyring.primary_kid:
            plain = keyring.decrypt(envelope, aad=spec.aad(row))
            setattr(row, spec.column, keyring.encrypt(plain, aad=spec.aad(row)))
            rotated += 1
    await session.commit()  # short transactions: presses and notes never wait long
    return rotated, (rows[-1].id if len(rows) == page else None)


async def rotate_keys(
    sessions: async_sessionmaker[AsyncSession], keyring: KeyRing, *, page: int = 200
) -> dict[str, dict[str, int]]:
    report: dict[str, dict[str, int]] = {}
    for spec in COLUMNS:
        total, after = 0, None
        while True:
            async with sessions() as session:
                rotated, after = await _rotate_page(session, spec, keyring, after, page)
            total += rotated
            if after is None:
                break
        report[spec.name] = {
            "rotated": total,
            "on_other_keys": await _left(sessions, spec, keyring),
        }
    return report


async def _left(
    sessions: async_sessionmaker[AsyncSession], spec: Encrypted, keyring: KeyRing
) -> int:
    column = getattr(spec.model, spec.column)
    async with sessions() as session:
        values = (await session.scalars(select(column).where(column.is_not(None)))).all()
    return sum(1 for v in values if kid_of(v) != keyring.primary_kid)
