"""Schemathesis against the in-process app: the published OpenAPI description is what it does.

Every operation in ``/openapi.json`` gets a few generated requests: valid ones aimed at real
objects (an alert routed and offered to Kebayoran Baru and Transjakarta, claimed, with a case; a
shift; a spare account and integrator; a webhook endpoint), valid ones with generated
parameters, and invalid ones. A request that needs a bearer token carries the token of a
principal whose role gets past authorization there (found by sending the first request with
each principal's token), so every handler is reached, not stopped at 401/403. Each answer must
be no server error, a documented status with a documented content type, headers and a body that
match their schema, and a refusal when the request was invalid, except on the victim's press,
which takes more than its published schema on purpose (a press is never refused for its
content: PRODUCT.md section 2, step 1).

Cases are drawn by Hypothesis first (derandomized, so the same cases every run, and no deadline:
nothing depends on spare CPU) and sent afterwards, one by one on the suite's event loop through
the ``client`` fixture, so the app shares the test's database and frozen clock. The counts are
printed for the closing notes.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis.errors import HypothesisException
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

import app.api.webhooks as webhooks_api
from app.access import INTEGRATOR_SCOPES
from app.context import AppContext
from app.identity.integrators import create_integrator
from app.models import Assignment, Shift
from tests.conftest import BACKEND
from tests.dispatch.staffing import drain, legs, token_on_duty
from tests.helpers import (
    OPS_TOKEN,
    PASSWORD,
    auth,
    press,
    press_body,
    register,
    sign_in,
    staff_token,
)

pytestmark = pytest.mark.skipif(
    BACKEND != "sqlite",
    reason="run once, on SQLite: the schema and handlers are the same on both databases",
)

KB = "3171060"  # Kebayoran Baru: a press at Blok M is offered there and to Transjakarta
BASE_URL = "http://sigap.test"
POSITIVE_KNOWN = 2
"""Valid requests per operation aimed at the seeded objects (when its path names them)."""
POSITIVE_FREE = 2
"""Valid requests per operation with generated parameters."""
NEGATIVE = 3
"""Invalid requests per operation, at most one of them with an invalid ``Authorization``."""

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
)
LENIENT = {("POST", "/v1/alerts"): (negative_data_rejection,)}
"""The press records whatever it gets and flags it: accepting invalid data is its contract."""

STAFF = {
    "counselor": "konselor.kb",
    "paralegal": "paralegal.kb",
    "transit_staff": "petugas.tj",
    "supervisor": "spv.pusat",
    "admin": "admin.pusat",
}
SPENDS_CREDENTIALS = (
    ("POST", "/v1/auth/logout"),
    ("POST", "/v1/devices/me/credential"),
    ("DELETE", "/v1/devices/me"),
)
"""Operations that revoke the token they are called with: run last, fresh tokens after each."""
ENDS_ALERT = (
    ("POST", "/v1/alerts/{alert_id}/reassign"),
    ("POST", "/v1/alerts/{alert_id}/resolve"),
    ("POST", "/v1/alerts/{alert_id}/cancel"),
)
"""Operations that take the seeded alert from its claim holder or close it: after the others."""
SIGNED = ("POST", "/v1/integrations/status-webhooks/{client_id}")
"""Authenticated by a Standard Webhooks signature over the body, signed here for each case."""


@dataclass
class Tally:
    reached: set[str] = field(default_factory=set)
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Principals:
    tokens: dict[str, str]
    webhook_secret: str
    webhook_client_id: str


@dataclass
class Run:
    """Sends one operation's cases and checks each answer."""

    client: httpx.AsyncClient
    tally: Tally
    label: str
    checks: list[Any]
    tokens: dict[str, str]
    sign: Callable[[bytes], dict[str, str]] | None

    async def send(self, case: Case, who: str | None) -> int:
        token = self.tokens[who] if who else None
        response = await _send(self.client, case, token, self.sign)
        self.tally.cases[self.label] += 1
        self.tally.statuses[response.status_code] += 1
        if response.status_code not in (401, 403):
            self.tally.reached.add(self.label)
        for check in self.checks:
            try:
                case.validate_response(response, checks=[check])
            except (AssertionError, FailureGroup):
                meta = case.meta
                mode = meta.generation.mode.value if meta else "?"
                why = meta.phase.data.description if meta and meta.phase.data else ""
                self.tally.failures.setdefault(check.__name__, []).append(
                    f"{self.label} [{mode}: {why}; as {who}] -> {response.status_code} "
                    f"{response.headers.get('content-type')} {response.text[:300]!r}"
                )
        return response.status_code


def _draw(strategy: Any, count: int) -> list[Case]:
    """``count`` cases from ``strategy``, the same ones every run (nothing is sent here)."""
    drawn: list[Case] = []

    @hypothesis.settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @hypothesis.given(strategy)
    def collect(case: Case) -> None:
        drawn.append(case)

    # Nothing (more) to generate is no error: e.g. no invalid form of a parameterless request.
    with contextlib.suppress(HypothesisException):
        collect()
    return drawn[:count]


def _invalid(operation: Any) -> list[Case]:
    """Invalid requests, mostly with a valid token, so the handler's own validation is hit."""
    drawn = _draw(operation.as_strategy(GenerationMode.NEGATIVE), NEGATIVE * 2)
    outer = [c for c in drawn if c.meta and c.meta.is_negative_at(ParameterLocation.HEADER)]
    inner = [c for c in drawn if c not in outer]
    return (inner[: NEGATIVE - 1] + outer[:1] + inner[NEGATIVE - 1 :] + outer[1:])[:NEGATIVE]


def _signer(secret: str, context: AppContext) -> Callable[[bytes], dict[str, str]]:
    sent = Counter[str]()

    def sign(body: bytes) -> dict[str, str]:
        sent["n"] += 1
        message_id = f"msg_{sent['n']}"
        at = context.clock.now()
        signature = Webhook(secret).sign(message_id, at, body.decode(errors="replace"))
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        }

    return sign


async def _send(
    client: httpx.AsyncClient,
    case: Case,
    token: str | None,
    sign: Callable[[bytes], dict[str, str]] | None = None,
) -> httpx.Response:
    """Serialize the case as schemathesis would for ``requests``; send it through the ASGI app.

    The token (or signature) replaces the generated one unless the case's headers are what it
    makes invalid: then the request must be refused as generated."""
    meta = case.meta
    genuine = not (meta and meta.is_negative_at(ParameterLocation.HEADER))
    if token and genuine:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    wanted = ("method", "url", "headers", "params", "cookies", "data", "json", "files", "auth")
    prepared = requests.Request(**{k: kwargs[k] for k in wanted if k in kwargs}).prepare()
    assert prepared.url is not None and prepared.method is not None
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body or b""
    headers = dict(prepared.headers)
    if sign is not None and genuine:
        headers.update(sign(body))
    return await client.request(prepared.method, prepared.url, headers=headers, content=body)


async def _principals(client: httpx.AsyncClient, context: AppContext) -> Principals:
    tokens: dict[str, str] = {}
    _, tokens["device"] = await register(client)
    for role, username in STAFF.items():
        if role in ("counselor", "paralegal"):
            tokens[role] = await token_on_duty(client, context, username, role, KB)
        elif role == "transit_staff":
            tokens[role] = await token_on_duty(client, context, username, role, "transjakarta")
        else:
            tokens[role] = await staff_token(client, context, username, role, "central")
    async with context.sessions() as session:
        credential = await create_integrator(
            session,
            name="Jakarta Siaga 112",
            scopes=sorted(INTEGRATOR_SCOPES),
            now=context.clock.now(),
            keyring=context.keyring,
            data_scope="112",
        )
        await session.commit()
    granted = await client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(credential.client_id, credential.client_secret),
    )
    assert granted.status_code == 200, granted.text
    tokens["integrator"] = granted.json()["access_token"]
    tokens["operator"] = OPS_TOKEN  # /metrics and /readyz's details
    assert credential.webhook_secret is not None
    return Principals(tokens, credential.webhook_secret, credential.client_id)


async def _fresh_tokens(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    """After an operation that spends credentials: the device registers again, staff sign in."""
    _, tokens["device"] = await register(client)
    for role, username in STAFF.items():
        tokens[role] = (await sign_in(client, username))["access_token"]


async def _seed(
    client: httpx.AsyncClient, context: AppContext, principals: Principals
) -> dict[str, str]:
    """Real objects for path parameters: the device's alert, routed and offered to Kebayoran
    Baru and to Transjakarta, claimed by the counselor, with a case; a spare account and
    integrator for the admin routes to act on (not the principals' own); a webhook endpoint."""
    tokens = principals.tokens
    created = await press(client, tokens["device"], press_body(context))
    assert created.status_code == 201, created.text
    alert_id = created.json()["id"]
    await drain(context)
    offered = {g.unit_code: str(g.id) for g in await legs(context, alert_id)}
    assert {KB, "transjakarta"} <= set(offered), offered
    counselor = auth(tokens["counselor"])
    accepted = await client.post(f"/v1/assignments/{offered[KB]}/accept", headers=counselor)
    assert accepted.status_code == 200, accepted.text
    case = await client.post(
        f"/v1/alerts/{alert_id}/case",
        json={"violence_types": ["psikis"], "risk_level": "low"},
        headers=counselor,
    )
    assert case.status_code == 201, case.text
    admin = auth(tokens["admin"])
    spare = await client.post(
        "/v1/users",
        json={
            "username": "konselor.cadangan",
            "password": "x" * 16,
            "role": "counselor",
            "unit_code": KB,
        },
        headers=admin,
    )
    assert spare.status_code == 201, spare.text
    integrator = await client.post(
        "/v1/integrators", json={"name": "LPSK", "scopes": ["cases:read"]}, headers=admin
    )
    assert integrator.status_code == 201, integrator.text
    endpoint = await client.post(
        "/v1/webhooks/endpoints",
        json={"url": "https://hooks.siaga112.example/sigap", "event_types": ["alert.resolved"]},
        headers=auth(tokens["integrator"]),
    )
    assert endpoint.status_code == 201, endpoint.text
    async with context.sessions() as session:
        shift_id = await session.scalar(select(Shift.id).limit(1))
        transit_leg = await session.scalar(
            select(Assignment.id).where(Assignment.unit_code == "transjakarta")
        )
    return {
        "alert_id": alert_id,
        "assignment_id": str(transit_leg),  # the transit staff's open offer
        "case_id": case.json()["id"],
        "code": KB,
        "shift_id": str(shift_id),
        "user_id": spare.json()["id"],
        "client_id": integrator.json()["client_id"],
        "endpoint_id": endpoint.json()["endpoint"]["id"],
        "delivery_id": str(uuid.UUID(int=1)),
    }


def _known_bodies() -> dict[tuple[str, str], Any]:
    """Requests that sign in for real, beside the generated ones that fail to."""
    username = STAFF["supervisor"]
    return {
        ("POST", "/v1/auth/session"): {"username": username, "password": PASSWORD},
        ("POST", "/v1/auth/token"): {
            "grant_type": "password",
            "username": username,
            "password": PASSWORD,
        },
    }


def _order(key: tuple[str, str]) -> tuple[int, int, tuple[str, str]]:
    method, _ = key
    if key in SPENDS_CREDENTIALS:
        return (3, SPENDS_CREDENTIALS.index(key), key)
    if key in ENDS_ALERT:
        return (2, ENDS_ALERT.index(key), key)
    return (0 if method == "GET" else 1, 0, key)


async def _public(host: str, port: int) -> list[str]:
    """DNS for webhook targets: every name is public (no lookup leaves the test)."""
    return ["93.184.216.34"]


async def test_the_app_answers_as_its_openapi_description_says(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhooks_api, "system_resolver", _public)
    principals = await _principals(client, context)
    tokens = principals.tokens
    known = await _seed(client, context, principals)
    sign = _signer(principals.webhook_secret, context)
    bodies = _known_bodies()
    # The console's page-closing beacon carries its own token in the body.
    bodies[("POST", "/v1/stream/leave")] = {"token": tokens["supervisor"]}

    document = (await client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = {
        (op.method.upper(), op.path): op for op in (r.ok() for r in schema.get_all_operations())
    }
    tally = Tally()
    for key in sorted(operations, key=_order):
        operation = operations[key]
        method, path = key
        label = f"{method} {path}"
        bearer = bool(document["paths"][path][method.lower()].get("security"))
        names = [p.name for p in operation.path_parameters]
        fixed = {n: known[n] for n in names if n in known}
        if key == SIGNED:  # the signer's own client, not the spare the admin routes act on
            fixed["client_id"] = principals.webhook_client_id
        cases: list[Case] = []
        if key in bodies:
            cases += _draw(operation.as_strategy(body=bodies[key]), 1)
        if names and len(fixed) == len(names):
            cases += _draw(operation.as_strategy(path_parameters=fixed), POSITIVE_KNOWN)
        cases += _draw(operation.as_strategy(), POSITIVE_FREE)
        cases += _invalid(operation)
        checks = [c for c in CHECKS if c not in LENIENT.get(key, ())]
        signer = sign if key == SIGNED else None

        run = Run(client, tally, label, checks, tokens, signer)
        allowed: list[str | None] = [None]
        if bearer:  # who gets past authorization here: the first case, with every token
            answers = {who: await run.send(cases[0], who) for who in tokens}
            allowed = [who for who, status in answers.items() if status not in (401, 403)]
            allowed = allowed or list(tokens)
            cases = cases[1:]
        for index, case in enumerate(cases):
            await run.send(case, allowed[index % len(allowed)])
        if key in SPENDS_CREDENTIALS:
            await _fresh_tokens(client, tokens)

    total = sum(tally.cases.values())
    unreached = sorted(f"{m} {p}" for m, p in operations if f"{m} {p}" not in tally.reached)
    print(
        f"\nschemathesis: {len(operations)} operations, {total} cases, "
        f"{len(tally.reached)} operations reached past authorization"
    )
    print(f"  statuses: {dict(sorted(tally.statuses.items()))}")
    for check in CHECKS:
        found = tally.failures.get(check.__name__, [])
        print(f"  {check.__name__}: {len(found)} failures")
        for line in found:
            print(f"    {line}")
    assert tally.failures == {}
    assert unreached == [], "every operation must be reached past authorization"
    assert total >= len(operations) * 4
