"""ORM models, one module per aggregate. Importing this package registers every table."""

from app.models.alert import Alert, AlertLocation
from app.models.audit import AuditEntry
from app.models.base import Base
from app.models.device import Device
from app.models.intake import IdempotencyRecord, RateLimitCounter
from app.models.outbox import OutboxEvent
from app.models.reference import Area, Holiday, Partner, ReferenceState, Region, Station
from app.models.staff import IntegratorClient, RefreshToken, StaffUser
from app.models.unit import Unit

__all__ = [
    "Alert",
    "AlertLocation",
    "Area",
    "AuditEntry",
    "Base",
    "Device",
    "Holiday",
    "IdempotencyRecord",
    "IntegratorClient",
    "OutboxEvent",
    "Partner",
    "RateLimitCounter",
    "ReferenceState",
    "RefreshToken",
    "Region",
    "StaffUser",
    "Station",
    "Unit",
]
