"""What staff read of a kept press body: useful text, and never an exception."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from app.ingestion.views import body_text


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("private", "text"),
    [
        ({}, None),
        ({"raw_body_b64": b64(b'{"message": "tolong \\ud83d"}')}, '{"message": "tolong \\ud83d"}'),
        ({"raw_body_b64": b64(b"tolong \xf0\x9f")}, "tolong \ufffd"),
        ({"raw_body_b64": b64(b"a\x00b")}, "a\u2400b"),
        ({"raw_body_b64": "not base64!"}, None),
        ({"raw_body": [1, "\ud83d"]}, '[1, "\\ud83d"]'),  # recorded before raw bytes were kept
    ],
)
def test_body_text_is_safe_readable_text(private: dict[str, Any], text: str | None) -> None:
    assert body_text(private) == text
    if text is not None:
        text.encode("utf-8")  # no lone surrogate can reach a JSON answer


async def test_staff_read_the_location_in_words_with_a_link_to_their_map_app(
    client: Any, context: Any
) -> None:
    from tests.helpers import BLOK_M, auth, press, press_body, register, staff_token

    _, device = await register(client)
    alert = (await press(client, device, press_body(context))).json()
    token = await staff_token(client, context, "spv", "supervisor", "central")
    read = (await client.get(f"/v1/alerts/{alert['id']}", headers=auth(token))).json()
    place = read["last_location"]["place"]
    assert place["kelurahan"] == "Melawai"  # Blok M, Kebayoran Baru
    assert place["landmark"]["partner_code"] == "transjakarta"
    assert place["landmark"]["distance_m"] < 200
    assert place["geo_uri"] == f"geo:{BLOK_M['lat']:.5f},{BLOK_M['lon']:.5f};u=15"
