"""Sign-in throttling: the per-account back-off, trusted networks, the per-network limit, what
supervisors see, and a flood of wrong passwords while phones press."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.models import AuditEntry, OutboxEvent
from app.realtime.scopes import Audience, StreamEvent, message_for
from tests.helpers import PASSWORD, auth, make_staff, press, press_body, register, staff_token
from tests.identity.signin import (
    ATTACKER,
    ELSEWHERE,
    GatedHasher,
    attempt,
    client_from,
    with_security,
)

BACK_OFF = [1, 2, 4, 8, 16, 32]
"""Then, at the tenth failure, the unknown-devices lane locks for 15 minutes."""


def retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "slow_down"
    assert response.headers["cache-control"] == "no-store"
    return int(response.headers["retry-after"])


async def test_back_off_doubles_to_a_minute_and_a_correct_password_then_works(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await make_staff(context, "konselor.gambir", "counselor", "3171060")
    for _ in range(3):  # the first few mistakes cost nothing
        assert (await attempt(client, "konselor.gambir", "wrong")).status_code == 400
    waits = []
    for _ in BACK_OFF:
        assert (await attempt(client, "konselor.gambir", "wrong")).status_code == 400
        wait = retry_after(await attempt(client, "konselor.gambir", "wrong"))
        waits.append(wait)
        clock.advance(wait)
    assert waits == BACK_OFF

    assert (await attempt(client, "konselor.gambir", "wrong")).status_code == 400  # tenth
    # Within the window even the right password waits (else the back-off would stop nothing)...
    assert retry_after(await attempt(client, "konselor.gambir", PASSWORD)) == 900
    clock.advance(899)
    assert retry_after(await attempt(client, "konselor.gambir", PASSWORD)) == 1
    clock.advance(1)
    # ...and after it the right password works.
    assert (await attempt(client, "konselor.gambir", PASSWORD)).status_code == 200
    # A success clears the failures: the next mistakes are free again.
    for _ in range(3):
        assert (await attempt(client, "konselor.gambir", "wrong")).status_code == 400


async def test_unknown_usernames_are_throttled_exactly_like_known_ones(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await make_staff(context, "konselor.kb", "counselor", "3171060")
    seen: dict[str, list[tuple[int, str, str | None]]] = {}
    for username in ("konselor.kb", "konselor.xx"):  # the second does not exist
        clock.set(datetime(2026, 11, 23, 4, 0, tzinfo=UTC))
        answers = []
        for step in range(12):
            response = await attempt(client, username, "wrong")
            answers.append(
                (response.status_code, response.text, response.headers.get("retry-after"))
            )
            if step % 3 == 2:
                clock.advance(30)
        seen[username] = answers
    assert seen["konselor.kb"] == seen["konselor.xx"]
    assert any(status == 429 for status, _, _ in seen["konselor.kb"])


async def test_failures_elsewhere_do_not_keep_the_counselor_out_on_her_own_device(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await make_staff(context, "konselor.menteng", "counselor", "3171060")
    signed_in = await attempt(client, "konselor.menteng", PASSWORD)  # her phone's app
    assert signed_in.status_code == 200
    device = signed_in.json()["device_token"]
    async with client_from(context, ATTACKER) as attacker:
        answers = [
            (await attempt(attacker, "konselor.menteng", "guess")).status_code for _ in range(8)
        ]
        assert answers[:4] == [400] * 4 and set(answers[4:]) == {429}
        # A device the account never signed in from shares the unknown lane, so spreading
        # guesses over many addresses buys nothing...
        async with client_from(context, ELSEWHERE) as elsewhere:
            assert retry_after(await attempt(elsewhere, "konselor.menteng", PASSWORD)) >= 1
            # ...but her phone, from any network, is judged on its own clean record: in at once.
            known = await attempt(elsewhere, "konselor.menteng", PASSWORD, device=device)
            assert known.status_code == 200, known.text
        assert retry_after(await attempt(attacker, "konselor.menteng", "guess")) >= 1


async def test_each_network_has_a_generous_limit_of_password_attempts(
    context: AppContext, clock: FrozenClock
) -> None:
    limited = with_security(context, signin_per_network_limit=5, signin_per_network_window_s=600)
    await make_staff(limited, "konselor.tebet", "counselor", "3171060")
    async with client_from(limited, ATTACKER) as attacker, client_from(limited, ELSEWHERE) as other:
        # One guess on each of many usernames: the per-account back-off never starts.
        for n in range(5):
            assert (await attempt(attacker, f"user{n}", "guess")).status_code == 400
        wait = retry_after(await attempt(attacker, "konselor.tebet", PASSWORD))
        assert 1 <= wait <= 601
        # Another network is not affected...
        assert (await attempt(other, "konselor.tebet", PASSWORD)).status_code == 200
        # ...and the limited one gets its turn again in the next window.
        clock.advance(wait)
        assert (await attempt(attacker, "konselor.tebet", PASSWORD)).status_code == 200


async def test_supervisors_are_told_of_repeated_failures_and_can_list_them(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    watched = with_security(context, signin_alert_failures=4)
    await make_staff(watched, "konselor.senen", "counselor", "3171060")
    async with client_from(watched, ATTACKER) as attacker:
        for _ in range(8):
            response = await attempt(attacker, "konselor.senen", "guess")
            assert response.status_code == 400
            clock.advance(60)
        await attempt(attacker, "nobody.at.all", "guess")  # unknown names are never listed
    async with watched.sessions() as session:
        told = (
            await session.scalars(
                select(OutboxEvent.payload).where(
                    OutboxEvent.event_type == "staff.sign_in_failures"
                )
            )
        ).all()
    assert [p["failures"] for p in told] == [4, 8]  # at the threshold and at its doubling
    assert told[0]["username"] == "konselor.senen"

    supervisor = await staff_token(client, watched, "supervisor.pusat", "supervisor", "central")
    listed = await client.get("/v1/sign-in-failures", headers=auth(supervisor))
    assert listed.status_code == 200, listed.text
    (entry,) = listed.json()
    assert entry["username"] == "konselor.senen" and entry["failures"] == 8
    assert entry["networks"] == [
        {
            "network": ATTACKER,
            "failures": 8,
            "last_failure_at": entry["last_failure_at"],
            "trusted": False,
        }
    ]
    counselor = await staff_token(client, watched, "konselor.lain", "counselor", "3171060")
    assert (await client.get("/v1/sign-in-failures", headers=auth(counselor))).status_code == 403
    async with watched.sessions() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "sign_in_failures.read" in actions


def test_sign_in_failures_reach_supervisors_only_on_the_stream() -> None:
    event = StreamEvent(
        seq=1,
        event="staff.sign_in_failures",
        at=datetime(2026, 11, 23, tzinfo=UTC),
        alert_id=None,
        data={"user_id": "u", "username": "konselor.senen", "failures": 10, "alert_id": None},
    )
    assert message_for(Audience(kind="staff", role="supervisor"), event, None) is not None
    integrator = Audience(kind="integrator", scopes=frozenset({"alerts:read"}))
    assert message_for(integrator, event, None) is None
    counselor = Audience(kind="staff", role="counselor", unit_code="3171060")
    assert message_for(counselor, event, None) is None


async def test_presses_complete_while_a_flood_of_wrong_passwords_keeps_hashing_busy(
    context: AppContext,
) -> None:
    """Fifty concurrent wrong passwords for one account while phones press: the presses all
    answer 2xx while every hashing thread is held busy, before the flood has finished, and the
    flood is mostly refused with 429 before costing a hash."""
    threads = context.settings.security.hashing_threads
    hasher = GatedHasher(context.settings.security, busy_at=threads)
    gated = replace(context, hasher=hasher)
    await make_staff(gated, "konselor.gambir", "counselor", "3171060")
    async with client_from(gated, ATTACKER) as attacker, client_from(gated, "203.0.113.7") as phone:
        phones = [(await register(phone))[1] for _ in range(5)]
        flood = [
            asyncio.create_task(attempt(attacker, "konselor.gambir", f"guess-{n}"))
            for n in range(50)
        ]
        try:
            # A hang guard (argon2 on the loop would never return), not a latency bound.
            async with asyncio.timeout(60):
                await hasher.busy.wait()  # every hashing thread is held
                presses = await asyncio.gather(
                    *(press(phone, credential, press_body(gated)) for credential in phones)
                )
            assert [p.status_code for p in presses] == [201] * 5
            assert not all(task.done() for task in flood)  # the flood is still being hashed
        finally:
            hasher.gate.set()
        answers = await asyncio.gather(*flood)
    statuses = sorted(a.status_code for a in answers)
    free = context.settings.security.signin_free_failures
    assert statuses == [400] * (free + 1) + [429] * (50 - free - 1)
    assert all(a.json()["error"] == "invalid_grant" for a in answers if a.status_code == 400)
