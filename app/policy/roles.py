"""The role constants need-to-know is written in (imported by ``app.access`` too)."""

from __future__ import annotations

from datetime import timedelta

PROVINCE_WIDE_ROLES = frozenset({"supervisor", "admin"})
"""See every alert and every field of it."""

PSEUDONYMOUS_ROLES = frozenset({"transit_staff"})
"""See the alerts offered to their unit pseudonymous (``fields.TRANSIT``), never a case file."""

CASE_ROLES = frozenset({"counselor", "paralegal", "supervisor", "admin"})
"""May open and read case files (UPTD PPA's follow-up), never transit staff."""

OPEN_LEG_STATUSES = frozenset({"offered", "accepted"})
KEEPS_SIGHT_STATUSES = frozenset({"offered", "accepted", "completed"})
"""A leg in one of these lets its unit follow the alert without end."""

CLOSED_LEG_STATUSES = frozenset({"declined", "expired", "withdrawn", "lapsed", "released"})
"""A leg that closed: its unit sees what happened up to ``closed_at``, and may open the alert
(to accept it late) until ``closed_at + LATE_ACCEPT_GRACE``."""

LATE_ACCEPT_GRACE = timedelta(seconds=120)
"""An offer that just expired may still be accepted this long, so the unit keeps sight of it."""
