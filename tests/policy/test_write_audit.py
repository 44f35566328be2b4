"""Every write of personal data leaves one audit row (ids and categories only, never text or
names), in the write's transaction: a refused write leaves none. The outbox, which also says what
happened, is purged after 30 days; the audit trail is not."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from app.context import AppContext
from app.models import AuditEntry, StaffUser
from tests.dispatch.staffing import drain, legs, post, token_on_duty
from tests.helpers import auth, press, press_body, register
from tests.integrations.test_webhooks import client_token, transferred_alert

KB = "3171060"
SECRET = "CANARY-WRITE-TEXT"


async def audited(context: AppContext, action: str) -> list[AuditEntry]:
    async with context.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
                )
            ).all()
        )


async def offered_alert(client: httpx.AsyncClient, context: AppContext) -> tuple[str, uuid.UUID]:
    """A pressed alert and Kebayoran Baru's offer of it."""
    _, credential = await register(client)
    alert_id = str((await press(client, credential, press_body(context))).json()["id"])
    await drain(context)
    offer = next(g for g in await legs(context, alert_id) if g.unit_code == KB)
    return alert_id, offer.id


async def test_each_write_of_an_alert_or_its_case_is_audited_once_and_a_refused_one_not(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    alert_id, offer = await offered_alert(client, context)
    alert_uuid = uuid.UUID(alert_id)
    async with context.sessions() as session:
        counselor = await session.scalar(
            select(StaffUser.id).where(StaffUser.username == "konselor.kb")
        )

    async def once(response: httpx.Response, action: str, code: int = 200) -> AuditEntry:
        assert response.status_code == code, response.text
        rows = await audited(context, action)
        assert len(rows) == 1, (action, rows)
        row = rows[0]
        assert (row.actor_type, row.actor_id) == ("staff", str(counselor))
        assert SECRET not in str(row.detail)
        return row

    # A note before the claim is refused (403): nothing written, nothing audited.
    early = await post(client, f"/v1/alerts/{alert_id}/notes", token, {"text": SECRET})
    assert early.status_code == 403
    assert await audited(context, "alert.note_added") == []

    accepted = await once(
        await post(client, f"/v1/assignments/{offer}/accept", token), "assignment.accepted"
    )
    assert accepted.object_id == alert_uuid
    assert accepted.detail == {"assignment_id": str(offer), "unit_code": KB}
    # Accepting twice is harmless: it changes nothing, so it records nothing.
    await once(await post(client, f"/v1/assignments/{offer}/accept", token), "assignment.accepted")

    note = await once(
        await post(client, f"/v1/alerts/{alert_id}/notes", token, {"text": SECRET}),
        "alert.note_added",
        201,
    )
    assert note.object_id == alert_uuid and set(note.detail) == {"note_id"}

    contacted = await once(
        await post(client, f"/v1/alerts/{alert_id}/progress", token, {"milestone": "contacted"}),
        "alert.contacted",
    )
    assert contacted.object_id == alert_uuid
    handed = await once(
        await post(
            client,
            f"/v1/alerts/{alert_id}/progress",
            token,
            {"milestone": "handed_over", "handed_over_to": "police"},
        ),
        "alert.handed_over",
    )
    assert handed.detail == {"to": "police"}

    opened = await once(
        await post(
            client,
            f"/v1/alerts/{alert_id}/case",
            token,
            {"violence_types": ["seksual"], "risk_level": "high", "victim_age_group": "child"},
        ),
        "case.opened",
        201,
    )
    case_id = str(opened.object_id)
    assert opened.object_type == "case" and opened.detail == {"alert_id": alert_id}
    # A second case is refused (409): still one row.
    again = await post(
        client,
        f"/v1/alerts/{alert_id}/case",
        token,
        {"violence_types": ["fisik"], "risk_level": "low", "victim_age_group": "adult"},
    )
    assert again.status_code == 409
    assert len(await audited(context, "case.opened")) == 1

    refused = await client.patch(
        f"/v1/cases/{case_id}", headers=auth(token), json={"stage": "mediasi"}
    )
    assert refused.status_code == 422  # no mediation for sexual violence
    assert await audited(context, "case.updated") == []
    updated = await once(
        await client.patch(
            f"/v1/cases/{case_id}",
            headers=auth(token),
            json={"stage": "identifikasi", "risk_level": "medium"},
        ),
        "case.updated",
    )
    # Which fields changed, never their values (the classification is about the victim).
    assert updated.detail == {"alert_id": alert_id, "fields": ["risk_level", "stage"]}

    future = context.clock.now().replace(year=2030).isoformat()
    early_milestone = await post(
        client,
        f"/v1/cases/{case_id}/milestones",
        token,
        {"milestone": "police_reported", "occurred_at": future},
    )
    assert early_milestone.status_code == 422
    assert await audited(context, "case.milestone_recorded") == []
    milestone = await once(
        await post(
            client, f"/v1/cases/{case_id}/milestones", token, {"milestone": "police_reported"}
        ),
        "case.milestone_recorded",
    )
    assert milestone.detail == {"alert_id": alert_id, "milestone": "police_reported"}

    resolved = await once(
        await post(client, f"/v1/alerts/{alert_id}/resolve", token, {"disposition": "assisted"}),
        "alert.resolved",
    )
    assert resolved.detail == {"disposition": "assisted"}
    closed = await post(
        client, f"/v1/alerts/{alert_id}/resolve", token, {"disposition": "assisted"}
    )
    assert closed.status_code == 409
    assert len(await audited(context, "alert.resolved")) == 1


async def test_a_decline_is_audited_without_its_reason(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    alert_id, offer = await offered_alert(client, context)
    declined = await post(client, f"/v1/assignments/{offer}/decline", token, {"reason": SECRET})
    assert declined.status_code == 200, declined.text
    again = await post(client, f"/v1/assignments/{offer}/decline", token, {"reason": SECRET})
    assert again.status_code == 409  # the offer is closed: nothing more written
    rows = await audited(context, "assignment.declined")
    assert len(rows) == 1
    assert rows[0].object_id == uuid.UUID(alert_id)
    assert rows[0].detail == {"assignment_id": str(offer), "unit_code": KB}


async def test_a_partner_status_is_audited_with_the_integrator_as_actor(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await client_token(client, context, scopes=["partner_status:write"], data_scope="112")
    alert_id = await transferred_alert(client, context)
    rejected = await client.post(
        "/v1/integrations/status",
        json={"alert_id": str(alert_id), "status": "rejected"},  # a rejection needs a reason
        headers=auth(token),
    )
    assert rejected.status_code == 422
    assert await audited(context, "alert.partner_status") == []
    reported = await client.post(
        "/v1/integrations/status",
        json={"alert_id": str(alert_id), "status": "accepted", "external_ref": SECRET},
        headers=auth(token),
    )
    assert reported.status_code == 201, reported.text
    rows = await audited(context, "alert.partner_status")
    assert len(rows) == 1
    row = rows[0]
    assert row.actor_type == "integrator" and row.object_id == alert_id
    assert row.detail == {
        "partner_status_id": str(reported.json()["id"]),
        "status": "accepted",
        "source": "api",
    }
