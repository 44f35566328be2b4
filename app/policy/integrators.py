"""The seam for integrators' data scope (a transit operator's system sees the alerts offered to
it, police the alerts handed over to police, 112 the alerts transferred to it).

Until an integrator data scope is defined (``app.integrations.scope``), an integrator sees no
alert through the REST API: the default of need-to-know is "no". When it exists, this function
calls it and nothing else in the policy changes.
"""

from __future__ import annotations

from typing import Any

from app.access import IntegratorPrincipal
from app.models import Alert
from app.policy.events import is_case_matter
from app.policy.sight import LegSight


def integrator_sees_alert(
    client: IntegratorPrincipal, alert: Alert, legs: tuple[LegSight, ...]
) -> bool:
    del client, alert, legs  # no data scope is defined yet: nothing is in it
    return False


def integrator_sees_event(scopes: frozenset[str], event_type: str, data: dict[str, Any]) -> bool:
    """Stream events carry ids and non-personal facts only: ``alerts:read`` gets alert events,
    never case files (those stay with UPTD PPA until integrator scopes say otherwise)."""
    return "alerts:read" in scopes and not is_case_matter(event_type, data)
