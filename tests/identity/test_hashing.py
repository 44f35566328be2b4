"""Argon2 off the event loop: PIN checks in one thread job that always verifies every stored PIN
slot, and PIN tries limited however many arrive at once."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.clock import Clock
from app.context import AppContext
from app.main import build_context
from app.models import Alert
from app.security.fields import new_key_spec
from app.security.hashing import DUMMY_PIN_SLOTS, SecretHasher, pepper_of
from tests.conftest import make_settings
from tests.helpers import auth, press, press_body, register
from tests.identity.signin import CountingHasher, client_from

GENUINE, DURESS = "2468", "1357"


async def _device_with_alert(
    client: httpx.AsyncClient, clock: Clock, *, duress: str | None = DURESS
) -> tuple[str, str]:
    _, credential = await register(client)
    body = {"cancel_pin": GENUINE} | ({"duress_pin": duress} if duress else {})
    response = await client.put("/v1/devices/me/pins", json=body, headers=auth(credential))
    assert response.status_code == 204, response.text
    created = await press(client, credential, press_body(clock))
    return credential, created.json()["id"]


async def test_a_cancel_verifies_every_pin_slot_in_one_job_whichever_is_sent(
    context: AppContext,
) -> None:
    hasher = CountingHasher(context.settings.security)
    counted = replace(context, hasher=hasher)
    answers: dict[str, tuple[int, dict[str, Any]]] = {}
    async with client_from(counted, "203.0.113.7") as client:
        for label, pin, duress in (
            ("genuine", GENUINE, DURESS),
            ("duress", DURESS, DURESS),
            ("wrong", "0000", DURESS),
            ("no duress PIN set", GENUINE, None),
        ):
            credential, alert_id = await _device_with_alert(client, counted.clock, duress=duress)
            hasher.verifications = hasher.jobs = 0
            response = await client.post(
                f"/v1/alerts/{alert_id}/cancel", json={"pin": pin}, headers=auth(credential)
            )
            assert (hasher.verifications, hasher.jobs) == (DUMMY_PIN_SLOTS, 1), label
            body = response.json()
            answers[label] = (response.status_code, body)
    assert answers["wrong"][0] == 403
    genuine, duress = answers["genuine"], answers["duress"]
    assert genuine[0] == duress[0] == 200
    # The phone cannot tell them apart: same fields, same values but its own alert's id/times.
    assert genuine[1].keys() == duress[1].keys()
    assert genuine[1]["status"] == duress[1]["status"] == "cancelled"
    async with counted.sessions() as session:
        alerts = (await session.scalars(select(Alert))).all()
    # The duress alert carries on silently; the genuine one is cancelled.
    assert sorted((a.duress, a.state) for a in alerts if a.device_status == "cancelled") == [
        (False, "cancelled"),
        (False, "cancelled"),
        (True, "received"),
    ]


async def test_concurrent_wrong_pins_buy_no_extra_tries(context: AppContext) -> None:
    async with client_from(context, "203.0.113.7") as client:
        credential, alert_id = await _device_with_alert(client, context.clock)
        answers = await asyncio.gather(
            *(
                client.post(
                    f"/v1/alerts/{alert_id}/cancel",
                    json={"pin": f"000{n}"},
                    headers=auth(credential),
                )
                for n in range(10)
            )
        )
    limit = context.settings.intake.pin_max_failures
    assert sorted(a.status_code for a in answers) == [403] * limit + [429] * (10 - limit)


async def test_hashing_runs_on_the_hashers_threads_never_the_loop(context: AppContext) -> None:
    threads: list[str] = []
    priorities: set[int] = set()

    class Recording(SecretHasher):
        def verify_blocking(self, stored: str | None, secret: str) -> bool:
            threads.append(threading.current_thread().name)
            priorities.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            return super().verify_blocking(stored, secret)

    hasher = Recording(context.settings.security)
    stored = await hasher.hash("correct horse battery staple")
    assert await hasher.verify(stored, "correct horse battery staple")
    assert not await hasher.verify(None, "anything")  # no hash: still one verification
    check = await hasher.verify_pins((stored, None, None), "x")
    assert (check.cancel, check.duress) == (False, False)
    assert len(threads) == 2 + DUMMY_PIN_SLOTS
    assert all(name.startswith("sigap-argon2") for name in threads)
    assert priorities == {19}  # the CPU intake leaves over, never the loop's share


async def test_a_deployment_without_a_pin_pepper_starts_and_says_how_to_add_one(
    context: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    """An .env from before peppers: intake is never refused for it; PINs are hashed unpeppered
    and start-up tells the operator what to add (``sigap secrets`` prints it)."""
    settings = make_settings(context.settings.database_url, dev=False)
    assert settings.unsafe_reasons() == [] and settings.effective_pin_peppers == ""
    with caplog.at_level(logging.WARNING, logger="sigap"):
        production = build_context(settings)
    try:
        assert production.hasher.peppers.primary is None
        assert any(
            "SIGAP_SECURITY__PIN_PEPPERS" in r.getMessage() and "sigap secrets" in r.getMessage()
            for r in caplog.records
        )
        stored = await production.hasher.hash_pins("2468")
        assert stored[0].startswith("$argon2id$")  # unpeppered, and still checked
        assert (await production.hasher.verify_pins((stored[0],), "2468")).cancel
    finally:
        await production.engine.dispose()


async def test_old_peppers_verify_and_renew_and_one_that_left_costs_the_same_work(
    context: AppContext,
) -> None:
    """A hash under an older pepper still in the ring matches and is renewed under the first;
    one under a pepper that left the ring cannot match (so operators keep old peppers), but
    checking it costs the same verifications: no key change alters the work."""
    old_key, new_key = new_key_spec("old"), new_key_spec("new")
    stored = (await SecretHasher(context.settings.security, peppers=old_key).hash_pins("2468"))[0]
    assert pepper_of(stored)[0] == "old"
    kept = CountingHasher(context.settings.security, peppers=f"{new_key},{old_key}")
    check = await kept.verify_pins((stored, None, None), "2468")
    assert check.cancel and check.rehashed is not None and check.rehashed[0] is not None
    assert pepper_of(check.rehashed[0])[0] == "new"
    assert kept.verifications == DUMMY_PIN_SLOTS
    dropped = CountingHasher(context.settings.security, peppers=new_key)
    check = await dropped.verify_pins((stored, None, None), "2468")
    assert (check.cancel, check.duress, dropped.verifications) == (False, False, DUMMY_PIN_SLOTS)
