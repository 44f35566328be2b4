"""SLA clocks (one row per alert or case and clock) and cases with their legal milestones."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType


class SlaClock(Base):
    """A running or finished response-time clock, measured from server timestamps only."""

    __tablename__ = "sla_clock"
    __table_args__ = (
        UniqueConstraint("alert_id", "clock"),
        # The monitor's work list: clocks that can still warn or breach, by when they next must.
        Index(
            "ix_sla_clock_due",
            "next_at",
            postgresql_where=text("status IN ('running', 'warning')"),
            sqlite_where=text("status IN ('running', 'warning')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"), index=True)
    clock: Mapped[str] = mapped_column(String(32))
    """routing | acknowledgement | first_contact | on_scene | police_report | protection |
    lpsk_request | protection_expiry | triage | trafficking_services"""
    target_key: Mapped[str] = mapped_column(String(48))
    """The policy entry used (e.g. ``on_scene:transit``, ``triage:high``)."""
    policy_version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    warn_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    """running | warning | breached | met | closed (the alert ended before the clock could)"""
    next_at: Mapped[datetime | None]
    """When the monitor must look again (warning, then deadline); None when finished."""
    warned_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    breach_cause: Mapped[str | None] = mapped_column(String(32))
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    """Drills and accidental presses: kept, reported apart, never counted against SLAs."""


class Case(Base):
    """The follow-up of an alert by UPTD PPA, with the legal milestones that start clocks."""

    __tablename__ = "case_file"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"), unique=True)
    opened_at: Mapped[datetime]
    opened_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_user.id"))
    violence_types: Mapped[list[str]] = mapped_column(JSONType)
    """SIMFONI-PPA: fisik, psikis, seksual, eksploitasi, trafficking, penelantaran, lainnya."""
    risk_level: Mapped[str] = mapped_column(String(8))
    """high | medium | low (triage)"""
    victim_age_group: Mapped[str] = mapped_column(String(16))
    """child | adult | unknown"""
    stage: Mapped[str] = mapped_column(String(32))
    """pengaduan | identifikasi | kesehatan | rehabilitasi_sosial | bantuan_hukum | mediasi |
    pemulangan | reintegrasi | selesai"""
    milestones: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """Legal milestone -> {"at": occurred, "recorded_at": server time, "by": staff id}."""
    updated_at: Mapped[datetime]
