"""Partner status back in: responders outside Sigap (transit control rooms, 112, police) report
progress on alerts they may see, through the API or as inbound Standard Webhooks.

An inbound webhook is verified before anything is read from it: the signature with the
integrator's webhook secret (constant-time, by ``standardwebhooks``), the timestamp within
±300 s of Sigap's clock, and its ``webhook-id`` not seen before. A forged, stale or replayed
message changes nothing (SR-19). An id is remembered (``inbound_receipt``) only as long as a replay
could pass the timestamp check; housekeeping forgets older ones (``purge_receipts``).
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from app.access import IntegratorPrincipal
from app.audit import record
from app.errors import NotFound, ValidationFailed, WebhookSignatureInvalid
from app.events import emit
from app.identity.integrators import inbound_secret
from app.models import Alert, InboundReceipt, IntegratorClient, PartnerStatus
from app.policy.integrators import integrator_may_report
from app.schemas.integrations import PartnerStatusCreate, PartnerStatusRead
from app.security.fields import KeyRing

RECEIPT_MARGIN = timedelta(hours=1)
"""Receipts are kept this much longer than a replay could pass: clocks of several hosts differ,
and a clock may be stepped back."""


def _read(row: PartnerStatus, *, duplicate: bool = False) -> PartnerStatusRead:
    return PartnerStatusRead(
        id=row.id,
        alert_id=row.alert_id,
        status=row.status,
        reason=row.reason,
        disposition=row.disposition,
        external_ref=row.external_ref,
        source=row.source,
        reported_at=row.reported_at,
        created_at=row.created_at,
        duplicate=duplicate,
    )


async def report_status(
    session: AsyncSession,
    *,
    reporter: IntegratorPrincipal,
    data: PartnerStatusCreate,
    source: str,
    now: datetime,
) -> PartnerStatusRead:
    if data.status == "rejected" and not data.reason:
        raise ValidationFailed(
            "A rejection needs a reason.",
            extra={"errors": [{"loc": ["body", "reason"], "msg": "required when rejected"}]},
        )
    if data.status == "closed" and not data.disposition:
        raise ValidationFailed(
            "Closing needs a disposition.",
            extra={"errors": [{"loc": ["body", "disposition"], "msg": "required when closed"}]},
        )
    alert = await session.get(Alert, data.alert_id)
    if alert is None or not await integrator_may_report(session, reporter, alert, now=now):
        raise NotFound()  # only alerts in this partner's data scope now (app.policy)
    row = PartnerStatus(
        alert_id=alert.id,
        integrator_id=reporter.client_id,
        status=data.status,
        reason=data.reason,
        disposition=data.disposition,
        external_ref=data.external_ref,
        source=source,
        reported_at=data.reported_at or now,
        created_at=now,
    )
    session.add(row)
    emit(
        session,
        "alert.partner_status",
        at=now,
        alert_id=alert.id,
        data={
            "status": data.status,
            "partner": reporter.unit_code or reporter.data_scope,
            "integrator": reporter.name,
        },
    )
    await session.flush()
    # Not the reason or reference: a partner's free text may describe the victim.
    record(
        session,
        principal=reporter,
        action="alert.partner_status",
        object_type="alert",
        object_id=alert.id,
        at=now,
        detail={"partner_status_id": str(row.id), "status": data.status, "source": source},
    )
    return _read(row)


def verify_inbound(
    *, secret: str, body: bytes, headers: dict[str, str], now: datetime, tolerance_s: int
) -> str:
    """The message id of a genuine, fresh message, or WebhookSignatureInvalid.

    The window is checked against Sigap's (injectable) clock, then the signature with the
    library's signer and a constant-time comparison: ``Webhook.verify`` would read the wall
    clock itself."""
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    offered = lowered.get("webhook-signature", "")
    if not (message_id and stamp and offered) or len(message_id) > 120:
        raise WebhookSignatureInvalid("Missing Standard Webhooks headers.")
    try:
        sent_at = datetime.fromtimestamp(int(stamp), tz=now.tzinfo)
    except (ValueError, OverflowError) as exc:
        raise WebhookSignatureInvalid("webhook-timestamp is not a Unix time.") from exc
    if abs(sent_at - now) > timedelta(seconds=tolerance_s):
        raise WebhookSignatureInvalid("webhook-timestamp is outside the ±300 s window.")
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise WebhookSignatureInvalid("The body is not UTF-8.") from exc
    expected = Webhook(secret).sign(message_id, sent_at, text)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered.split(" ")):
        raise WebhookSignatureInvalid("No signature matches.")
    return message_id


async def receive_inbound(
    session: AsyncSession,
    *,
    client: IntegratorClient,
    reporter: IntegratorPrincipal,
    body: bytes,
    headers: dict[str, str],
    keyring: KeyRing,
    tolerance_s: int,
    now: datetime,
) -> PartnerStatusRead | None:
    """Verify, de-duplicate, record. None when the id was already accepted (a replay)."""
    secret = inbound_secret(client, keyring)
    if secret is None:
        raise WebhookSignatureInvalid("This client has no webhook secret; rotate its credential.")
    message_id = verify_inbound(
        secret=secret, body=body, headers=headers, now=now, tolerance_s=tolerance_s
    )
    try:
        data = PartnerStatusCreate.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise ValidationFailed("The status message is not valid.") from exc
    try:
        async with session.begin_nested():
            session.add(
                InboundReceipt(integrator_id=client.id, message_id=message_id, received_at=now)
            )
            await session.flush()
    except IntegrityError:
        return None
    return await report_status(session, reporter=reporter, data=data, source="webhook", now=now)


def receipts_needed_since(now: datetime, *, tolerance_s: int) -> datetime:
    """Receipts from before this can go. A message may be stamped up to ``tolerance_s`` ahead of
    the clock when it is received, and a replay passes the timestamp check until ``tolerance_s``
    after its stamp: so up to twice ``tolerance_s`` after its receipt (plus the margin)."""
    return now - 2 * timedelta(seconds=tolerance_s) - RECEIPT_MARGIN


async def purge_receipts(session: AsyncSession, *, now: datetime, tolerance_s: int) -> None:
    """Forget the ids of inbound messages no replay could pass with any more (housekeeping)."""
    before = receipts_needed_since(now, tolerance_s=tolerance_s)
    await session.execute(delete(InboundReceipt).where(InboundReceipt.received_at < before))
