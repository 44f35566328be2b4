"""An integrator's data scope: the one decision of which alerts a client may see.

Scopes (``alerts:read`` …) say *what kind* of thing a client may do; the data scope says *which
alerts*: a transit operator's system only alerts offered to that operator (a transit leg at one
of its units), the police only alerts handed over to police, Jakarta Siaga 112 only alerts
transferred to it. ``none`` (the default) sees no alert at all, so a client created without a
data scope can read reference data and reports but never a victim's alert.

The decision is ``entered_scope_at``: *since when* the alert is in the client's scope, and for a
transit operator ``scope_until``: until when (the close of its last leg, as for its own staff).
REST and exports ask whether it is in now (``may_see``); the stream and webhooks ask whether each
event happened inside (``covers``), so a client sees an alert's events from the moment the alert
entered its scope, live and on replay alike, and loads what happened before over REST.
The need-to-know policy (``app.policy.integrators``) asks it for integrator principals on REST
and on the stream.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import IntegratorPrincipal
from app.models import Alert, Assignment, Unit
from app.policy.sight import LegSight, UnitSight, legs_sight

DataScope = Literal["none", "transit", "police", "112"]
DATA_SCOPES: tuple[DataScope, ...] = ("none", "transit", "police", "112")


@dataclass(frozen=True)
class ClientScope:
    data_scope: str
    unit_code: str | None = None
    """The partner code (``transjakarta``, ``mrt``, ``lrt``) of a transit operator's client."""


def principal_scope(principal: IntegratorPrincipal) -> ClientScope:
    """The data scope an integrator's token was authenticated with (loaded per request)."""
    return ClientScope(data_scope=principal.data_scope, unit_code=principal.unit_code)


@dataclass(frozen=True)
class ScopeFacts:
    """What the data scope decision reads of an alert: loaded per alert by REST
    (``scope_facts``) and by the stream's hub (``app.realtime.hub.load_facts``)."""

    is_drill: bool = False
    handed_over_to: str | None = None
    handed_over_at: datetime | None = None
    transferred_at: datetime | None = None
    transit_legs: tuple[tuple[str, LegSight], ...] = ()
    """(partner code, leg) of every transit leg on the alert at an operator's unit."""


def operator_sight(scope: ClientScope, facts: ScopeFacts) -> UnitSight:
    """A transit operator's sight of the alert: its legs at any of its units, added up as a
    unit's own (``app.policy.sight``), so its system sees what its staff see."""
    return legs_sight(leg for code, leg in facts.transit_legs if code == scope.unit_code)


def entered_scope_at(scope: ClientScope, facts: ScopeFacts) -> datetime | None:
    """Pure, and THE decision: when the alert entered the client's data scope (its first offer
    to the operator, the hand-over to police, the transfer to 112), or None if it never did.
    Each of these moments is written once and never undone; only a transit operator's scope
    also ends (``scope_until``)."""
    if facts.is_drill:
        return None  # drills never leave Sigap
    if scope.data_scope == "police":
        return facts.handed_over_at if facts.handed_over_to == "police" else None
    if scope.data_scope == "112":
        return facts.transferred_at
    if scope.data_scope == "transit" and scope.unit_code is not None:
        return operator_sight(scope, facts).since
    return None


def scope_until(scope: ClientScope, facts: ScopeFacts) -> datetime | None:
    """What happened after this moment is outside the client's scope; None: no end. A transit
    operator's ends, as its staff's sight does, when its last leg closed (declined, expired,
    lapsed, withdrawn): the alert went elsewhere. Police and 112 keep what was handed to them."""
    if scope.data_scope == "transit":
        return operator_sight(scope, facts).until
    return None


def may_see(scope: ClientScope, facts: ScopeFacts, now: datetime) -> bool:
    """May a client with ``scope`` see the alert at ``now`` (REST, exports, partner status)? A
    transit operator's system, until the close of its last leg plus the grace its staff get
    (``LATE_ACCEPT_GRACE`` after an expired offer or a lapsed claim)."""
    if entered_scope_at(scope, facts) is None:
        return False
    return scope.data_scope != "transit" or operator_sight(scope, facts).sees_at(now)


def covers(scope: ClientScope, facts: ScopeFacts, at: datetime) -> bool:
    """Did something that happened at ``at`` (a stream event) happen inside the client's scope?
    Judged by its own time, so a replay shows exactly what live delivery did."""
    since = entered_scope_at(scope, facts)
    if since is None or at < since:
        return False
    until = scope_until(scope, facts)
    return until is None or at <= until


async def transit_legs(
    session: AsyncSession, alert_id: uuid.UUID
) -> tuple[tuple[str, LegSight], ...]:
    rows = await session.execute(
        select(
            Unit.partner_code,
            Assignment.unit_id,
            Assignment.offered_at,
            Assignment.closed_at,
            Assignment.status,
        )
        .join(Assignment, Assignment.unit_id == Unit.id)
        .where(
            Assignment.alert_id == alert_id,
            Assignment.leg_kind == "transit",
            Unit.partner_code.is_not(None),
        )
    )
    return tuple(
        (str(code), LegSight(unit_id, offered_at, closed_at, status))
        for code, unit_id, offered_at, closed_at, status in rows.all()
    )


async def scope_facts(session: AsyncSession, alert: Alert, scope: ClientScope) -> ScopeFacts:
    """The facts of one alert (the transit legs only when the scope needs them)."""
    legs = await transit_legs(session, alert.id) if scope.data_scope == "transit" else ()
    return ScopeFacts(
        is_drill=alert.is_drill,
        handed_over_to=alert.handed_over_to,
        handed_over_at=alert.handed_over_at,
        transferred_at=alert.transferred_at,
        transit_legs=legs,
    )


async def client_sees_alert(
    session: AsyncSession, scope: ClientScope, alert: Alert, now: datetime
) -> bool:
    """Whether the client sees the alert at ``now`` (reads, exports, partner status reports)."""
    return may_see(scope, await scope_facts(session, alert, scope), now)
