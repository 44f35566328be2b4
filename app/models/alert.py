"""An alert (one incident from one device) and its location trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType

OPEN_HANDOFF = "transferred_at IS NOT NULL AND resolved_at IS NULL AND cancelled_at IS NULL"


class Alert(Base):
    __tablename__ = "alert"
    __table_args__ = (
        # A device has at most one joinable alert per kind: a second press, even a concurrent
        # one without an Idempotency-Key, joins it instead of creating a duplicate.
        Index(
            "uq_alert_device_joinable",
            "device_id",
            "is_drill",
            unique=True,
            postgresql_where=text("joinable"),
            sqlite_where=text("joinable"),
        ),
        Index("ix_alert_received_at", "received_at"),
        # The SLA monitor's work list: alerts whose timestamps changed since it last looked.
        Index(
            "ix_alert_sla_dirty",
            "id",
            postgresql_where=text("sla_dirty"),
            sqlite_where=text("sla_dirty"),
        ),
        # The 112 hand-off check's work list: open transferred alerts, however old
        # (app/integrations/handoff.py repeats this condition so the planner can use it).
        Index(
            "ix_alert_handoff_open",
            "transferred_at",
            postgresql_where=text(OPEN_HANDOFF),
            sqlite_where=text(OPEN_HANDOFF),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_code: Mapped[str] = mapped_column(String(16), unique=True)
    """Pseudonymous code shown to transit staff and used on the phone ("SGP-7K3Q9M")."""
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("device.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(20))
    is_drill: Mapped[bool] = mapped_column(Boolean)
    silent: Mapped[bool] = mapped_column(Boolean)
    reporter: Mapped[str] = mapped_column(String(16))
    """victim | witness | unknown (UU TPKS Art. 39: a witness may report)."""
    victim_is_child: Mapped[bool | None] = mapped_column(Boolean)
    companion_preference: Mapped[str | None] = mapped_column(String(8))
    """Stated preference for a companion of this sex (UU TPKS Art. 26(4))."""
    pressed_at: Mapped[datetime | None]
    """The device's clock: kept for the record, never used for SLAs."""
    received_at: Mapped[datetime]
    flags: Mapped[list[str]] = mapped_column(JSONType)
    area_code: Mapped[str | None] = mapped_column(String(16))
    area_method: Mapped[str] = mapped_column(String(16))
    """inside | nearest | outside | none (no usable location)."""
    station_candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    transit_context: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_accuracy_m: Mapped[float | None] = mapped_column(Float)
    last_fix_at: Mapped[datetime | None]
    last_location_source: Mapped[str | None] = mapped_column(String(16))
    press_count: Mapped[int] = mapped_column(Integer, default=1)
    last_pressed_at: Mapped[datetime]
    joinable: Mapped[bool] = mapped_column(Boolean)
    """True while a new press from the device joins this alert (until the phone sees it end)."""
    device_status: Mapped[str] = mapped_column(String(16))
    """What the phone is shown: active | cancelled | resolved. A duress cancel shows "cancelled"."""
    device_closed_at: Mapped[datetime | None]
    duress: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_call_back: Mapped[bool] = mapped_column(Boolean, default=False)
    linked_alert_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("alert.id"))
    """A press after a duress cancel opens a new alert linked to the one still running."""
    cancelled_at: Mapped[datetime | None]
    # Dispatch and progress, stamped by the state machine (app/states.py) at server time.
    dispatch_step: Mapped[int] = mapped_column(Integer, default=0)
    """The latest routing step (0 = first decision); each escalation or re-route adds one."""
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    routed_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    contacted_at: Mapped[datetime | None]
    on_scene_at: Mapped[datetime | None]
    handed_over_at: Mapped[datetime | None]
    handed_over_to: Mapped[str | None] = mapped_column(String(16))
    transferred_at: Mapped[datetime | None]
    """When the alert was handed off to Jakarta Siaga 112 (the ladder's last step)."""
    resolved_at: Mapped[datetime | None]
    disposition: Mapped[str | None] = mapped_column(String(32))
    sla_dirty: Mapped[bool] = mapped_column(Boolean, default=True)
    """Set by the state machine on every stamp; the SLA monitor syncs the clocks and clears it."""
    private_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    """AEAD-encrypted contact, free-text message and unknown fields from the press."""
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    """Kept whole past retention (an investigation, a court order); set by a supervisor."""
    purged_at: Mapped[datetime | None]
    """When retention removed its personal data (contact, text, locations, notes)."""
    restricted_at: Mapped[datetime | None]
    """A restricted record: its identity only for the unit holding the claim, and for a
    supervisor who broke the glass (``app.policy.restriction``). None: not restricted."""
    restriction_reason: Mapped[str | None] = mapped_column(String(24))
    """Why, as a category (staff_member, protected_witness, public_figure, other), never text."""
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Presses that reopened this alert after the phone saw it end (``app.ingestion.press``)."""
    reopened_at: Mapped[datetime | None]
    """The latest such re-press: what the phone sees of the alert starts there."""
    flood_suspected_at: Mapped[datetime | None]
    """Reopened past the flood bound: kept open for staff as one attention item, not offered
    again (``alert.flood_suspected``)."""
    updated_at: Mapped[datetime]


class AlertLocation(Base):
    __tablename__ = "alert_location"
    __table_args__ = (UniqueConstraint("alert_id", "fix_at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"), index=True)
    fix_at: Mapped[datetime]
    """Device fix time (receipt time when the phone gave none); the trail is ordered by it."""
    received_at: Mapped[datetime]
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(String(16))
    usable: Mapped[bool] = mapped_column(Boolean)
    flags: Mapped[list[str]] = mapped_column(JSONType)
    area_code: Mapped[str | None] = mapped_column(String(16))
