"""Integrators' data scope, as need-to-know asks it: which alerts a client may see.

The decision itself lives in ``app.integrations.scope`` (a transit operator's system sees the
alerts offered to it, police the alerts handed over to police, 112 the alerts transferred to it,
a client without a data scope none); this module is the one place the policy calls it from.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import IntegratorPrincipal
from app.integrations.scope import client_sees_alert, principal_scope
from app.models import Alert
from app.policy.events import is_case_matter


async def integrator_sees_alert(
    session: AsyncSession, client: IntegratorPrincipal, alert: Alert
) -> bool:
    # Reading or exporting alerts; the route checks which of the two scopes it needs.
    return bool({"alerts:read", "exports:read"} & client.scopes) and await client_sees_alert(
        session, principal_scope(client), alert
    )


def integrator_sees_event(scopes: frozenset[str], event_type: str, data: dict[str, Any]) -> bool:
    """Stream events carry ids and non-personal facts only: ``alerts:read`` gets alert events,
    never case files (those stay with UPTD PPA until integrator scopes say otherwise)."""
    return "alerts:read" in scopes and not is_case_matter(event_type, data)
