"""Need-to-know, decided in one place: who may see which alert, which of its fields, which of
its events, and until when.

Every audience asks here: REST routes (``alerts.open_alert``), the stream (``app.realtime.scopes``
builds its answer from ``sight``), and whatever sends data outward (notifications, webhooks,
exports) through ``fields``. The rules:

- Supervisors and admins see every alert, every field.
- A unit (complaint post, central desk, transit desk) sees an alert from the moment it was offered
  it. Its sight ends when its leg closes (expired, declined, lapsed, withdrawn, released), plus a
  grace of ``LATE_ACCEPT_GRACE`` in which it may still open and accept the alert late; it sees
  only what happened up to the close, and after the grace a request for the alert answers
  "passed to <unit>". A completed leg (the unit
  saw the alert through to its end) keeps sight.
- Child identity (contact name and phone, free text, the raw body, ``victim_is_child``) only for
  the unit holding the claim, supervisors and admins, and police after a hand-over to police.
- A restricted record (``restriction``): its identity only for the unit holding the claim, and
  for a supervisor who broke the glass with a written reason, until the grant ends; never admins.
- Transit staff are pseudonymous: no contact, free text, ``victim_is_child``,
  ``companion_preference``, ``duress`` or ``linked_alert_id``; they keep "do not call back" and
  nothing of case files.
  The preference and a duress cancel also show in legs, routing and events: ``profile``.
- Integrators: what their data scope (``app.integrations.scope``) allows; without one, no alert.
  On the stream, an alert's events from the moment it entered that scope (``integrators``).
- A device: its own alert, through the reassurance view only.

``sight``, ``fields``, ``profile`` and ``restriction`` are pure; ``alerts`` loads the facts from
the database.
"""
