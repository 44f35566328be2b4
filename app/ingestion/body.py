"""From the bytes of a press to a document that every store and encoder downstream accepts.

A press body is whatever a phone sent, up to 64 KB: JSON or not, UTF-8 or not. ``read_body`` never
raises. It returns the document to read fields from (or none), the flags that say what was wrong,
the raw bytes when the structured reading could not keep everything, and the request fingerprint
used for idempotency.

The text choice: **replace in the reading, keep the raw bytes.** Lone UTF-16 surrogates (a message
cut in the middle of an emoji by a JavaScript app) and NUL cannot be encoded as UTF-8 or stored in a
PostgreSQL text or JSONB column, so every string of the document (keys included) has them replaced
by U+FFFD and the alert is flagged ``text_replaced``. Nothing is lost: whenever the reading altered
or dropped anything, the exact bytes are kept (encrypted with the alert's private data) for staff.

Fingerprints. A readable body keeps the fingerprint presses have always had: SHA-256 of its
canonical JSON (sorted keys, no white space), so key order, spacing and a leading BOM do not make
another press; it is computed from the document as sent, so ``"\\ud83d"`` and ``"\\ufffd"`` differ.
Anything else (not UTF-8, not JSON, nested too deep) is fingerprinted by its raw bytes, under a
prefix of its own so the two kinds can never collide.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

# Containers nested deeper than this are dropped from the reading (and kept in the raw bytes):
# the press schema is three levels deep, and every recursive encoder downstream stays far from
# Python's recursion limit.
MAX_DEPTH = 32
_BOM = "\ufeff"
# In a Python str from json.loads a valid surrogate pair is already one code point, so any
# surrogate left is a lone one.
_UNSAFE = re.compile("[\x00\ud800-\udfff]")
_RAW_PREFIX = b"sigap.press.raw-body\x00"


@dataclass
class Body:
    document: Any
    """The parsed and cleaned JSON value; ``None`` also when nothing could be read."""
    readable: bool
    flags: list[str] = field(default_factory=list)
    fingerprint: str = ""
    raw: bytes | None = None
    """The bytes as received, kept when the reading is not the whole story."""


def clean_text(text: str) -> str:
    """``text`` with lone surrogates and NUL replaced by U+FFFD (the same object if none)."""
    return _UNSAFE.sub("\ufffd", text) if _UNSAFE.search(text) else text


def read_body(raw: bytes) -> Body:
    flags: list[str] = []
    try:
        text = raw.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        # Salvage what the JSON still says (a location!); the fingerprint and the copy for staff
        # are the raw bytes, since replacement makes different bytes look alike.
        text = raw.decode("utf-8", "replace")
        utf8 = False
        flags.append("body_not_utf8")
    if text.startswith(_BOM):
        text = text[1:]  # RFC 8259 section 8.1: a parser may ignore it; it carries nothing
        flags.append("body_bom")
    try:
        parsed = json.loads(text)
    except RecursionError:
        flags += ["body_unreadable", "body_too_deep"]
        return _unreadable(raw, flags)
    except ValueError:  # JSONDecodeError, or an integer beyond Python's 4,300-digit limit
        flags.append("body_unreadable")
        return _unreadable(raw, flags)

    notes: set[str]
    if b"\\u" not in raw and raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
        # The common press, read at no cost: without a \u escape no string can hold NUL (raw
        # control characters are not JSON) or a lone surrogate (UTF-8 cannot encode one), and
        # with this few brackets, in strings or not, nothing can be nested too deep.
        document, notes = parsed, set()
    else:
        document, notes = _sanitize(parsed)
    flags += sorted(notes)
    if utf8 and "body_too_deep" not in notes:
        fingerprint = document_fingerprint(parsed)
    else:
        fingerprint = raw_fingerprint(raw)
    lossy = bool(notes) or not utf8
    return Body(document, True, flags, fingerprint, raw if lossy else None)


def document_fingerprint(document: Any) -> str:
    """Hash of a parsed body, insensitive to key order and white space."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a lone surrogate gets bytes of its own instead of an exception; any other
    # document hashes exactly as it always has.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def raw_fingerprint(raw: bytes) -> str:
    return hashlib.sha256(_RAW_PREFIX + raw).hexdigest()


def _unreadable(raw: bytes, flags: list[str]) -> Body:
    return Body(None, False, flags, raw_fingerprint(raw), raw)


def _sanitize(document: Any) -> tuple[Any, set[str]]:
    """A copy of ``document`` that is safe everywhere, and the flags for what it had to change.

    Iterative, so depth costs no stack: containers below ``MAX_DEPTH`` become ``None``.
    """
    notes: set[str] = set()

    def text(value: str) -> str:
        cleaned = clean_text(value)
        if cleaned is not value:
            notes.add("text_replaced")
        return cleaned

    root: list[Any] = [document]
    # (container, key or index, depth of the value found there)
    pending: list[tuple[Any, Any, int]] = [(root, 0, 1)]
    while pending:
        parent, slot, depth = pending.pop()
        value = parent[slot]
        if isinstance(value, str):
            parent[slot] = text(value)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                parent[slot] = None
                notes.add("body_too_deep")
                continue
            copy: dict[str, Any] | list[Any]
            if isinstance(value, dict):
                # Two keys that differ only in unsafe characters merge; the raw bytes keep both.
                copy = {text(k): v for k, v in value.items()}
                pending.extend((copy, k, depth + 1) for k in copy)
            else:
                copy = list(value)
                pending.extend((copy, i, depth + 1) for i in range(len(copy)))
            parent[slot] = copy
    return root[0], notes
