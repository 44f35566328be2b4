"""Dispatch: routing decisions, the legs (offers and claims) they create, durable timers, rosters,
notes (outbound notifications are in ``notification.py``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType


class DispatchTask(Base):
    """A durable work item or timer: "route this alert", "this offer's deadline", "this lease".

    Written in the transaction of the change that needs it; a worker deletes it in the transaction
    that does the work, so a task runs once however many workers poll (PostgreSQL: SKIP LOCKED).
    """

    __tablename__ = "dispatch_task"
    __table_args__ = (UniqueConstraint("alert_id", "kind", "ref"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"))
    kind: Mapped[str] = mapped_column(String(24))
    """route | offer_deadline | lease_expiry"""
    ref: Mapped[str] = mapped_column(String(64), default="")
    """The assignment a timer belongs to ('' for route)."""
    due_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class RoutingDecision(Base):
    """One routing decision per alert and step, with everything needed to explain it."""

    __tablename__ = "routing_decision"
    __table_args__ = (UniqueConstraint("alert_id", "step"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(32))
    """received | location_changed | timed_out | declined | lease_expired | reassigned |
    claim_broken | central_unanswered"""
    policy: Mapped[str] = mapped_column(String(16))
    decision: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime]


class Assignment(Base):
    """A leg: one unit offered one alert, then (maybe) a claim by one of its staff with a lease."""

    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("alert_id", "step", "unit_id"),
        # At most one claimed ladder leg (post or central desk) per alert: the first accept wins.
        Index(
            "uq_assignment_one_ladder_claim",
            "alert_id",
            unique=True,
            postgresql_where=text("status = 'accepted' AND leg_kind <> 'transit'"),
            sqlite_where=text("status = 'accepted' AND leg_kind <> 'transit'"),
        ),
        Index("ix_assignment_unit_status", "unit_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"), index=True)
    decision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("routing_decision.id"))
    # Never loaded (``raise``): it only tells the unit of work to insert a decision before its
    # legs, so a dispatcher batch writes all its decisions, then all its legs, in one flush.
    decision: Mapped[RoutingDecision] = relationship(lazy="raise", viewonly=False)
    step: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("unit.id"))
    unit_code: Mapped[str] = mapped_column(String(40))
    leg_kind: Mapped[str] = mapped_column(String(16))
    """post | central | transit"""
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    """offered | accepted | declined | expired | withdrawn | lapsed | released | completed"""
    preferred_sex: Mapped[str | None] = mapped_column(String(8))
    offered_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))
    lease_expires_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(200))


class Shift(Base):
    """A roster entry: this staff member is on duty for this unit in [starts_at, ends_at)."""

    __tablename__ = "shift"
    __table_args__ = (Index("ix_shift_unit_window", "unit_id", "ends_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("unit.id"))
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_user.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(8), default="at_post", server_default="at_post")
    """at_post: offered while the person's console is open (live presence, when the deployment
    requires it); on_call: offered while rostered, console or not — the notifier reaches them."""
    created_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_user.id"))


class AlertNote(Base):
    __tablename__ = "alert_note"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"), index=True)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_user.id"))
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    """AEAD-encrypted: notes are narratives about a victim."""
    created_at: Mapped[datetime]

