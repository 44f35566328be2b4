"""The actions an alert's read shows are the actions the server takes: states x legs x roles.

For every scenario (who holds which leg, how far the work went) and every person, each action the
read (`GET /v1/alerts/{id}`: ``actions``) allows is taken on a fresh copy of the scenario and
succeeds; each it refuses is attempted and refused with the same ``reason`` in the problem, and
changes nothing. "Done already" (``accepted_by_you``, ``recorded``) answers as done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from app.clock import FrozenClock
from app.context import AppContext
from app.dispatch.permissions import ACTIONS, DONE_ALREADY, REASONS
from tests.dispatch.staffing import drain, legs, on_duty, post, token_on_duty
from tests.helpers import auth, press, press_body, register, staff_token

KB, KL = "3171060", "3171050"
PEOPLE = ("guard", "kb_a", "kb_b", "supervisor")
Build = Callable[[httpx.AsyncClient, AppContext, dict[str, str]], Awaitable[str]]


async def _offered(client: httpx.AsyncClient, context: AppContext, t: dict[str, str]) -> str:
    """Pressed at Blok M: offered to Transjakarta (transit leg) and Kebayoran Baru (post leg)."""
    _, credential = await register(client)
    alert_id = str((await press(client, credential, press_body(context))).json()["id"])
    await drain(context)
    assert {g.leg_kind for g in await legs(context, alert_id)} == {"transit", "post"}
    return alert_id


async def _accept(
    context: AppContext, client: httpx.AsyncClient, alert_id: str, token: str, kind: str
) -> None:
    leg = next(g for g in await legs(context, alert_id) if g.leg_kind == kind)
    answer = await post(client, f"/v1/assignments/{leg.id}/accept", token)
    assert answer.status_code == 200, answer.text


async def _transit_held(client: httpx.AsyncClient, context: AppContext, t: dict[str, str]) -> str:
    alert_id = await _offered(client, context, t)
    await _accept(context, client, alert_id, t["guard"], "transit")
    return alert_id


async def _both_held(client: httpx.AsyncClient, context: AppContext, t: dict[str, str]) -> str:
    alert_id = await _transit_held(client, context, t)
    await _accept(context, client, alert_id, t["kb_a"], "post")
    return alert_id


async def _handed(client: httpx.AsyncClient, context: AppContext, t: dict[str, str]) -> str:
    alert_id = await _transit_held(client, context, t)
    answer = await post(client, f"/v1/alerts/{alert_id}/hand-to-counselor", t["guard"])
    assert answer.status_code == 200, answer.text
    return alert_id


async def _contacted(client: httpx.AsyncClient, context: AppContext, t: dict[str, str]) -> str:
    alert_id = await _both_held(client, context, t)
    body = {"milestone": "contacted"}
    assert (await post(client, f"/v1/alerts/{alert_id}/progress", t["kb_a"], body)).is_success
    return alert_id


async def _resolved(client: httpx.AsyncClient, context: AppContext, t: dict[str, str]) -> str:
    alert_id = await _both_held(client, context, t)
    body = {"disposition": "assisted"}
    assert (await post(client, f"/v1/alerts/{alert_id}/resolve", t["kb_a"], body)).is_success
    return alert_id


SCENARIOS: dict[str, Build] = {
    "offered": _offered,
    "transit_held": _transit_held,
    "both_held": _both_held,
    "handed_to_counselor": _handed,
    "contacted": _contacted,
    "resolved": _resolved,
}


async def _take(
    client: httpx.AsyncClient,
    context: AppContext,
    alert_id: str,
    action: str,
    token: str,
    verdict: dict[str, Any],
) -> httpx.Response:
    """Take ``action`` the way the console does; on the verdict's leg, or any leg if none."""
    leg = verdict.get("assignment_id") or str((await legs(context, alert_id))[0].id)
    path, body = {
        "accept": (f"/v1/assignments/{leg}/accept", None),
        "decline": (f"/v1/assignments/{leg}/decline", {"reason": "on another case"}),
        "contacted": (f"/v1/alerts/{alert_id}/progress", {"milestone": "contacted"}),
        "on_scene": (f"/v1/alerts/{alert_id}/progress", {"milestone": "on_scene"}),
        "handed_over": (
            f"/v1/alerts/{alert_id}/progress",
            {"milestone": "handed_over", "handed_over_to": "police"},
        ),
        "hand_to_counselor": (f"/v1/alerts/{alert_id}/hand-to-counselor", None),
        "resolve": (f"/v1/alerts/{alert_id}/resolve", {"disposition": "assisted"}),
        "note": (f"/v1/alerts/{alert_id}/notes", {"text": "table test"}),
        "reassign": (f"/v1/alerts/{alert_id}/reassign", {"unit_code": KL, "reason": "table"}),
        "break_claim": (f"/v1/assignments/{leg}/break", {"reason": "table test"}),
        "reopen": (f"/v1/alerts/{alert_id}/reopen", {"reason": "victim called back"}),
    }[action]
    return await post(client, path, token, body)


async def _actions(client: httpx.AsyncClient, alert_id: str, token: str) -> dict[str, Any]:
    read = await client.get(f"/v1/alerts/{alert_id}", headers=auth(token))
    assert read.status_code == 200, read.text
    actions: dict[str, Any] = read.json()["actions"]
    assert set(actions) == set(ACTIONS)
    return actions


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_every_allowed_action_succeeds_and_every_refused_one_is_refused_alike(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock, scenario: str
) -> None:
    t = {
        "guard": await token_on_duty(
            client, context, "petugas.tj", "transit_staff", "transjakarta"
        ),
        "kb_a": await token_on_duty(client, context, "konselor.a", "counselor", KB),
        "kb_b": await token_on_duty(client, context, "konselor.b", "counselor", KB),
        "supervisor": await staff_token(client, context, "spv", "supervisor", "central"),
    }
    await on_duty(context, "konselor.kl", KL)
    build = SCENARIOS[scenario]
    alert_id = await build(client, context, t)
    allowed: list[tuple[str, str]] = []
    cells = 0
    for who in PEOPLE:
        before = await _actions(client, alert_id, t[who])
        for action, verdict in before.items():
            cells += 1
            if verdict["allowed"]:
                assert verdict["reason"] is None
                allowed.append((who, action))
                continue
            assert verdict["reason"] in REASONS, (who, action, verdict)
            answer = await _take(client, context, alert_id, action, t[who], verdict)
            if verdict["reason"] in DONE_ALREADY:
                assert answer.is_success, (scenario, who, action, answer.text)
            elif verdict["reason"] == "not_offered":
                assert answer.status_code == 404, (scenario, who, action, answer.text)
            else:
                assert answer.status_code in (403, 409), (scenario, who, action, answer.text)
                assert answer.json().get("reason") == verdict["reason"], (
                    scenario,
                    who,
                    action,
                    answer.text,
                )
        # Refusals changed nothing: the same person reads the same verdicts.
        assert await _actions(client, alert_id, t[who]) == before, (scenario, who)
    for who, action in allowed:  # each on a fresh copy of the scenario
        fresh = await build(client, context, t)
        verdict = (await _actions(client, fresh, t[who]))[action]
        assert verdict["allowed"], (scenario, who, action)
        answer = await _take(client, context, fresh, action, t[who], verdict)
        assert answer.is_success, (scenario, who, action, answer.text)
    assert cells == len(PEOPLE) * len(ACTIONS)
