"""Asking the audit trail: known reads and writes come back, need-to-know applies to the trail
itself (admins see administration only; a restricted record's entries only through the glass),
a data-subject answer names no staff member, and every query is itself audited."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from app.context import AppContext
from app.models import AuditEntry
from tests.api.test_cli_rosters import cli_env, run  # noqa: F401  (a fixture and a helper)
from tests.dispatch.staffing import drain, legs, token_on_duty
from tests.helpers import auth, press, press_body, register, staff_token
from tests.policy.test_break_glass import REASON, _restricted_child_alert

MENTENG = "3173020"


async def _held_alert(client: httpx.AsyncClient, context: AppContext) -> tuple[str, str, str]:
    """An alert Menteng's counselor accepted and read: (alert id, case code, counselor token)."""
    counselor = await token_on_duty(client, context, "konselor.menteng", "counselor", MENTENG)
    _, device = await register(client)
    pressed = (await press(client, device, press_body(context, location={
        "lat": -6.1994, "lon": 106.8415, "accuracy_m": 15,
        "fix_at": context.clock.now().isoformat(),
    }))).json()
    await drain(context)
    leg = next(str(g.id) for g in await legs(context, pressed["id"]) if g.unit_code == MENTENG)
    assert (await client.post(f"/v1/assignments/{leg}/accept", headers=auth(counselor))).is_success
    assert (await client.get(f"/v1/alerts/{pressed['id']}", headers=auth(counselor))).is_success
    return str(pressed["id"]), str(pressed["case_code"]), counselor


async def test_a_supervisor_finds_who_read_and_changed_an_alert(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    alert_id, case_code, _ = await _held_alert(client, context)
    spv = auth(await staff_token(client, context, "spv", "supervisor", "central"))

    answer = await client.get("/v1/audit", params={"alert": case_code}, headers=spv)
    assert answer.status_code == 200, answer.text
    entries = answer.json()["items"]
    by_action = {(e["action"], e["actor"]) for e in entries}
    assert ("assignment.accepted", "konselor.menteng") in by_action
    assert ("alert.read", "konselor.menteng") in by_action
    assert all(e["case_code"] in (case_code, None) for e in entries)
    reads = (await client.get(
        "/v1/audit", params={"alert": alert_id, "kind": "read"}, headers=spv
    )).json()["items"]
    assert reads and {e["kind"] for e in reads} == {"read"}

    # A data-subject answer: units, roles, times and kinds; never a staff member's name.
    subject = (await client.get(
        "/v1/audit", params={"alert": case_code, "view": "subject"}, headers=spv
    )).json()["items"]
    assert subject and all(e["actor"] is None for e in subject if e["actor_type"] == "staff")
    assert {"counselor", MENTENG} <= {v for e in subject for v in (e["actor_role"],
                                                                      e["actor_unit"])}
    assert "konselor.menteng" not in str(subject)

    csv_text = (await client.get(
        "/v1/audit", params={"alert": case_code, "format": "csv"}, headers=spv
    )).text
    assert csv_text.splitlines()[0].startswith("id,at,kind,action")
    assert "konselor.menteng" in csv_text

    # Each query is itself audited, with its filters and never what it found.
    async with context.sessions() as session:
        queries = (await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "audit.query")
        )).all()
    assert len(queries) == 4
    assert all(case_code not in str(q.detail) for q in queries)


async def test_an_admin_sees_administration_and_never_a_victims_record(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    _, case_code, _ = await _held_alert(client, context)
    admin = auth(await staff_token(client, context, "adm", "admin", "central"))
    created = await client.post("/v1/users", headers=admin, json={
        "username": "paralegal.menteng", "password": "a long enough password",
        "role": "paralegal", "unit_code": MENTENG,
    })
    assert created.status_code == 201, created.text

    entries = (await client.get("/v1/audit", headers=admin)).json()["items"]
    assert "user.create" in {e["action"] for e in entries}
    assert not {e["object_type"] for e in entries} & {"alert", "case", "break_glass"}
    refused = await client.get("/v1/audit", params={"alert": case_code}, headers=admin)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")

    counselor = auth(await staff_token(client, context, "konselor.x", "counselor", "3174010"))
    assert (await client.get("/v1/audit", headers=counselor)).status_code == 403


async def test_a_restricted_records_entries_appear_only_through_the_glass(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    alert_id, tokens = await _restricted_child_alert(client, context)
    spv = auth(tokens["supervisor"])

    hidden = (await client.get("/v1/audit", headers=spv)).json()["items"]
    assert alert_id not in str(hidden)
    # Asked by id, the restricted record answers as if it had no entries at all.
    by_id = (await client.get("/v1/audit", params={"alert": alert_id}, headers=spv)).json()
    assert by_id["items"] == []

    glass = await client.post(
        f"/v1/alerts/{alert_id}/break-glass", json={"reason": REASON}, headers=spv
    )
    assert glass.is_success, glass.text
    seen = (await client.get("/v1/audit", params={"alert": alert_id}, headers=spv)).json()
    assert {"alert.glass_broken", "assignment.accepted"} <= {e["action"] for e in seen["items"]}
    # Another supervisor, without a grant of their own, still sees nothing of it.
    other = (await client.get(
        "/v1/audit", params={"alert": alert_id}, headers=auth(tokens["supervisor2"])
    )).json()
    assert other["items"] == []


async def test_the_cli_asks_as_a_named_account(
    client: httpx.AsyncClient,
    context: AppContext,
    cli_env: None,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, case_code, _ = await _held_alert(client, context)
    await staff_token(client, context, "spv", "supervisor", "central")
    await staff_token(client, context, "adm", "admin", "central")
    capsys.readouterr()
    assert await run(["audit", "query", "--as", "spv", "--alert", case_code]) == 0
    out = capsys.readouterr().out
    assert "assignment.accepted" in out and "konselor.menteng" in out and "+07:00" in out
    assert await run(["audit", "query", "--as", "spv", "--alert", case_code, "--subject",
                      "--csv"]) == 0
    out = capsys.readouterr().out
    assert "konselor.menteng" not in out and "counselor" in out
    assert await run(["audit", "query", "--as", "adm", "--alert", case_code]) == 2
    assert "administrative" in capsys.readouterr().err
    assert await run(["audit", "query", "--as", "adm", "--kind", "denied"]) == 0
    assert capsys.readouterr().out.strip() == "none"

