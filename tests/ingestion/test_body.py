"""Reading the bytes of a press: pure, table-driven, no database."""

from __future__ import annotations

import hashlib
import json

import pytest

from app.ingestion.body import MAX_DEPTH, clean_text, read_body


def test_a_plain_body_keeps_the_fingerprint_presses_always_had() -> None:
    document = {"silent": True, "message": "tolong", "location": {"lat": -6.2, "lon": 106.8}}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    reading = read_body(json.dumps(document, indent=2).encode())

    assert reading.fingerprint == hashlib.sha256(canonical.encode()).hexdigest()
    assert reading.readable and reading.flags == [] and reading.raw is None


@pytest.mark.parametrize(
    "variant",
    [
        b'{"b": [1, 2], "a": "\\u00e9"}',
        b'{ "a" : "\xc3\xa9" ,\n "b" : [ 1 , 2 ] }',
        b'\xef\xbb\xbf{"a": "\xc3\xa9", "b": [1, 2]}',
    ],
)
def test_key_order_white_space_escapes_and_a_bom_make_the_same_fingerprint(
    variant: bytes,
) -> None:
    assert read_body(variant).fingerprint == read_body(b'{"a":"\xc3\xa9","b":[1,2]}').fingerprint


@pytest.mark.parametrize(
    ("raw", "flags"),
    [
        (b"", ["body_unreadable"]),
        (b'{"a": 1', ["body_unreadable"]),
        (b"\xff", ["body_not_utf8", "body_unreadable"]),
        (b'{"a": "\xff"}', ["body_not_utf8"]),
        (b"[" * 5000, ["body_unreadable", "body_too_deep"]),
        (b"1" * 5000, ["body_unreadable"]),  # beyond Python's 4,300-digit integer limit
        (b'{"a\\u0000": "\\ud83d"}', ["text_replaced"]),
    ],
)
def test_odd_bodies_are_flagged_and_their_raw_bytes_kept(raw: bytes, flags: list[str]) -> None:
    reading = read_body(raw)
    assert reading.flags == flags
    assert reading.raw == raw


def test_unreadable_bodies_are_told_apart_by_their_bytes_only() -> None:
    assert read_body(b"{").fingerprint == read_body(b"{").fingerprint
    assert read_body(b"{").fingerprint != read_body(b"{ ").fingerprint
    assert read_body(b"").fingerprint != hashlib.sha256(b"").hexdigest()


def test_the_cleaned_document_has_nothing_a_strict_encoder_refuses() -> None:
    reading = read_body(b'{"k\\ud800": ["\\u0000", {"\\udfff": "ok \\ud83d\\ude00"}]}')
    json.dumps(reading.document, ensure_ascii=False).encode("utf-8")  # raises if not
    assert reading.document == {"k\ufffd": ["\ufffd", {"\ufffd": "ok \U0001f600"}]}


def test_containers_below_the_depth_limit_are_dropped_not_recursed() -> None:
    text = '{"a": ' + "[" * 200 + "]" * 200 + ', "b": 1}'
    reading = read_body(text.encode())
    assert reading.flags == ["body_too_deep"]
    assert reading.document["b"] == 1
    depth, value = 0, reading.document["a"]
    while isinstance(value, list):
        depth, value = depth + 1, value[0]
    assert depth == MAX_DEPTH - 1 and value is None


def test_clean_text_returns_safe_text_unchanged() -> None:
    text = "tolong, saya di halte Blok M 🙏"
    assert clean_text(text) is text
    assert clean_text("a\x00\ud83d") == "a\ufffd\ufffd"
