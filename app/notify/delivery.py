"""Sending queued messages: claim, send with nothing held, record.

1. **Claim**, one short transaction: take due rows (``SKIP LOCKED`` on PostgreSQL, so several
   notifiers share the work), group them into sends (``digest.py``), reserve their cost from
   today's budgets (``budget.py``), and mark them ``sending`` with a lease (``claimed_until``).
2. **Send** with no transaction and no pooled connection held: a gateway that takes seconds
   delays nobody else. (On SQLite every write transaction is ``BEGIN IMMEDIATE``; one held
   across a gateway call would stall every press behind it.)
3. **Record**, another short transaction: sent, or back in the queue with a back-off, only where
   the lease is still ours.

A notifier that dies mid-send leaves its rows ``sending``; when the lease runs out they are due
again and resent under the same id, so delivery is at least once and a gateway can drop repeats.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import DispatchSettings
from app.events import emit
from app.models import Alert, Device, Notification, StaffUser
from app.notify.budget import (
    CRITICAL,
    CRITICAL_KINDS,
    ESTABLISHED,
    LANES,
    ORDINARY,
    UNVETTED,
    UNVETTED_POOL,
    cap_of,
    first_time_low,
    lane_of,
    local_day,
    pool_of,
    refund,
    spend,
    spend_ordinary,
)
from app.notify.digest import Due, Send, plan
from app.notify.providers import NotificationProvider, OutboundMessage
from app.notify.queue import queue, supervisors_on_duty

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger("sigap.notify")
LOOP_NAME = "notifier"
MAX_ATTEMPTS = 5
MAX_BATCHES_PER_CYCLE = 10
CAP_REACHED_EVENT = "notification.cap_reached"
POOL_LOW_EVENT = "notification.pool_low"


@dataclass(frozen=True)
class Claim:
    send: Send
    day: date
    lease: datetime
    """The lease's end, which is also the claim's token: only its holder records the outcome."""
    attempts: int


@dataclass(frozen=True)
class Outcome:
    channel: str | None
    """The provider that took the message; None when every provider failed."""
    error: str | None


async def deliver_notifications(context: AppContext) -> None:
    """The notifier loop's body: batch after batch while full ones are due."""
    for _ in range(MAX_BATCHES_PER_CYCLE):
        claimed, _ = await _deliver_batch(context, context.notifiers, context.settings.dispatch)
        if claimed < context.settings.dispatch.notify_batch_size:
            return


async def deliver_due(
    context: AppContext,
    *,
    providers: list[NotificationProvider] | None = None,
    settings: DispatchSettings | None = None,
) -> int:
    """Send one batch of due messages; returns how many sends succeeded (a digest is one)."""
    _, sent = await _deliver_batch(
        context,
        context.notifiers if providers is None else providers,
        settings or context.settings.dispatch,
    )
    return sent


async def _deliver_batch(
    context: AppContext, providers: list[NotificationProvider], settings: DispatchSettings
) -> tuple[int, int]:
    claims = await _claim(context, settings)
    if not claims:
        return 0, 0
    outcomes = await _send_all(claims, providers, settings.notify_send_concurrency)
    await _record(context, claims, outcomes)
    sent = sum(1 for o in outcomes if o.channel)
    failed = sum(
        1
        for claim, outcome in zip(claims, outcomes, strict=True)
        if not outcome.channel and claim.attempts >= MAX_ATTEMPTS
    )
    metric = context.metrics.notifications
    metric.labels("sent").inc(sent)
    metric.labels("failed").inc(failed)
    metric.labels("retried").inc(len(claims) - sent - failed)
    return len(claims), sent


def region_zone(context: AppContext) -> tzinfo:
    """The deployment's calendar: its default region's time zone (UTC before any reference
    data is loaded)."""
    return context.geo.timezones.get(context.settings.geo.default_region, UTC)


async def _claim(context: AppContext, settings: DispatchSettings) -> list[Claim]:
    now = context.clock.now()
    zone = region_zone(context)
    day = local_day(now, zone)
    lease = now + timedelta(seconds=settings.notify_claim_lease_s)
    claims: list[Claim] = []
    capped: list[str] = []
    async with context.sessions() as session, session.begin():
        query = (
            select(
                Notification.id,
                Notification.recipient_id,
                StaffUser.username,
                StaffUser.phone,
                Notification.kind,
                Notification.text,
                Notification.status,
                Notification.digest_id,
                Notification.attempts,
                # The lane's facts: the history of the device whose alert it is about.
                Device.created_at,
                Device.unvetted,
                Device.flooded_at,
            )
            .join(StaffUser, StaffUser.id == Notification.recipient_id)
            .outerjoin(Alert, Alert.id == Notification.alert_id)
            .outerjoin(Device, Device.id == Alert.device_id)
            # A ``sending`` row is due when its lease has run out (``due_at`` is the lease's end).
            .where(Notification.status.in_(("queued", "sending")), Notification.due_at <= now)
            .order_by(Notification.due_at, Notification.created_at, Notification.id)
            .limit(settings.notify_batch_size)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=Notification)
        rows = [
            Due(
                id=row_id,
                recipient_id=recipient_id,
                username=username,
                phone=phone,
                kind=kind,
                text=text,
                status=status,
                digest_id=digest_id,
                attempts=attempts,
                lane=lane_of(
                    registered_at=registered_at,
                    unvetted=unvetted,
                    flooded_at=flooded_at,
                    now=now,
                    settings=settings,
                ),
            )
            for (
                row_id,
                recipient_id,
                username,
                phone,
                kind,
                text,
                status,
                digest_id,
                attempts,
                registered_at,
                unvetted,
                flooded_at,
            ) in (await session.execute(query)).all()
        ]
        if not rows:
            return []
        sends, held = plan(
            rows,
            last_critical=await _last_critical(session, rows, settings=settings, now=now),
            window_s=settings.notify_digest_window_s,
            now=now,
        )
        for due_at in set(held.values()):
            ids = [row_id for row_id, at in held.items() if at == due_at]
            await session.execute(
                update(Notification).where(Notification.id.in_(ids)).values(due_at=due_at)
            )
        # The critical pool first, then each lane of the ordinary pool, the reserved one first.
        for pool, lane in ((CRITICAL, None), *((ORDINARY, lane) for lane in LANES)):
            wanted = [s for s in sends if s.pool == pool and (lane is None or s.lane == lane)]
            if not wanted:
                continue
            cap = cap_of(pool, settings)
            if lane is None:
                grant = await spend(
                    session, day=day, pool=pool, wanted=len(wanted), cap=cap, now=now
                )
            else:
                grant = await spend_ordinary(
                    session, day=day, lane=lane, wanted=len(wanted), settings=settings, now=now
                )
            context.metrics.notification_budget_spent.labels(pool).set(grant.spent)
            refused = [row.id for s in wanted[grant.granted :] for row in s.rows]
            if refused:
                await session.execute(
                    update(Notification)
                    .where(Notification.id.in_(refused))
                    .values(
                        status="suppressed",
                        claimed_until=None,
                        last_error="daily cap reached"
                        if lane in (None, ESTABLISHED)
                        else f"daily share of {lane} devices reached",
                    )
                )
            if lane is not None and await first_time_low(
                session, day=day, spent=grant.spent, settings=settings, now=now
            ):
                await _tell_pool_low(context, session, spent=grant.spent, day=day, now=now)
            if grant.first_refusal:
                capped.append(pool)
                await _tell_of_cap(
                    context, session, pool=pool, cap=cap, day=day, zone=zone, now=now
                )
            claims += [
                Claim(send=s, day=day, lease=lease, attempts=1 + max(r.attempts for r in s.rows))
                for s in wanted[: grant.granted]
            ]
        # One statement for all the lone messages, one per digest.
        by_digest: dict[uuid.UUID | None, list[uuid.UUID]] = {}
        for claim in claims:
            ids = [row.id for row in claim.send.rows]
            by_digest.setdefault(None if ids == [claim.send.id] else claim.send.id, []).extend(ids)
        for digest_id, ids in by_digest.items():
            await session.execute(
                update(Notification)
                .where(Notification.id.in_(ids))
                .values(
                    status="sending",
                    claimed_until=lease,
                    due_at=lease,
                    attempts=Notification.attempts + 1,
                    digest_id=digest_id,
                )
            )
    for pool in capped:  # counted once committed
        context.metrics.notification_cap_reached.labels(pool).inc()
        log.warning("notification %s budget for %s is spent", pool, day.isoformat())
    return claims


async def _last_critical(
    session: AsyncSession, rows: list[Due], *, settings: DispatchSettings, now: datetime
) -> dict[uuid.UUID, datetime]:
    """Per person with a critical message waiting: when one last went out to them (``now``
    while one is being sent), within the digest window."""
    people = {r.recipient_id for r in rows if r.status == "queued" and pool_of(r.kind) == CRITICAL}
    window = settings.notify_digest_window_s
    if not people or window <= 0:
        return {}
    since = now - timedelta(seconds=window)
    result = await session.execute(
        select(Notification.recipient_id, Notification.status, func.max(Notification.sent_at))
        .where(
            Notification.recipient_id.in_(people),
            Notification.kind.in_(CRITICAL_KINDS),
            or_(
                and_(Notification.status == "sent", Notification.sent_at > since),
                Notification.status == "sending",
            ),
        )
        .group_by(Notification.recipient_id, Notification.status)
    )
    last: dict[uuid.UUID, datetime] = {}
    for person, status, sent_at in result.all():
        at = now if status == "sending" or sent_at is None else sent_at
        last[person] = max(at, last.get(person, at))
    return last


async def _tell_of_cap(
    context: AppContext,
    session: AsyncSession,
    *,
    pool: str,
    cap: int,
    day: date,
    zone: tzinfo,
    now: datetime,
) -> None:
    """A spent budget is itself an alert: an event on the supervisors' console stream, and a
    message while the critical budget remains (it cannot when that is the one spent)."""
    emit(
        session,
        CAP_REACHED_EVENT,
        at=now,
        data={"pool": pool, "cap": cap, "day": day.isoformat(), "timezone": str(zone)},
    )
    if pool == CRITICAL:
        return
    region_code = context.settings.geo.default_region
    await queue(
        session,
        recipients=await supervisors_on_duty(
            session,
            region_code=region_code,
            at=now,
        ),
        kind="notify_capped",
        text=f"Sigap: today's budget of {cap} routine messages is spent; offers are not sent "
        "by SMS until midnight. Watch the console.",
        alert_id=None,
        ref=f"{day.isoformat()}:{pool}",
        now=now,
        settings=context.settings.dispatch,
    )


async def _tell_pool_low(
    context: AppContext, session: AsyncSession, *, spent: int, day: date, now: datetime
) -> None:
    """The ordinary pool runs low: supervisors are told once a day, from the critical pool,
    while offers can still be sent."""
    cap = context.settings.dispatch.notify_daily_cap
    emit(
        session,
        POOL_LOW_EVENT,
        at=now,
        data={"pool": ORDINARY, "spent": spent, "cap": cap, "day": day.isoformat()},
    )
    await queue(
        session,
        recipients=await supervisors_on_duty(
            session, region_code=context.settings.geo.default_region, at=now
        ),
        kind="notify_low",
        text=f"Sigap: {spent} of today's {cap} routine messages are spent; new devices' offers "
        "stop first. Watch the console.",
        alert_id=None,
        ref=f"{day.isoformat()}:low",
        now=now,
        settings=context.settings.dispatch,
    )


async def _send_all(
    claims: list[Claim], providers: list[NotificationProvider], concurrency: int
) -> list[Outcome]:
    gate = asyncio.Semaphore(concurrency)

    async def one(claim: Claim) -> Outcome:
        async with gate:
            return await _send(claim.send, providers)

    return list(await asyncio.gather(*(one(claim) for claim in claims)))


async def _send(send: Send, providers: list[NotificationProvider]) -> Outcome:
    first = send.rows[0]
    message = OutboundMessage(
        id=send.id,
        recipient_id=first.recipient_id,
        recipient_username=first.username,
        recipient_phone=first.phone,
        kind=send.kind,
        text=send.text,
    )
    error: str | None = None
    for provider in providers:
        try:
            await provider.send(message)
        except Exception as exc:  # a provider's failure must not stop the others
            error = f"{provider.name}: {exc}"[:300]
            log.warning("notification %s via %s failed: %s", send.id, provider.name, exc)
            continue
        return Outcome(channel=provider.name, error=error)
    return Outcome(channel=None, error=error or "no notification provider configured")


async def _record(context: AppContext, claims: list[Claim], outcomes: list[Outcome]) -> None:
    now = context.clock.now()
    sent: dict[tuple[str, str | None, datetime], list[uuid.UUID]] = {}
    unsent: dict[tuple[str | None, int, datetime], list[uuid.UUID]] = {}
    refunds: Counter[tuple[date, str]] = Counter()
    for claim, outcome in zip(claims, outcomes, strict=True):
        ids = [row.id for row in claim.send.rows]
        if outcome.channel:
            sent.setdefault((outcome.channel, outcome.error, claim.lease), []).extend(ids)
        else:
            unsent.setdefault((outcome.error, claim.attempts, claim.lease), []).extend(ids)
            refunds[(claim.day, claim.send.pool)] += 1
            if claim.send.pool == ORDINARY and claim.send.lane == UNVETTED:
                refunds[(claim.day, UNVETTED_POOL)] += 1
    async with context.sessions() as session, session.begin():
        # Only where the lease is still ours: a row whose lease ran out belongs to its new sender.
        for (channel, error, lease), ids in sent.items():
            await session.execute(
                update(Notification)
                .where(Notification.id.in_(ids), Notification.claimed_until == lease)
                .values(
                    status="sent",
                    channel=channel,
                    sent_at=now,
                    claimed_until=None,
                    last_error=error,
                )
            )
        for (error, attempts, lease), ids in unsent.items():
            await session.execute(
                update(Notification)
                .where(Notification.id.in_(ids), Notification.claimed_until == lease)
                .values(
                    status=case((Notification.attempts >= MAX_ATTEMPTS, "failed"), else_="queued"),
                    due_at=now + timedelta(seconds=5 * 2**attempts),
                    claimed_until=None,
                    last_error=error,
                )
            )
        for (day, pool), count in refunds.items():
            await refund(session, day=day, pool=pool, count=count)
