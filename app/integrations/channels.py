"""Alerts from other channels: a 112 call-taker or the SAPA 129 hotline creates an alert on a
caller's behalf, and it then takes the same path as an app press (dispatch, stream, SLAs).

Unlike the victim's press, the request is strictly validated (the schema refuses unknown fields
and loose types). Each call gets a stand-in device of its own, so the press rules that would
merge two presses of one phone never merge two different callers, and the alert is recorded by
``app.ingestion.press.ingest_alert`` with the channel's own reference as the idempotency key:

1. record (client, reference) with the request's hash and the stand-in device, and commit: a
   concurrent twin hits the primary key and waits for the first;
2. ingest the press (it commits the alert and its outbox event);
3. link the alert to the reference.

A crash between 2 and 3 is healed by the retry: step 2 replays by key, and 3 links.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import IntegratorPrincipal
from app.config import Settings
from app.errors import IdempotencyInFlight, IdempotencyKeyReused
from app.geo.runtime import GeoService
from app.ingestion.press import ingest_alert
from app.models import Alert, ChannelAlert, Device
from app.schemas.integrations import ChannelAlertCreate, ChannelAlertRead
from app.security.credentials import DEVICE_PREFIX, digest, new_secret
from app.security.fields import KeyRing


def _press_body(data: ChannelAlertCreate) -> bytes:
    body: dict[str, object] = {
        "pressed_at": data.reported_at.isoformat(),
        "reporter": data.reporter,
        "silent": data.silent,
    }
    if data.victim_is_child is not None:
        body["victim_is_child"] = data.victim_is_child
    if data.location is not None:
        source = {"gps": "gps", "network": "network", "cell": "cell"}.get(
            data.location.source, "manual"
        )
        body["location"] = {
            "lat": data.location.lat,
            "lon": data.location.lon,
            "accuracy_m": data.location.accuracy_m,
            "fix_at": (data.location.fix_at or data.reported_at).isoformat(),
            "source": source,
        }
    if data.transit_operator is not None:
        body["transit"] = {"operator": data.transit_operator}
    if data.contact is not None:
        body["contact"] = data.contact.model_dump(exclude_none=True)
    if data.message is not None:
        body["message"] = data.message
    return json.dumps(body, sort_keys=True).encode()


def _request_hash(data: ChannelAlertCreate) -> str:
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


async def create_channel_alert(
    session: AsyncSession,
    *,
    caller: IntegratorPrincipal,
    data: ChannelAlertCreate,
    settings: Settings,
    geo: GeoService,
    keyring: KeyRing,
    now: datetime,
) -> ChannelAlertRead:
    request_hash = _request_hash(data)
    ref = await session.get(ChannelAlert, (caller.client_id, data.reference))
    created = ref is None
    if ref is None:
        device = Device(
            id=uuid.uuid4(),
            # Nobody holds this credential: the stand-in can never press or read by itself.
            credential_hash=digest(new_secret(DEVICE_PREFIX)),
            platform=f"channel:{data.channel}",
            app_version=None,
            created_at=now,
        )
        ref = ChannelAlert(
            integrator_id=caller.client_id,
            reference=data.reference,
            channel=data.channel,
            request_hash=request_hash,
            device_id=device.id,
            created_at=now,
        )
        session.add_all([device, ref])
        try:
            await session.commit()
        except IntegrityError as exc:
            await session.rollback()
            raise IdempotencyInFlight(
                "The same reference is being recorded; retry shortly.",
                headers={"Retry-After": "1"},
            ) from exc
    elif ref.request_hash != request_hash:
        raise IdempotencyKeyReused("This reference was already used for a different alert.")
    device_id, integrator_id, reference = ref.device_id, ref.integrator_id, ref.reference
    result = await ingest_alert(
        session,
        device_id=device_id,
        body=_press_body(data),
        idempotency_key=f"channel:{integrator_id}:{reference}",
        received_at=now,
        settings=settings,
        geo=geo,
        keyring=keyring,
    )
    ref = await session.get(ChannelAlert, (integrator_id, reference))
    alert = await session.get(Alert, result.alert_id)
    assert ref is not None and alert is not None
    if ref.alert_id is None:
        ref.alert_id = alert.id
        await session.commit()
    return ChannelAlertRead(
        alert_id=alert.id,
        case_code=alert.case_code,
        reference=reference,
        channel=ref.channel,
        status=alert.state,
        created=created,
    )
