"""A press never fails on content: any body of at most 64 KB from a device is one recorded alert.

Property tests throw any JSON value and any bytes at the route; explicit cases pin down what each
kind of odd body becomes (flags, what is still used, what staff see, how retries are recognised).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.context import AppContext
from app.ingestion.payload import KNOWN_FIELDS
from app.models import Alert, OutboxEvent
from tests.dispatch.staffing import drain, legs, on_duty
from tests.helpers import auth, press_body, register, staff_token

LIMIT = 64 * 1024
BOM = b"\xef\xbb\xbf"

# Deterministic and bounded: a few seconds per backend. Function-scoped fixtures are shared by
# the examples on purpose; each example registers its own device, so none sees another's alert.
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# Any text at all. Hypothesis never draws surrogates for text, so what breaks strict encoders is
# spliced in: NUL, lone halves of a surrogate pair, a BOM.
ANY_TEXT = st.lists(
    st.text(max_size=8) | st.sampled_from(["\x00", "\ud83d", "\ude4f", "\udfff", "\ufeff"]),
    max_size=5,
).map("".join)
FIELD_NAMES = sorted(KNOWN_FIELDS | {"lat", "lon", "accuracy_m", "fix_at", "source", "name"})
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities too: Python's JSON reads and writes them
    | ANY_TEXT,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | ANY_TEXT, inner, max_size=6)
    ),
    max_leaves=30,
)


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()  # ASCII: lone surrogates travel as \\udxxx escapes


def truncated(text: bytes, at: int) -> bytes:
    return text[: at % (len(text) + 1)]


ANY_BYTES = st.one_of(
    st.binary(max_size=2048),
    st.builds(truncated, JSON_VALUES.map(encoded), st.integers(min_value=0)),
    JSON_VALUES.map(lambda v: BOM + encoded(v)),
    st.builds(lambda head, tail: head + tail, JSON_VALUES.map(encoded), st.binary(max_size=8)),
)


async def alerts_of(context: AppContext, device_id: str) -> list[Alert]:
    async with context.sessions() as session:
        query = select(Alert).where(Alert.device_id == uuid.UUID(device_id))
        return list((await session.scalars(query)).all())


async def send(
    client: httpx.AsyncClient, credential: str, raw: bytes, *, key: str | None = None
) -> httpx.Response:
    headers = {**auth(credential), "Content-Type": "application/json"}
    headers["Idempotency-Key"] = key if key is not None else uuid.uuid4().hex
    return await client.post("/v1/alerts", content=raw, headers=headers)


async def press_once(client: httpx.AsyncClient, context: AppContext, raw: bytes) -> dict[str, Any]:
    """Press ``raw`` from a new device; assert it made exactly one alert and one event."""
    device_id, credential = await register(client)
    response = await send(client, credential, raw)
    assert response.status_code == 201, (raw[:200], response.text)
    body: dict[str, Any] = response.json()
    (alert,) = await alerts_of(context, device_id)
    assert str(alert.id) == body["id"]
    async with context.sessions() as session:
        received = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.alert_id == alert.id, OutboxEvent.event_type == "alert.received")
        )
    assert received == 1
    return body


async def staff_read(client: httpx.AsyncClient, token: str, alert_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/alerts/{alert_id}", headers=auth(token))
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


@pytest.fixture
async def supervisor(client: httpx.AsyncClient, context: AppContext) -> str:
    return await staff_token(client, context, "supervisor", "supervisor", "central")


# -- properties ------------------------------------------------------------------------------


@PROPERTY
@given(value=JSON_VALUES)
async def test_any_json_value_is_one_recorded_alert(
    client: httpx.AsyncClient, context: AppContext, value: Any
) -> None:
    raw = encoded(value)
    if len(raw) <= LIMIT:
        await press_once(client, context, raw)


@PROPERTY
@given(raw=ANY_BYTES)
async def test_any_bytes_are_one_recorded_alert(
    client: httpx.AsyncClient, context: AppContext, raw: bytes
) -> None:
    await press_once(client, context, raw[:LIMIT])


# -- text that strict encoders and PostgreSQL refuse -----------------------------------------


async def test_a_message_cut_inside_an_emoji_is_recorded_and_readable_by_staff(
    client: httpx.AsyncClient, context: AppContext, supervisor: str
) -> None:
    raw = encoded(press_body(context, message="tolong \ud83d"))
    body = await press_once(client, context, raw)

    assert "text_replaced" in body["flags"]
    view = await staff_read(client, supervisor, body["id"])
    assert view["message"] == "tolong \ufffd"
    assert view["area_code"] == "3171060"  # the location was still used
    assert "tolong \\ud83d" in view["body_text"]  # what the phone sent, exactly


async def test_nul_and_lone_surrogates_anywhere_are_stored_safely(
    client: httpx.AsyncClient, context: AppContext, supervisor: str
) -> None:
    # NUL in a JSONB column (transit) is what PostgreSQL refuses outright (22P05).
    body = press_body(
        context,
        message="a\u0000b",
        transit={"operator": "transjakarta", "station": "Blok\u0000M\udc00"},
        contact={"name": "\udfff\u0000", "phone": "0812"},
        pressed_at="2026-11-23T03:00:00\u0000Z",
        **{"key\u0000\ud800": ["\u0000", {"\udbff": "x"}]},
    )
    result = await press_once(client, context, encoded(body))

    assert {"text_replaced", "unknown_fields", "pressed_at_invalid"} <= set(result["flags"])
    async with context.sessions() as session:
        alert = await session.get(Alert, uuid.UUID(result["id"]))
    assert alert is not None
    assert alert.transit_context == {"operator": "transjakarta", "station": "Blok\ufffdM\ufffd"}
    view = await staff_read(client, supervisor, result["id"])
    assert view["message"] == "a\ufffdb"
    assert view["contact"] == {"name": "\ufffd\ufffd", "phone": "0812"}
    assert "\\u0000" in view["body_text"]


async def test_a_nul_byte_in_the_raw_body_is_shown_to_staff_as_a_symbol(
    client: httpx.AsyncClient, context: AppContext, supervisor: str
) -> None:
    body = await press_once(client, context, b'{"message": "a\x00b"}')  # not valid JSON

    assert "body_unreadable" in body["flags"]
    view = await staff_read(client, supervisor, body["id"])
    assert view["body_text"] == '{"message": "a\u2400b"}'


# -- bodies that are not readable JSON -------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"", b"   ", b"not json", b'{"location": ', b"\xff\xfe", b"\x00" * 100, b"[" * 5000],
    ids=["empty", "white-space", "text", "truncated", "not-utf8", "nul-bytes", "unclosed"],
)
async def test_an_unreadable_body_is_a_silent_real_press_at_the_central_desk(
    client: httpx.AsyncClient, context: AppContext, supervisor: str, raw: bytes
) -> None:
    await on_duty(context, "desk", "central", role="supervisor")
    body = await press_once(client, context, raw)

    assert {"body_unreadable", "location_missing"} <= set(body["flags"])
    assert body["is_drill"] is False
    async with context.sessions() as session:
        alert = await session.get(Alert, uuid.UUID(body["id"]))
        assert alert is not None and alert.silent is True
    view = await staff_read(client, supervisor, body["id"])
    assert view["body_text"] == raw.decode("utf-8", "replace").replace("\x00", "\u2400")
    assert await drain(context) >= 1
    assert [g.unit_code for g in await legs(context, body["id"])] == ["central"]


async def test_json_nested_five_thousand_deep_is_recorded_and_flagged(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    raw = b'{"deep": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    body = await press_once(client, context, raw)
    assert {"body_too_deep", "body_unreadable"} <= set(body["flags"])


async def test_a_readable_body_with_a_deep_field_still_routes_on_its_location(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    deep: Any = "bottom"
    for _ in range(60):
        deep = {"next": [deep]}
    body = await press_once(client, context, encoded(press_body(context, extra=deep)))

    assert "body_too_deep" in body["flags"]
    assert "body_unreadable" not in body["flags"]
    async with context.sessions() as session:
        alert = await session.get(Alert, uuid.UUID(body["id"]))
        assert alert is not None and alert.area_code == "3171060"


async def test_a_leading_bom_is_ignored_and_a_retry_without_it_replays(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    device_id, credential = await register(client)
    plain = encoded(press_body(context))
    first = await send(client, credential, BOM + plain, key="bom")
    again = await send(client, credential, plain, key="bom")

    assert first.status_code == 201
    assert "body_bom" in first.json()["flags"]
    assert "location_missing" not in first.json()["flags"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await alerts_of(context, device_id)) == 1


async def test_invalid_utf8_inside_a_json_string_keeps_the_rest_of_the_press(
    client: httpx.AsyncClient, context: AppContext, supervisor: str
) -> None:
    raw = encoded(press_body(context, message="tolong")).replace(b"tolong", b"tolong \xf0\x9f")
    body = await press_once(client, context, raw)

    assert "body_not_utf8" in body["flags"]
    assert "body_unreadable" not in body["flags"]
    view = await staff_read(client, supervisor, body["id"])
    assert view["area_code"] == "3171060"
    assert view["message"] == "tolong \ufffd"
    assert view["body_text"] == raw.decode("utf-8", "replace")


async def test_a_body_of_exactly_64_kb_of_garbage_is_recorded(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    body = await press_once(client, context, bytes(range(256)) * (LIMIT // 256))
    assert "body_unreadable" in body["flags"]


# -- wrong types in every field ----------------------------------------------------------------

WRONG = [True, 7, -1.5, "x", [], [1, {}], {"a": {}}, 10**400]


@pytest.mark.parametrize("wrong", WRONG, ids=repr)
async def test_a_wrong_type_in_every_field_is_flagged_and_the_press_recorded(
    client: httpx.AsyncClient, context: AppContext, wrong: Any
) -> None:
    nested = {
        "location": {k: wrong for k in ("lat", "lon", "accuracy_m", "fix_at", "source")},
        "transit": {"operator": wrong, "station": wrong},
        "contact": {"name": wrong, "phone": wrong},
    }
    top = {name: wrong for name in KNOWN_FIELDS if name not in nested}
    body = await press_once(client, context, encoded(top | nested))

    flags = set(body["flags"])
    expected = {
        "location_source_unknown",
        "fix_time_invalid",
        "pressed_at_invalid",
        "reporter_invalid",
        "companion_preference_invalid",
    }
    if not isinstance(wrong, bool):
        expected |= {"silent_invalid", "is_drill_invalid", "victim_is_child_invalid"}
        assert body["is_drill"] is False  # an unreadable is_drill is a real press
    number = isinstance(wrong, int | float) and not isinstance(wrong, bool)
    if number and abs(wrong) <= 90:
        assert body["flags"].count("location_invalid") == 0  # 7, 7 is a place: it is used
    else:
        expected.add("location_invalid")
    if not isinstance(wrong, str):
        expected |= {"contact_partly_invalid", "message_invalid"}
    if not isinstance(wrong, str | int) or isinstance(wrong, bool):
        expected.add("transit_partly_invalid")
    assert expected <= flags


async def test_a_location_source_that_is_an_object_no_longer_crashes(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    location = {"lat": -6.2441, "lon": 106.8007, "source": {}}
    body = await press_once(client, context, encoded({"location": location}))
    assert "location_source_unknown" in body["flags"]
    assert "location_invalid" not in body["flags"]


# -- idempotency of bodies that are not readable ------------------------------------------------


async def test_the_same_unreadable_bytes_with_the_same_key_replay(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    device_id, credential = await register(client)
    raw = b'{"location": {"lat": -6.24, "lo'
    first = await send(client, credential, raw, key="cut")
    again = await send(client, credential, raw, key="cut")

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await alerts_of(context, device_id)) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (b'{"location": {"lat": -6.24, "lo', b'{"location": {"lat": -6.24, "l'),
        (b"\xff\xfe", b"\xff\xfd"),
        (b"", b" "),
        # Replacement characters would make these two alike; their fingerprints do not.
        (b'{"message": "\xff"}', b'{"message": "\xfe"}'),
        (encoded({"message": "\ud83d"}), encoded({"message": "\ufffd"})),
    ],
)
async def test_other_bytes_with_the_same_key_are_refused(
    client: httpx.AsyncClient, context: AppContext, first: bytes, second: bytes
) -> None:
    device_id, credential = await register(client)
    assert (await send(client, credential, first, key="k")).status_code == 201
    refused = await send(client, credential, second, key="k")

    assert refused.status_code == 422
    assert refused.json()["type"] == "/problems/idempotency-key-reused"
    assert len(await alerts_of(context, device_id)) == 1
