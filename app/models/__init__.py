"""ORM models, one module per aggregate. Importing this package registers every table."""

from app.models.alert import Alert, AlertLocation
from app.models.attention import AttentionItem
from app.models.audit import AuditEntry, AuditSeal
from app.models.base import Base
from app.models.confidentiality import BreakGlassGrant
from app.models.device import Device
from app.models.dispatch import (
    AlertNote,
    Assignment,
    DispatchTask,
    RoutingDecision,
    Shift,
)
from app.models.intake import IdempotencyRecord, RateLimitCounter
from app.models.integration import (
    ChannelAlert,
    InboundReceipt,
    PartnerStatus,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.models.notification import Notification, NotificationBudget
from app.models.outbox import DeviceStream, OutboxEvent, StaffPresence, StreamState
from app.models.reference import Area, Holiday, Partner, ReferenceState, Region, Station
from app.models.sla import Case, SlaClock
from app.models.staff import (
    IntegratorClient,
    RefreshToken,
    SignInThrottle,
    SignInUnlock,
    StaffUser,
)
from app.models.unit import Unit

__all__ = [
    "Alert",
    "AlertLocation",
    "AlertNote",
    "Area",
    "Assignment",
    "AttentionItem",
    "AuditEntry",
    "AuditSeal",
    "Base",
    "BreakGlassGrant",
    "Case",
    "ChannelAlert",
    "Device",
    "DeviceStream",
    "DispatchTask",
    "Holiday",
    "IdempotencyRecord",
    "InboundReceipt",
    "IntegratorClient",
    "Notification",
    "NotificationBudget",
    "OutboxEvent",
    "Partner",
    "PartnerStatus",
    "RateLimitCounter",
    "ReferenceState",
    "RefreshToken",
    "Region",
    "RoutingDecision",
    "Shift",
    "SignInThrottle",
    "SignInUnlock",
    "SlaClock",
    "StaffPresence",
    "StaffUser",
    "Station",
    "StreamState",
    "Unit",
    "WebhookCursor",
    "WebhookDelivery",
    "WebhookEndpoint",
]
