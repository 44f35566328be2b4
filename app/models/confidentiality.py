"""Break-glass grants: a supervisor's written reason to open a restricted record, for a while."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class BreakGlassGrant(Base):
    """One break of the glass: who opened which restricted alert, why, and until when.

    Rows are never updated or deleted: the report (``GET /v1/break-glass``) is this table, and
    the audit trail holds the same facts, chained, with the grant's id for the reason."""

    __tablename__ = "break_glass_grant"
    __table_args__ = (
        # The policy's question on every read of a restricted alert: this supervisor's grants.
        Index("ix_break_glass_grant_alert_staff", "alert_id", "staff_id", "expires_at"),
        Index("ix_break_glass_grant_granted_at", "granted_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"))
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_user.id"))
    reason_enc: Mapped[bytes] = mapped_column(LargeBinary)
    """The written reason, AEAD-encrypted (``reason_aad``): free text that may name people."""
    granted_at: Mapped[datetime]
    expires_at: Mapped[datetime]


def reason_aad(grant_id: uuid.UUID) -> str:
    """Binds a reason's ciphertext to its grant: copied onto another grant, it won't decrypt."""
    return f"break_glass_grant.reason:{grant_id}"
