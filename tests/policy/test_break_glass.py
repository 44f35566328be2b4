"""Restricted records and break-glass on the real database: who sees a restricted child alert's
identity, through which route, until when; the reason's validation, audit and report."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, text

from app.clock import FrozenClock
from app.context import AppContext
from app.models import AuditEntry, BreakGlassGrant, OutboxEvent
from app.realtime.scopes import Audience, StreamEvent, message_for
from tests.dispatch.staffing import drain, legs, token_on_duty
from tests.helpers import (
    auth,
    integrator_token,
    press,
    press_body,
    register,
    sign_in,
    staff_token,
)

KB = "3171060"
CANARIES = ("CANARY-NAME", "CANARY-PHONE", "CANARY-TEXT", "CANARY-NOTE")
REASON = "The holding post cannot be reached and the victim called the hotline again"


async def _restricted_child_alert(
    client: httpx.AsyncClient, context: AppContext
) -> tuple[str, dict[str, str]]:
    """A child victim's alert held by Kebayoran Baru, with a note, restricted by its counselor."""
    tokens = {
        "holder": await token_on_duty(client, context, "konselor.kb", "counselor", KB),
        "supervisor": await staff_token(client, context, "spv", "supervisor", "central"),
        "supervisor2": await staff_token(client, context, "spv2", "supervisor", "central"),
        "admin": await staff_token(client, context, "adm", "admin", "central"),
        "stranger": await staff_token(client, context, "konselor.x", "counselor", "3174010"),
    }
    _, device = await register(client)
    body = press_body(
        context,
        victim_is_child=True,
        contact={"name": "CANARY-NAME", "phone": "CANARY-PHONE"},
        message="CANARY-TEXT",
    )
    alert_id = str((await press(client, device, body)).json()["id"])
    await drain(context)
    leg = next(str(g.id) for g in await legs(context, alert_id) if g.unit_code == KB)
    holder = auth(tokens["holder"])
    assert (await client.post(f"/v1/assignments/{leg}/accept", headers=holder)).is_success
    note = {"text": "CANARY-NOTE"}
    assert (await client.post(f"/v1/alerts/{alert_id}/notes", json=note, headers=holder)).is_success
    assert isinstance(context.clock, FrozenClock)
    context.clock.advance(1)  # restricted after the claim was taken: the holder keeps it
    restrict = {"restricted": True, "reason": "staff_member"}
    answer = await client.post(f"/v1/alerts/{alert_id}/restriction", json=restrict, headers=holder)
    assert answer.status_code == 204, answer.text
    return alert_id, tokens


async def _sees_identity(client: httpx.AsyncClient, alert_id: str, token: str) -> bool:
    """Whether any canary reaches ``token`` through the alert, the notes or the board's list."""
    texts = []
    for url in (f"/v1/alerts/{alert_id}", f"/v1/alerts/{alert_id}/notes", "/v1/alerts"):
        answer = await client.get(url, headers=auth(token))
        if answer.status_code == 200:
            texts.append(answer.text)
    found = {c for c in CANARIES if any(c in t for t in texts)}
    assert found in (set(), set(CANARIES)), found  # all of it, or none
    return bool(found)


async def _count(context: AppContext, model: type, *where: object) -> int:
    async with context.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def test_a_supervisor_sees_a_restricted_child_alert_only_through_the_glass_until_it_ends(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    alert_id, tokens = await _restricted_child_alert(client, context)
    spv = auth(tokens["supervisor"])
    assert await _sees_identity(client, alert_id, tokens["holder"])

    # Without a grant: not an error, the pseudonymous view, the marker and how to break the glass.
    view = (await client.get(f"/v1/alerts/{alert_id}", headers=spv)).json()
    assert view["restricted"] is True and view["restriction_reason"] == "staff_member"
    assert view["contact"] is None and view["message"] is None and view["victim_is_child"] is None
    assert view["break_glass"] == {
        "method": "POST",
        "href": f"/v1/alerts/{alert_id}/break-glass",
        "min_reason_length": 20,
    }
    assert view["glass_until"] is None
    notes = (await client.get(f"/v1/alerts/{alert_id}/notes", headers=spv)).json()
    assert len(notes) == 1 and notes[0]["text"] is None
    assert not await _sees_identity(client, alert_id, tokens["supervisor"])

    broken = await client.post(
        f"/v1/alerts/{alert_id}/break-glass", json={"reason": REASON}, headers=spv
    )
    assert broken.status_code == 201, broken.text
    grant = broken.json()
    until = context.clock.now() + timedelta(minutes=30)
    assert grant["reason"] == REASON and grant["username"] == "spv"
    assert grant["expires_at"].startswith(until.isoformat()[:19])

    assert await _sees_identity(client, alert_id, tokens["supervisor"])
    view = (await client.get(f"/v1/alerts/{alert_id}", headers=spv)).json()
    assert view["victim_is_child"] is True and view["break_glass"] is None
    assert view["glass_until"] is not None
    # The grant is that supervisor's: another supervisor still sees the pseudonymous view.
    assert not await _sees_identity(client, alert_id, tokens["supervisor2"])

    clock.advance(29 * 60 + 59)
    token = str((await sign_in(client, "spv"))["access_token"])  # access tokens last 10 min
    assert await _sees_identity(client, alert_id, token)
    clock.advance(1)  # the grant ends
    assert not await _sees_identity(client, alert_id, token)
    view = (await client.get(f"/v1/alerts/{alert_id}", headers=auth(token))).json()
    assert view["break_glass"] is not None and view["glass_until"] is None
    holder = str((await sign_in(client, "konselor.kb"))["access_token"])
    assert await _sees_identity(client, alert_id, holder)  # the holder never lost it


async def test_admins_and_other_units_never_see_a_restricted_record(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    alert_id, tokens = await _restricted_child_alert(client, context)
    admin = auth(tokens["admin"])
    assert not await _sees_identity(client, alert_id, tokens["admin"])
    view = (await client.get(f"/v1/alerts/{alert_id}", headers=admin)).json()
    assert view["restricted"] is True and view["break_glass"] is None  # admins cannot break it
    answer = await client.post(
        f"/v1/alerts/{alert_id}/break-glass", json={"reason": REASON}, headers=admin
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    eido = await client.get(f"/v1/exports/alerts/{alert_id}/eido", headers=admin)
    assert eido.status_code == 200 and "victimIsChild" not in eido.json()["incidentComponent"]
    stranger = await client.get(f"/v1/alerts/{alert_id}", headers=auth(tokens["stranger"]))
    assert stranger.status_code == 404 and "CANARY" not in stranger.text
    # A stranger's unit never had it; the holder's unit took it before the restriction and
    # sees it whole already.
    for token, status in (("stranger", 404), ("holder", 409)):
        refused = await client.post(
            f"/v1/alerts/{alert_id}/break-glass",
            json={"reason": REASON},
            headers=auth(tokens[token]),
        )
        assert refused.status_code == status, token
    assert await _count(context, BreakGlassGrant) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": ""},
        {"reason": "                         "},
        {"reason": "too short reason"},  # 16 characters
        {"reason": "aaaaaaaaaaaaaaaaaaaaaaaaa"},  # one word
        {"reason": "need need need need need need"},  # one word, repeated
        {"reason": REASON, "minutes": 600},  # unknown fields are refused
        {"reason": 12345678901234567890},
        {"reason": "x" * 501 + " y z"},
    ],
)
async def test_a_reason_that_is_not_a_written_reason_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, context: AppContext, body: dict[str, object]
) -> None:
    alert_id, tokens = await _restricted_child_alert(client, context)
    answer = await client.post(
        f"/v1/alerts/{alert_id}/break-glass", json=body, headers=auth(tokens["supervisor"])
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/validation-error")
    assert await _count(context, BreakGlassGrant) == 0
    assert await _count(context, AuditEntry, AuditEntry.action == "alert.glass_broken") == 0
    assert await _count(context, OutboxEvent, OutboxEvent.event_type == "alert.glass_broken") == 0
    assert not await _sees_identity(client, alert_id, tokens["supervisor"])


async def test_the_reason_is_stored_encrypted_and_neither_audit_nor_event_carries_it(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    alert_id, tokens = await _restricted_child_alert(client, context)
    spv = auth(tokens["supervisor"])
    grant = (
        await client.post(
            f"/v1/alerts/{alert_id}/break-glass", json={"reason": REASON}, headers=spv
        )
    ).json()
    async with context.sessions() as session:
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "alert.glass_broken")
            )
        ).one()
        events = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.alert_id == uuid.UUID(alert_id))
            )
        ).all()
        stored = (await session.execute(text("SELECT * FROM break_glass_grant"))).one()
    # The reason may name people: only its ciphertext is stored, bound to its grant.
    assert REASON.encode() not in b"".join(
        v if isinstance(v, bytes) else str(v).encode() for v in stored
    )
    assert str(audit.object_id) == alert_id and audit.actor_id == grant["staff_id"]
    assert audit.detail == {"grant_id": grant["id"], "until": audit.detail["until"]}
    assert audit.detail["until"][:19] == grant["expires_at"][:19]
    payloads = {e.event_type: e.payload for e in events}
    assert payloads["alert.restricted"]["reason"] == "staff_member"
    assert payloads["alert.glass_broken"]["until"] == audit.detail["until"]
    for event in events:  # nothing personal and no reason text on the stream, ever
        assert not any(c in str(event.payload) for c in (*CANARIES, REASON)), event.event_type

    # The stream: supervisors see who broke the glass live; transit staff and integrators not.
    glass = StreamEvent(
        9,
        "alert.glass_broken",
        context.clock.now(),
        events[0].alert_id,
        payloads["alert.glass_broken"],
    )
    assert message_for(Audience(kind="staff", role="supervisor"), glass, None) is not None
    assert (
        message_for(Audience(kind="integrator", scopes=frozenset({"alerts:read"})), glass, None)
        is None
    )
    transit = Audience(
        kind="staff", role="transit_staff", unit_id=events[0].alert_id, unit_code="x"
    )
    assert message_for(transit, glass, None) is None
    # The central desk never had the alert: a supervisor's restriction does not reach it.
    restricted = StreamEvent(
        8, "alert.restricted", context.clock.now(), glass.alert_id, payloads["alert.restricted"]
    )
    central = Audience(kind="staff", role="counselor", unit_id=uuid.uuid4(), unit_code="central")
    assert "unit_code" not in payloads["alert.restricted"]
    assert message_for(central, restricted, None) is None
    timeline = (await client.get(f"/v1/alerts/{alert_id}/timeline", headers=spv)).json()
    assert {"alert.restricted", "alert.glass_broken"} <= {e["event"] for e in timeline}
    # The read through the glass is audited as such.
    await client.get(f"/v1/alerts/{alert_id}", headers=spv)
    async with context.sessions() as session:
        reads = (
            await session.scalars(
                select(AuditEntry.detail).where(
                    AuditEntry.action == "alert.read", AuditEntry.actor_id == grant["staff_id"]
                )
            )
        ).all()
    assert {"through_glass": True} in reads


async def test_the_break_glass_report_lists_every_grant_newest_first_in_pages(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    alert_id, tokens = await _restricted_child_alert(client, context)
    for who in ("supervisor", "supervisor2"):
        clock.advance(60)
        answer = await client.post(
            f"/v1/alerts/{alert_id}/break-glass",
            json={"reason": f"{REASON} ({who})"},
            headers=auth(tokens[who]),
        )
        assert answer.status_code == 201
    first = await client.get("/v1/break-glass?limit=1", headers=auth(tokens["admin"]))
    assert first.status_code == 200, first.text
    page = first.json()
    assert [i["username"] for i in page["items"]] == ["spv2"] and page["next_cursor"]
    second = (
        await client.get(
            f"/v1/break-glass?limit=1&cursor={page['next_cursor']}", headers=auth(tokens["admin"])
        )
    ).json()
    assert [i["username"] for i in second["items"]] == ["spv"] and second["next_cursor"] is None
    assert second["items"][0]["reason"] == f"{REASON} (supervisor)"
    assert second["items"][0]["case_code"].startswith("SGP-")
    mine = await client.get(
        f"/v1/break-glass?alert_id={alert_id}", headers=auth(tokens["supervisor"])
    )
    assert len(mine.json()["items"]) == 2
    for token in ("holder", "stranger"):
        denied = await client.get("/v1/break-glass", headers=auth(tokens[token]))
        assert denied.status_code == 403
    assert (
        await client.get("/v1/break-glass?cursor=bogus", headers=auth(tokens["admin"]))
    ).status_code == 422


async def test_who_may_restrict_and_lift_and_what_an_unrestricted_record_answers(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    alert_id, tokens = await _restricted_child_alert(client, context)
    url = f"/v1/alerts/{alert_id}/restriction"
    lift = {"restricted": False}
    for who in ("holder", "admin"):
        assert (await client.post(url, json=lift, headers=auth(tokens[who]))).status_code == 403
    assert (await client.post(url, json=lift, headers=auth(tokens["stranger"]))).status_code == 404
    bad = await client.post(url, json={"restricted": True}, headers=auth(tokens["supervisor"]))
    assert bad.status_code == 422
    spv = auth(tokens["supervisor"])
    # Not a way round the glass: lifting opens the record, so it takes seeing it whole first.
    blind = await client.post(url, json=lift, headers=spv)
    assert blind.status_code == 403 and "Break the glass first" in blind.json()["detail"]
    assert not await _sees_identity(client, alert_id, tokens["supervisor"])
    glass = await client.post(
        f"/v1/alerts/{alert_id}/break-glass", json={"reason": REASON}, headers=spv
    )
    assert glass.status_code == 201
    assert (await client.post(url, json=lift, headers=spv)).status_code == 204
    assert (await client.post(url, json=lift, headers=spv)).status_code == 204  # no change
    assert await _sees_identity(client, alert_id, tokens["supervisor"])
    view = (await client.get(f"/v1/alerts/{alert_id}", headers=spv)).json()
    assert view["restricted"] is False and view["break_glass"] is None
    glass = await client.post(
        f"/v1/alerts/{alert_id}/break-glass", json={"reason": REASON}, headers=spv
    )
    assert glass.status_code == 409 and glass.json()["type"].endswith("/conflict")
    async with context.sessions() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.action.like("alert.%restricted"))
            )
        ).all()
    assert sorted(actions) == ["alert.restricted", "alert.unrestricted"]
    # A supervisor restricts too; a transit unit's staff may not.
    again = {"restricted": True, "reason": "protected_witness"}
    clock.advance(60)  # within the grant's 30 minutes
    assert (await client.post(url, json=again, headers=spv)).status_code == 204
    # Restricted again: the grant given under the earlier restriction opens nothing now.
    assert not await _sees_identity(client, alert_id, tokens["supervisor"])
    view = (await client.get(f"/v1/alerts/{alert_id}", headers=spv)).json()
    assert view["break_glass"] is not None and view["glass_until"] is None
    transit = await staff_token(client, context, "petugas.tj", "transit_staff", "transjakarta")
    assert (await client.post(url, json=again, headers=auth(transit))).status_code == 403
    integrator = await integrator_token(client, context, ["alerts:read"])
    assert (await client.post(url, json=again, headers=auth(integrator))).status_code == 403


async def test_whether_the_victim_is_a_child_never_shows_through_the_case_file_or_its_export(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """The case's age group says what ``victim_is_child`` says: hidden from whoever the alert
    hides that from (a supervisor before the glass, an integrator), on every case route."""
    alert_id, tokens = await _restricted_child_alert(client, context)
    holder, spv = auth(tokens["holder"]), auth(tokens["supervisor"])
    opened = await client.post(
        f"/v1/alerts/{alert_id}/case",
        json={"violence_types": ["psikis"], "risk_level": "high", "victim_age_group": "child"},
        headers=holder,
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["victim_age_group"] == "child"
    case_id = opened.json()["id"]
    before = await client.get(f"/v1/alerts/{alert_id}/case", headers=spv)
    assert before.status_code == 200 and before.json()["victim_age_group"] is None
    patched = await client.patch(f"/v1/cases/{case_id}", json={"risk_level": "medium"}, headers=spv)
    assert patched.status_code == 200 and patched.json()["victim_age_group"] is None
    export = await client.get(f"/v1/exports/alerts/{alert_id}/simfoni", headers=spv)
    assert export.status_code == 200 and export.json()["kelompok_umur_korban"] is None
    glass = await client.post(
        f"/v1/alerts/{alert_id}/break-glass", json={"reason": REASON}, headers=spv
    )
    assert glass.status_code == 201
    after = await client.get(f"/v1/alerts/{alert_id}/case", headers=spv)
    assert after.json()["victim_age_group"] == "child"
    export = await client.get(f"/v1/exports/alerts/{alert_id}/simfoni", headers=spv)
    assert export.json()["kelompok_umur_korban"] == "child"  # through the glass, audited
    integrator = await integrator_token(client, context, ["exports:read", "cases:read"])
    answer = await client.get(f"/v1/exports/alerts/{alert_id}/simfoni", headers=auth(integrator))
    assert answer.status_code == 404 or answer.json()["kelompok_umur_korban"] is None


async def test_every_read_through_the_glass_is_audited_as_such(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    alert_id, tokens = await _restricted_child_alert(client, context)
    spv = auth(tokens["supervisor"])
    glass = await client.post(
        f"/v1/alerts/{alert_id}/break-glass", json={"reason": REASON}, headers=spv
    )
    assert glass.status_code == 201
    for method, url, body in (
        ("GET", f"/v1/alerts/{alert_id}", None),
        ("GET", "/v1/alerts", None),
        ("GET", f"/v1/alerts/{alert_id}/notes", None),
        ("GET", f"/v1/exports/alerts/{alert_id}/eido", None),
        ("POST", f"/v1/alerts/{alert_id}/progress", {"milestone": "contacted"}),
    ):
        answer = await client.request(method, url, json=body, headers=spv)
        assert answer.status_code == 200, (url, answer.text)
    async with context.sessions() as session:
        rows = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.detail).where(
                    AuditEntry.actor_id == glass.json()["staff_id"],
                    AuditEntry.object_id == uuid.UUID(alert_id),
                )
            )
        ).all()
    marked = {action for action, detail in rows if (detail or {}).get("through_glass")}
    assert marked == {"alert.read", "alert.notes_read", "export.eido"}
    vias = {(detail or {}).get("via") for action, detail in rows if action == "alert.read"}
    assert vias == {None, "list", "answer"}
