"""Notifications: reaching people who are not watching a screen (the on-call counselor at
night, the supervisor) by SMS, WhatsApp or voice. A shared service: dispatch and the SLA monitor
both queue through it, and neither imports the other for it.

In: ``queue``/``queue_many`` in the transaction of the change a message announces.
Out: ``deliver_notifications`` (the notifier loop) sends them at least once through the
configured providers, within daily budgets counted on the region's calendar, with critical
messages coalesced into digests and never a transaction held across a gateway call.

- ``queue.py``: queueing, the per-alert limit, who the supervisors on duty are;
- ``budget.py``: the ordinary and reserved critical pools, per local day;
- ``digest.py``: which due messages go out together (pure);
- ``delivery.py``: claim, send, record;
- ``providers.py``: log, HTTP gateway, recorder.
"""

from app.notify.budget import CRITICAL_KINDS
from app.notify.delivery import deliver_due, deliver_notifications
from app.notify.providers import (
    HttpGatewayProvider,
    LogProvider,
    NotificationProvider,
    OutboundMessage,
    RecordingProvider,
    build_providers,
)
from app.notify.queue import Message, queue, queue_many, supervisors_on_duty

__all__ = [
    "CRITICAL_KINDS",
    "HttpGatewayProvider",
    "LogProvider",
    "Message",
    "NotificationProvider",
    "OutboundMessage",
    "RecordingProvider",
    "build_providers",
    "deliver_due",
    "deliver_notifications",
    "queue",
    "queue_many",
    "supervisors_on_duty",
]
