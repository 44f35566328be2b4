"""Integrator clients (police, social services, LPSK, 112, transit operators, other provinces):
their credentials, scopes and data scope, created, rotated, revoked and listed by an admin.

A client has two secrets, each shown once: the OAuth2 client secret (``sgc_…``, stored as its
SHA-256 like a device credential) and a Standard Webhooks secret (``whsec_…``, kept encrypted,
because Sigap must recompute signatures with it) that signs the status it pushes back in.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import INTEGRATOR_SCOPES
from app.errors import NotFound, ValidationFailed
from app.events import announce_access_changed
from app.integrations.scope import DATA_SCOPES, ClientScope
from app.integrations.ssrf import check_network
from app.models import IntegratorClient
from app.pagination import Cursor
from app.schemas.identity import IntegratorCredential, IntegratorRead
from app.security.credentials import CLIENT_SECRET_PREFIX, digest, new_secret
from app.security.fields import KeyRing

TRANSIT_PARTNERS = frozenset({"transjakarta", "mrt", "lrt"})
GOVERNMENT_SCOPES = frozenset({"police", "112"})


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64 (SR-18: ≥ 24)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _inbound_aad(client: IntegratorClient) -> str:
    return f"integrator_client.inbound_secret:{client.id}"


def inbound_secret(client: IntegratorClient, keyring: KeyRing) -> str | None:
    if client.inbound_secret_enc is None:
        return None
    return keyring.decrypt(client.inbound_secret_enc, aad=_inbound_aad(client)).decode()


def token_generation(client: IntegratorClient) -> str:
    """What an access token must carry to be honoured: a fingerprint of the client's current
    secret (its stored SHA-256) and scopes. Rotating the secret or changing the scopes changes
    it, so every token issued before is refused from the next request on, not when it expires.
    It reveals nothing: a digest of a digest of 256 random bits, and the scopes the token lists."""
    material = f"{client.secret_hash}|{' '.join(sorted(client.scopes))}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def scope_of(client: IntegratorClient) -> ClientScope:
    return ClientScope(data_scope=client.data_scope, unit_code=client.unit_code)


def _check(scopes: list[str], data_scope: str, unit_code: str | None) -> None:
    errors: list[dict[str, object]] = []
    unknown = sorted(set(scopes) - INTEGRATOR_SCOPES)
    if unknown:
        errors.append(
            {
                "loc": ["body", "scopes"],
                "msg": f"unknown {unknown}; allowed: {sorted(INTEGRATOR_SCOPES)}",
            }
        )
    if data_scope not in DATA_SCOPES:
        errors.append({"loc": ["body", "data_scope"], "msg": f"allowed: {list(DATA_SCOPES)}"})
    if data_scope == "transit" and unit_code not in TRANSIT_PARTNERS:
        errors.append(
            {
                "loc": ["body", "unit_code"],
                "msg": f"a transit client names its operator: {sorted(TRANSIT_PARTNERS)}",
            }
        )
    if data_scope != "transit" and unit_code is not None:
        errors.append({"loc": ["body", "unit_code"], "msg": "only a transit client names a unit"})
    if errors:
        raise ValidationFailed("The integrator client is not valid.", extra={"errors": errors})


async def create_integrator(
    session: AsyncSession,
    *,
    name: str,
    scopes: list[str],
    now: datetime,
    keyring: KeyRing | None = None,
    data_scope: str = "none",
    unit_code: str | None = None,
    allowed_network: str | None = None,
) -> IntegratorCredential:
    _check(scopes, data_scope, unit_code)
    if allowed_network is not None and data_scope not in GOVERNMENT_SCOPES:
        raise ValidationFailed(
            "Only a government integrator (police, 112) may reach a private network.",
            extra={"errors": [{"loc": ["body", "allowed_network"], "msg": "police or 112 only"}]},
        )
    client = IntegratorClient(
        id=uuid.uuid4(),
        client_id="sgi_" + secrets.token_hex(8),
        secret_hash="",
        name=name,
        scopes=sorted(set(scopes)),
        data_scope=data_scope,
        unit_code=unit_code,
        allowed_network=check_network(allowed_network),
        created_at=now,
    )
    session.add(client)
    return await _issue(session, client, keyring=keyring)


async def _issue(
    session: AsyncSession, client: IntegratorClient, *, keyring: KeyRing | None
) -> IntegratorCredential:
    secret = new_secret(CLIENT_SECRET_PREFIX)
    client.secret_hash = digest(secret)
    webhook_secret = None
    if keyring is not None:
        webhook_secret = new_webhook_secret()
        client.inbound_secret_enc = keyring.encrypt(
            webhook_secret.encode(), aad=_inbound_aad(client)
        )
    await session.flush()
    return IntegratorCredential(
        client_id=client.client_id,
        client_secret=secret,
        webhook_secret=webhook_secret,
        name=client.name,
        scopes=list(client.scopes),
        data_scope=client.data_scope,
        unit_code=client.unit_code,
    )


async def get_integrator(session: AsyncSession, client_id: str) -> IntegratorClient:
    client = await session.scalar(
        select(IntegratorClient).where(IntegratorClient.client_id == client_id)
    )
    if client is None:
        raise NotFound("No such integrator client.")
    return client


async def rotate_integrator(
    session: AsyncSession, *, client_id: str, keyring: KeyRing, now: datetime
) -> IntegratorCredential:
    """New client and inbound-webhook secrets; the old ones stop working at once, and so do the
    access tokens issued with them (their generation no longer matches)."""
    client = await get_integrator(session, client_id)
    if client.disabled_at is not None:
        raise NotFound("This client was revoked.")
    client.secret_rotated_at = now
    return await _issue(session, client, keyring=keyring)


async def revoke_integrator(
    session: AsyncSession, *, client_id: str, now: datetime
) -> IntegratorClient:
    """For good: its secret and every token it holds are refused from the next request on
    (each request loads the client), and its webhook endpoints stop receiving."""
    client = await get_integrator(session, client_id)
    if client.disabled_at is None:
        client.disabled_at = now
        announce_access_changed(session, subject=f"client:{client.id}", at=now)
        await session.flush()
    return client


def integrator_read(client: IntegratorClient) -> IntegratorRead:
    return IntegratorRead(
        client_id=client.client_id,
        name=client.name,
        scopes=list(client.scopes),
        data_scope=client.data_scope,
        unit_code=client.unit_code,
        created_at=client.created_at,
        secret_rotated_at=client.secret_rotated_at,
        revoked_at=client.disabled_at,
    )


async def list_integrators(
    session: AsyncSession, *, limit: int, cursor: Cursor | None
) -> tuple[list[IntegratorRead], Cursor | None]:
    query = select(IntegratorClient).order_by(IntegratorClient.client_id)
    if cursor is not None:
        query = query.where(IntegratorClient.client_id > cursor.value)
    clients = list(await session.scalars(query.limit(limit + 1)))
    page = clients[:limit]
    next_cursor = Cursor(page[-1].client_id) if len(clients) > limit else None
    return [integrator_read(c) for c in page], next_cursor
