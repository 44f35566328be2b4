"""Integrators' data scope, as need-to-know asks it: which alerts a client may see, and from when.

The decision itself lives in ``app.integrations.scope`` (a transit operator's system sees the
alerts offered to it, police the alerts handed over to police, 112 the alerts transferred to it,
a client without a data scope none; drills never leave Sigap); this module is the one place the
policy calls it from, for REST (``integrator_sees_alert``) and the stream
(``integrator_sees_event``) alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import IntegratorPrincipal
from app.integrations.scope import (
    ClientScope,
    ScopeFacts,
    client_sees_alert,
    covers,
    principal_scope,
)
from app.models import Alert
from app.policy.events import is_case_matter
from app.policy.profile import pseudonymous_event

__all__ = [
    "CASE_DATA_SCOPES",
    "NO_SCOPE",
    "ClientScope",
    "ScopeFacts",
    "integrator_event",
    "integrator_may_read_cases",
    "integrator_may_report",
    "integrator_sees_alert",
    "integrator_sees_event",
    "principal_scope",
]

NO_SCOPE = ClientScope(data_scope="none")
CASE_DATA_SCOPES = frozenset({"police"})
"""Data scopes whose clients may receive case data (the SIMFONI-PPA export): the police PPA unit
an alert was handed over to works the case with UPTD PPA. A transit operator's system (its
staff see no case file either) and Jakarta Siaga 112 (an emergency dispatcher) never do, whatever
scopes an admin granted."""


def integrator_may_read_cases(client: IntegratorPrincipal) -> bool:
    return "cases:read" in client.scopes and client.data_scope in CASE_DATA_SCOPES


async def integrator_sees_alert(
    session: AsyncSession, client: IntegratorPrincipal, alert: Alert, *, now: datetime
) -> bool:
    # Reading or exporting alerts; the route checks which of the two scopes it needs.
    return bool({"alerts:read", "exports:read"} & client.scopes) and await client_sees_alert(
        session, principal_scope(client), alert, now
    )


async def integrator_may_report(
    session: AsyncSession, client: IntegratorPrincipal, alert: Alert, *, now: datetime
) -> bool:
    """Partner status on an alert (the route checks ``partner_status:write``): judged at the
    report's arrival like a read, so a transit operator reports only while its staff see the
    alert (not after its last leg closed and any late-accept grace ran out); police and 112
    keep what was handed to them. ``now`` is Sigap's clock, never the partner's ``reported_at``."""
    return await client_sees_alert(session, principal_scope(client), alert, now)


def integrator_sees_event(
    scopes: frozenset[str],
    scope: ClientScope,
    event_type: str,
    data: dict[str, Any],
    *,
    at: datetime,
    facts: ScopeFacts,
) -> bool:
    """An alert's event, for a client with ``alerts:read``: only what happened after the alert
    entered the client's data scope (the same decision as REST's, judged at the event's own
    time), and never the case file (that stays with UPTD PPA). Payloads carry ids and
    non-personal facts only."""
    return (
        "alerts:read" in scopes
        and not is_case_matter(event_type, data)
        and covers(scope, facts, at)
    )


def integrator_event(
    scopes: frozenset[str],
    scope: ClientScope,
    event_type: str,
    data: dict[str, Any],
    *,
    at: datetime,
    facts: ScopeFacts,
) -> tuple[str, dict[str, Any]] | None:
    """The event as the client is told it (the stream, webhooks), or None: integrators are
    pseudonymous, so never the victim's companion preference or a duress cancel as such."""
    if not integrator_sees_event(scopes, scope, event_type, data, at=at, facts=facts):
        return None
    return pseudonymous_event(event_type, data)
