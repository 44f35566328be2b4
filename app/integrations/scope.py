"""An integrator's data scope: the one decision of which alerts a client may see.

Scopes (``alerts:read`` …) say *what kind* of thing a client may do; the data scope says *which
alerts*: a transit operator's system only alerts offered to that operator (a transit leg at one
of its units), the police only alerts handed over to police, Jakarta Siaga 112 only alerts
transferred to it. ``none`` (the default) sees no alert at all, so a client created without a
data scope can read reference data and reports but never a victim's alert.

REST, the stream, webhooks and exports ask this module (``may_see`` for one alert in memory,
``visible_filter`` for a query); the need-to-know policy calls it for integrator principals.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, and_, exists, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import IntegratorPrincipal
from app.models import Alert, Assignment, Unit

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


def may_see(scope: ClientScope, alert: Alert, *, offered_partners: Collection[str] = ()) -> bool:
    """Pure: may a client with ``scope`` see ``alert``? ``offered_partners`` are the partner
    codes of the alert's transit legs (only needed for the ``transit`` scope)."""
    if alert.is_drill:
        return False  # drills never leave Sigap
    if scope.data_scope == "police":
        return alert.handed_over_to == "police"
    if scope.data_scope == "112":
        return alert.transferred_at is not None
    if scope.data_scope == "transit":
        return scope.unit_code is not None and scope.unit_code in offered_partners
    return False


def visible_filter(scope: ClientScope) -> ColumnElement[bool]:
    """The same decision as ``may_see``, as a WHERE clause on ``Alert``."""
    if scope.data_scope == "police":
        return and_(Alert.is_drill.is_(False), Alert.handed_over_to == "police")
    if scope.data_scope == "112":
        return and_(Alert.is_drill.is_(False), Alert.transferred_at.is_not(None))
    if scope.data_scope == "transit" and scope.unit_code is not None:
        offered = exists(
            select(Assignment.id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(
                Assignment.alert_id == Alert.id,
                Assignment.leg_kind == "transit",
                Unit.partner_code == scope.unit_code,
            )
        )
        return and_(Alert.is_drill.is_(False), offered)
    return false()


async def offered_partners(session: AsyncSession, alert: Alert) -> frozenset[str]:
    rows = await session.scalars(
        select(Unit.partner_code)
        .join(Assignment, Assignment.unit_id == Unit.id)
        .where(Assignment.alert_id == alert.id, Assignment.leg_kind == "transit")
    )
    return frozenset(code for code in rows if code)


async def client_sees_alert(session: AsyncSession, scope: ClientScope, alert: Alert) -> bool:
    partners = await offered_partners(session, alert) if scope.data_scope == "transit" else ()
    return may_see(scope, alert, offered_partners=partners)
