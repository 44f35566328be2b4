"""Which due messages go out together, and as what (pure: rows in, sends out).

Critical messages to one person are coalesced: the first goes at once; any more within
``notify_digest_window_s`` of it wait for the window's end and go as one digest, under the id of
the first of them. A flood of unanswered fake alerts then costs a supervisor one message per
window, and the budget one unit, however many escalations it makes. Routine messages go one by
one (the per-alert limit already bounds them). A message whose sender died mid-send is resent
exactly as it was sent: the same members under the same id, so the gateway can drop the repeat.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.notify.budget import ESTABLISHED, ORDINARY, pool_of

DIGEST_KIND = "digest"
DIGEST_MAX_CHARS = 480
"""Three SMS segments: enough for a handful of case codes; the console has the rest."""


@dataclass(frozen=True)
class Due:
    """A claimable row, with what the provider needs to reach its recipient."""

    id: uuid.UUID
    recipient_id: uuid.UUID
    username: str
    phone: str | None
    kind: str
    text: str
    status: str
    """queued, or sending (a claim whose lease expired)"""
    digest_id: uuid.UUID | None
    attempts: int
    lane: str = ESTABLISHED
    """The ordinary pool's lane of the device whose alert it is about (``budget.lane_of``)."""


@dataclass
class Send:
    """One provider call: one row, or a digest of several rows to one person."""

    id: uuid.UUID
    rows: list[Due] = field(default_factory=list)

    @property
    def pool(self) -> str:
        return pool_of(self.rows[0].kind)

    @property
    def lane(self) -> str:
        return self.rows[0].lane

    @property
    def kind(self) -> str:
        return self.rows[0].kind if len(self.rows) == 1 else DIGEST_KIND

    @property
    def text(self) -> str:
        return compose([row.text for row in self.rows])


def plan(
    rows: Sequence[Due],
    *,
    last_critical: Mapping[uuid.UUID, datetime],
    window_s: float,
    now: datetime,
) -> tuple[list[Send], dict[uuid.UUID, datetime]]:
    """Group due ``rows`` (in due order) into sends; also returns the critical rows to hold
    back (row id -> when their digest is due). ``last_critical``: per person, when a critical
    message last went out (or ``now`` while one is being sent)."""
    sends: list[Send] = []
    held: dict[uuid.UUID, datetime] = {}
    resent: dict[uuid.UUID, Send] = {}
    digests: dict[uuid.UUID, Send] = {}
    window = timedelta(seconds=window_s)
    for row in rows:
        if row.status == "sending":
            key = row.digest_id or row.id
            if key not in resent:
                resent[key] = Send(key)
                sends.append(resent[key])
            resent[key].rows.append(row)
        elif pool_of(row.kind) == ORDINARY:
            sends.append(Send(row.id, [row]))
        elif (last := last_critical.get(row.recipient_id)) is not None and last + window > now:
            held[row.id] = last + window
        else:
            if row.recipient_id not in digests:
                digests[row.recipient_id] = Send(row.id)
                sends.append(digests[row.recipient_id])
            digests[row.recipient_id].rows.append(row)
    return sends, held


def compose(texts: Sequence[str]) -> str:
    """One text, or a digest of several that fits ``DIGEST_MAX_CHARS``."""
    if len(texts) == 1:
        return texts[0]
    head = f"Sigap: {len(texts)} urgent updates:"
    tail = " Open the Sigap console."
    parts: list[str] = []
    for n, text in enumerate(texts):
        part = text.replace("Sigap ", "", 1)
        # Room for this part, and for "(+k more)" should the next one not fit.
        left = len(texts) - n - 1
        more = f" (+{left} more)" if left else ""
        if len(head) + len(" ".join(["", *parts, part])) + len(more) + len(tail) > DIGEST_MAX_CHARS:
            return head + " ".join(["", *parts]) + f" (+{len(texts) - n} more)" + tail
        parts.append(part)
    return head + " ".join(["", *parts]) + tail
