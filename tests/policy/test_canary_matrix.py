"""The authorization matrix with a canary in every personal field, checked in EVERY response body.

One table of principals says what each may see; every principal is sent to every alert route
(found from the route table, so a new route joins by itself) and to the lists, on a child
victim's alert that was routed, offered, expired at one post and claimed by the next. A 200 that
carries a canary to someone not entitled to it is a leak; a denial to someone entitled to read is
a wrong denial. The matrix size is printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.api.shedding import ROUTE_PRIORITIES
from app.clock import FrozenClock
from app.context import AppContext
from tests.dispatch.staffing import drain, legs, on_duty, token_on_duty
from tests.helpers import auth, integrator_token, press, press_body, register, staff_token
from tests.policy.test_every_route_asks import BODIES

KB, KL = "3171060", "3171050"
IDENTITY = ("CANARY-NAME", "CANARY-PHONE", "CANARY-TEXT")
"""The child victim's identity: contact name and phone, free text (also in the raw body)."""
NOTE = "CANARY-NOTE"
"""Written by the claim holder after Kebayoran Baru's offer closed."""


@dataclass(frozen=True)
class Who:
    reads_alert: bool = False
    """May read the alert's routes (200 on GET)."""
    identity: bool = False
    notes: bool = False


TABLE: dict[str, Who] = {
    "anonymous": Who(),
    "owner_device": Who(),  # the reassurance view only: no canary, no staff route
    "other_device": Who(),
    "holder_counselor": Who(reads_alert=True, identity=True, notes=True),
    "holder_paralegal": Who(reads_alert=True, identity=True, notes=True),
    "expired_post_counselor": Who(),  # passed on: its sight ended with the grace
    "other_post_counselor": Who(),
    "transit_offered": Who(reads_alert=True),  # accepted on the spot; pseudonymous
    "transit_other_operator": Who(),
    "supervisor": Who(reads_alert=True, identity=True, notes=True),
    "admin": Who(reads_alert=True, identity=True, notes=True),
    "integrator_alerts": Who(),  # no data scope yet: nothing through REST
    "integrator_reference": Who(),
}
RESTRICTED_TABLE: dict[str, Who] = {
    **TABLE,
    # A restricted record (the victim is a staff member): identity only for the unit holding the
    # claim; supervisors see it pseudonymous until they break the glass, admins never.
    "supervisor": Who(reads_alert=True),
    "admin": Who(reads_alert=True),
}
STAFF_ONLY_READS = {"/v1/alerts/{alert_id}/notes": ("transit_offered",)}
"""Routes a reader's role still may not use (transit staff read no notes: 403)."""
CASE_ROUTES = ("/v1/alerts/{alert_id}/case",)
PASSED_ON = "/v1/alerts/{alert_id}/passed-on"
"""Where the alert went: unit codes only, for the units that had a leg, whose sight may have
ended (the on-call link opened late). Canaries are checked in it like everywhere else."""
LEG_UNITS = ("expired_post_counselor", "holder_counselor", "holder_paralegal", "transit_offered")


async def _tokens(client: httpx.AsyncClient, context: AppContext) -> dict[str, str]:
    t: dict[str, str] = {}
    _, t["owner_device"] = await register(client)
    _, t["other_device"] = await register(client)
    t["expired_post_counselor"] = await token_on_duty(client, context, "k.kb", "counselor", KB)
    t["holder_counselor"] = await token_on_duty(client, context, "k.kl", "counselor", KL)
    t["holder_paralegal"] = await token_on_duty(client, context, "p.kl", "paralegal", KL)
    t["other_post_counselor"] = await staff_token(client, context, "k.x", "counselor", "3174010")
    t["transit_offered"] = await token_on_duty(
        client, context, "petugas.tj", "transit_staff", "transjakarta"
    )
    t["transit_other_operator"] = await token_on_duty(
        client, context, "petugas.mrt", "transit_staff", "mrt"
    )
    t["supervisor"] = await staff_token(client, context, "spv", "supervisor", "central")
    t["admin"] = await staff_token(client, context, "adm", "admin", "central")
    t["integrator_alerts"] = await integrator_token(client, context, ["alerts:read"])
    t["integrator_reference"] = await integrator_token(client, context, ["reference:read"])
    return t


@pytest.mark.parametrize("restricted", [False, True], ids=["open", "restricted"])
async def test_no_canary_reaches_anyone_not_entitled_and_no_reader_is_denied(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock, restricted: bool
) -> None:
    table = RESTRICTED_TABLE if restricted else TABLE
    tokens = await _tokens(client, context)
    await on_duty(context, "pusat", "central")
    body = press_body(
        context,
        victim_is_child=True,
        contact={"name": "CANARY-NAME", "phone": "CANARY-PHONE"},
        message="CANARY-TEXT",
    )
    alert_id = (await press(client, tokens["owner_device"], body)).json()["id"]
    await drain(context)
    tj_leg = next(str(g.id) for g in await legs(context, alert_id) if g.unit_code == "transjakarta")
    tj = auth(tokens["transit_offered"])
    assert (await client.post(f"/v1/assignments/{tj_leg}/accept", headers=tj)).is_success
    clock.advance(60)  # Kebayoran Baru's offer expires, Kebayoran Lama is offered
    await drain(context)
    kl_leg = next(str(g.id) for g in await legs(context, alert_id) if g.unit_code == KL)
    clock.advance(5)
    holder = auth(tokens["holder_counselor"])
    assert (await client.post(f"/v1/assignments/{kl_leg}/accept", headers=holder)).is_success
    assert (
        await client.post(f"/v1/alerts/{alert_id}/notes", json={"text": NOTE}, headers=holder)
    ).status_code == 201
    case = await client.post(
        f"/v1/alerts/{alert_id}/case",
        json=BODIES[("POST", "/v1/alerts/{alert_id}/case")],
        headers=holder,
    )
    assert case.status_code == 201, case.text
    if restricted:
        restrict = {"restricted": True, "reason": "staff_member"}
        url = f"/v1/alerts/{alert_id}/restriction"
        assert (await client.post(url, json=restrict, headers=holder)).status_code == 204
    clock.advance(120)  # Kebayoran Baru's grace is over

    reads = sorted(p for m, p in ROUTE_PRIORITIES if m == "GET" and "{alert_id}" in p)
    # Breaking the glass last: after it, the supervisor is entitled to what it then reads.
    writes = sorted(
        (
            (m, p)
            for m, p in ROUTE_PRIORITIES
            if m != "GET"
            and ("{alert_id}" in p or "{case_id}" in p)
            and (m, p) in BODIES
            # would end the matrix's alert, or lift its restriction
            and not p.endswith(("/resolve", "/reassign", "/case", "/restriction"))
        ),
        key=lambda route: (route[1].endswith("/break-glass"), route),
    )
    lists = ["/v1/alerts", "/v1/assignments?status=closed", "/v1/assignments"]
    leaks: list[str] = []
    wrong: list[str] = []
    cells = 0

    def check(who: str, label: str, answer: httpx.Response) -> None:
        entitled = table[who]
        hidden = [*(() if entitled.identity else IDENTITY), *(() if entitled.notes else (NOTE,))]
        leaked = [c for c in hidden if c in answer.text]
        if leaked:
            leaks.append(f"{who} {label} {answer.status_code}: {leaked}")

    for who in table:
        headers = auth(tokens[who]) if who in tokens else {}
        for path in reads:
            cells += 1
            url = path.replace("{alert_id}", alert_id)
            answer = await client.get(url, headers=headers)
            check(who, f"GET {path}", answer)
            reader = table[who].reads_alert and who not in STAFF_ONLY_READS.get(path, ())
            if path in CASE_ROUTES and who == "transit_offered":
                reader = False
            if path.startswith("/v1/exports/") and who not in ("supervisor", "admin"):
                reader = False  # exports: supervisors, admins, integrators with exports:read
            if path == PASSED_ON:
                reader = who in LEG_UNITS
            if reader and answer.status_code != 200:
                wrong.append(f"{who} GET {path}: {answer.status_code} {answer.text[:120]}")
            if not reader and answer.status_code < 400 and who != "owner_device":
                leaks.append(f"{who} GET {path}: {answer.status_code}")
        for url in lists:
            cells += 1
            check(who, f"GET {url}", await client.get(url, headers=headers))
        for method, path in writes:
            cells += 1
            url = path.replace("{alert_id}", alert_id).replace("{case_id}", case.json()["id"])
            payload: Any = BODIES[(method, path)]
            answer = await client.request(method, url, json=payload, headers=headers)
            check(who, f"{method} {path}", answer)
            if not table[who].reads_alert and answer.status_code < 400:
                leaks.append(f"{who} {method} {path}: {answer.status_code}")
    print(f"\ncanary matrix: {len(table)} principals x {cells // len(table)} route cells = {cells}")
    assert leaks == []
    assert wrong == []
    if restricted:  # the supervisor broke the glass among its writes: now it sees, admins not
        for who, sees in (("supervisor", True), ("admin", False), ("holder_counselor", True)):
            view = await client.get(f"/v1/alerts/{alert_id}", headers=auth(tokens[who]))
            assert ("CANARY-NAME" in view.text) is sees, who
