"""Every route about an alert, and every stream event, is judged by ``app.policy``.

Routes are found by introspection: any path with ``{alert_id}`` or ``{case_id}`` must reach
``app.policy.alerts.decide`` when staff call it, so a new route that forgets the policy fails here
without anyone adding it to a list. Routes without an alert in their path are classified, each
with the reason it needs no per-alert decision, in ``test_routes_without_alert.py``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import app.integrations.scope as data_scope
import app.policy.alerts as policy_alerts
from app.api.shedding import ROUTE_PRIORITIES
from app.context import AppContext
from app.policy.events import is_case_matter
from app.policy.integrators import ClientScope
from app.realtime.scopes import (
    AlertFacts,
    Audience,
    LegSight,
    ScopeFacts,
    StreamEvent,
    message_for,
)
from tests.dispatch.staffing import drain, token_on_duty
from tests.helpers import auth, press, press_body, register, staff_token

KB = "3171060"
DEVICE_OWN = {
    ("POST", "/v1/alerts/{alert_id}/locations"),
    ("POST", "/v1/alerts/{alert_id}/cancel"),
}
"""The phone's own alert: the ingestion service finds it with the device in the locking query
(another device's alert is simply not found), and answers with the reassurance view only."""

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/alerts/{alert_id}/progress"): {"milestone": "contacted"},
    ("POST", "/v1/alerts/{alert_id}/resolve"): {"disposition": "assisted"},
    ("POST", "/v1/alerts/{alert_id}/notes"): {"text": "x"},
    ("POST", "/v1/alerts/{alert_id}/legal-hold"): {"hold": True, "reason": "court order"},
    # Lifting a restriction the alert does not have changes nothing (the matrices' alert stays
    # as it is); breaking the glass on an unrestricted alert answers 409 after asking.
    ("POST", "/v1/alerts/{alert_id}/restriction"): {"restricted": False},
    ("POST", "/v1/alerts/{alert_id}/break-glass"): {
        "reason": "Weekly oversight review of the restricted records"
    },
    ("POST", "/v1/alerts/{alert_id}/reassign"): {"unit_code": "central", "reason": "test"},
    ("POST", "/v1/alerts/{alert_id}/reopen"): {"reason": "victim called back"},
    ("POST", "/v1/alerts/{alert_id}/case"): {
        "violence_types": ["psikis"],
        "risk_level": "low",
    },
    ("PATCH", "/v1/cases/{case_id}"): {"stage": "pengaduan"},
    ("POST", "/v1/cases/{case_id}/milestones"): {"milestone": "police_reported"},
}


def alert_routes() -> list[tuple[str, str]]:
    """From the shedding table, which another test holds equal to the routes served."""
    return sorted(
        (method, path)
        for method, path in ROUTE_PRIORITIES
        if ("{alert_id}" in path or "{case_id}" in path) and (method, path) not in DEVICE_OWN
    )


@pytest.mark.parametrize(("method", "path"), alert_routes())
async def test_every_alert_route_asks_the_policy(
    client: httpx.AsyncClient,
    context: AppContext,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
) -> None:
    asked: list[str] = []
    decide = policy_alerts.decide

    def recording(*args: Any, **kwargs: Any) -> Any:
        asked.append(path)
        return decide(*args, **kwargs)

    supervisor = await staff_token(client, context, "supervisor", "supervisor", "central")
    stranger = await staff_token(client, context, "konselor.x", "counselor", "3174010")
    await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    _, device = await register(client)
    alert_id = (await press(client, device, press_body(context))).json()["id"]
    await drain(context)
    body = {"violence_types": ["psikis"], "risk_level": "low"}
    case = await client.post(f"/v1/alerts/{alert_id}/case", json=body, headers=auth(supervisor))
    url = path.replace("{alert_id}", alert_id).replace("{case_id}", case.json()["id"])
    monkeypatch.setattr(policy_alerts, "decide", recording)
    payload = BODIES.get((method, path))
    answer = await client.request(method, url, json=payload, headers=auth(supervisor))
    assert answer.status_code < 500, answer.text
    assert asked, f"{method} {path} answered {answer.status_code} without asking app.policy"
    asked.clear()
    denied = await client.request(method, url, json=payload, headers=auth(stranger))
    assert asked or denied.status_code in (403, 422), denied.text
    assert denied.status_code in (403, 404, 422), denied.text


EMITTED = re.compile(r'emit\(\s*session,\s*f?"([a-z_]+\.[a-z_{}]+)"', re.S)


def emitted_event_types() -> set[str]:
    root = Path(__file__).resolve().parents[2] / "app"
    found: set[str] = set()
    for source in root.rglob("*.py"):
        found.update(EMITTED.findall(source.read_text()))
    return found


def test_every_event_the_code_emits_is_judged_by_the_unit_sight() -> None:
    """A unit never offered the alert sees none of its events; a unit whose leg closed sees the
    ones up to the close — for every event type the code can emit."""
    types = emitted_event_types()
    assert len(types) > 15, types

    t0 = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
    unit = uuid.uuid4()
    facts = AlertFacts(
        device_id=uuid.uuid4(),
        device_closed_seq=None,
        legs=(LegSight(unit, t0, t0 + timedelta(seconds=60), "expired"),),
    )
    counselor = Audience(kind="staff", role="counselor", unit_id=unit, unit_code="p1")
    stranger = Audience(kind="staff", role="counselor", unit_id=uuid.uuid4(), unit_code="p2")
    for name in types:
        for at, seen in ((t0 + timedelta(seconds=30), True), (t0 + timedelta(hours=1), False)):
            event = StreamEvent(1, name, at, uuid.uuid4(), {"unit_code": "p3"})
            assert message_for(stranger, event, facts) is None, name
            assert (message_for(counselor, event, facts) is not None) is seen, name


def test_every_event_the_code_emits_reaches_integrators_through_their_data_scope(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """For every event type the code can emit: a client whose data scope holds the alert gets it
    from the moment the alert entered the scope (never a case file), one whose scope does not
    hold it never — each answer asked of the data scope decision REST asks too
    (``app.integrations.scope.entered_scope_at``)."""
    asked: list[ClientScope] = []
    decision = data_scope.entered_scope_at

    def recording(scope: ClientScope, facts: ScopeFacts) -> datetime | None:
        asked.append(scope)
        return decision(scope, facts)

    monkeypatch.setattr(data_scope, "entered_scope_at", recording)
    handed_over = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
    facts = AlertFacts(
        device_id=uuid.uuid4(),
        device_closed_seq=None,
        scope=ScopeFacts(handed_over_to="police", handed_over_at=handed_over),
    )
    read = frozenset({"alerts:read"})
    police = Audience(kind="integrator", scopes=read, client_scope=ClientScope("police"))
    outsiders = [
        Audience(kind="integrator", scopes=read, client_scope=ClientScope(*scope))
        for scope in (("112",), ("transit", "transjakarta"), ("none",))
    ]
    for name in emitted_event_types():
        data = {"unit_code": "p3"}
        case_file = is_case_matter(name, data)
        for at, inside in ((handed_over - timedelta(seconds=1), False), (handed_over, True)):
            event = StreamEvent(1, name, at, uuid.uuid4(), data)
            asked.clear()
            assert (message_for(police, event, facts) is not None) is (inside and not case_file)
            assert asked or case_file, name
            for outsider in outsiders:
                assert message_for(outsider, event, facts) is None, (name, outsider)
