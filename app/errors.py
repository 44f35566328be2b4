"""Domain errors. Each class is one stable problem type (RFC 9457).

A service raises these; ``app.api.problems`` renders them as ``application/problem+json`` with
``type = /problems/<slug>``. ``retryable`` tells the mobile app whether retrying the same request
can succeed; docs/problems.md is generated from ``PROBLEM_TYPES``.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "/problems/"


class DomainError(Exception):
    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    retryable: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def __init__(
        self,
        detail: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra or {}
        self.headers = headers or {}

    @classmethod
    def type_uri(cls) -> str:
        return PROBLEM_BASE + cls.slug


class MalformedJson(DomainError):
    status, slug, title = 400, "malformed-json", "The body is not valid JSON"
    description = "Send a UTF-8 JSON object with Content-Type: application/json."


class Unauthenticated(DomainError):
    status, slug, title = 401, "unauthenticated", "Missing or invalid credentials"
    description = (
        "The credential is missing, unknown, expired or revoked. Register again or sign in."
    )


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Not allowed for your role"
    description = "The credential is valid but its role or scope does not allow this operation."


class PinIncorrect(DomainError):
    status, slug, title = 403, "pin-incorrect", "The PIN is not correct"
    description = "Nothing changed. After too many wrong PINs cancelling pauses (see pin-locked)."


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "No such resource"
    description = "It does not exist or is not yours to see (the two are deliberately alike)."


class PassedOn(NotFound):
    slug, title = "passed-on", "The alert was passed to another unit"
    description = (
        "Your unit's offer closed (expired, declined, withdrawn or its claim lapsed) and its grace "
        "ended: `passed_to` lists the units that have the alert now. Nothing more about it is "
        "shown to your unit."
    )


class MethodNotAllowed(DomainError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed on this resource"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "The request conflicts with the current state"


class UsernameTaken(Conflict):
    slug, title = "username-taken", "That username is taken"


class LastAdmin(Conflict):
    slug, title = "last-admin", "The last active admin cannot be disabled or demoted"
    description = (
        "Nobody could administer the deployment after this change. Nothing changed; make "
        "another account an admin first."
    )


class IllegalTransition(Conflict):
    slug, title = "illegal-transition", "That status change is not allowed now"
    description = "The alert is not in a state that allows this change; reload it."


class ClaimHeld(Conflict):
    slug, title = "claim-held", "Someone else already holds this alert"
    description = (
        "Another responder accepted first; `holder` names them. Nothing changed for you."
    )


class OfferClosed(Conflict):
    slug, title = "offer-closed", "This offer is no longer open"
    description = "It was withdrawn, declined, re-offered elsewhere or the alert ended; reload."


class AlertClosed(Conflict):
    slug, title = "alert-closed", "The alert is already resolved or cancelled"
    description = "Nothing changed. Resolved and cancelled alerts take no further updates."


class IdempotencyInFlight(DomainError):
    status, slug, title = 409, "idempotency-request-in-flight", "The same request is in progress"
    retryable = True
    description = (
        "A request with this Idempotency-Key is still being processed. Retry after a short "
        "pause with the same key and body; you will get its response."
    )


class BodyTooLarge(DomainError):
    status, slug, title = 413, "body-too-large", "The request body is too large"
    description = "Bodies are limited to 64 KB. Do not retry the same body."


class UnsupportedMediaType(DomainError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported content type"
    description = "This route takes application/json (the token route takes form data)."


class ValidationFailed(DomainError):
    status, slug, title = 422, "validation-error", "The request is not valid"
    description = "The `errors` member lists each field and why. Nothing was changed."


class MediationForbidden(DomainError):
    status, slug, title = 422, "mediation-forbidden", "Sexual violence cannot go to mediation"
    description = (
        "UU TPKS Art. 23: no out-of-court settlement for sexual violence. Nothing changed."
    )


class WebhookTargetRefused(DomainError):
    status, slug, title = 422, "webhook-target-refused", "This webhook address is not allowed"
    description = (
        "Webhooks go only to https:// on port 443 at public addresses (or a private network an "
        "admin allow-listed for this integrator). Nothing was registered."
    )


class WebhookSignatureInvalid(DomainError):
    status, slug, title = 401, "webhook-signature-invalid", "The webhook signature is not valid"
    description = (
        "The Standard Webhooks headers are missing, the signature does not match the body, or "
        "the timestamp is more than 300 s off. Nothing changed. Sign with your webhook secret."
    )


class IdempotencyKeyReused(DomainError):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency-Key reused with another body"
    description = (
        "This key was already used by this device for a different request body. Use a new key "
        "for a new request; never retry this one."
    )


class PinRules(DomainError):
    status, slug, title = 422, "pin-rules", "The PINs do not meet the rules"
    description = "PINs are 4 to 12 digits; the duress PIN must differ from the cancel PIN."


class RateLimited(DomainError):
    status, slug, title = 429, "rate-limited", "Too many requests"
    retryable = True
    description = (
        "Retry after the number of seconds in Retry-After. Alert presses are never limited."
    )


class PinLocked(DomainError):
    status, slug, title = 429, "pin-locked", "Too many wrong PINs: cancelling is paused"
    retryable = True
    description = "The alert stays active and staff are told. Retry after Retry-After seconds."


class InternalError(DomainError):
    status, slug, title = 500, "internal-error", "Internal error"
    retryable = True
    description = "Unexpected; nothing was acknowledged. Retry with the same Idempotency-Key."


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "service-unavailable", "Temporarily unavailable"
    retryable = True
    description = (
        "The database cannot be reached right now. Nothing was acknowledged. Retry after "
        "Retry-After seconds with the same Idempotency-Key."
    )


class Overloaded(DomainError):
    status, slug, title = 503, "overloaded", "Busy with incoming alerts"
    retryable = True
    description = (
        "Every database connection is busy with alerts, so this lower-priority request (a "
        "report, an export, an administrative change) was set aside. Nothing was done. Retry "
        "after Retry-After seconds. Presses, the stream and responders' actions are never "
        "refused this way."
    )


PROBLEM_TYPES: tuple[type[DomainError], ...] = (
    MalformedJson,
    Unauthenticated,
    Forbidden,
    PinIncorrect,
    NotFound,
    PassedOn,
    MethodNotAllowed,
    Conflict,
    UsernameTaken,
    LastAdmin,
    IllegalTransition,
    ClaimHeld,
    OfferClosed,
    AlertClosed,
    IdempotencyInFlight,
    BodyTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    IdempotencyKeyReused,
    WebhookTargetRefused,
    WebhookSignatureInvalid,
    MediationForbidden,
    PinRules,
    RateLimited,
    PinLocked,
    InternalError,
    ServiceUnavailable,
    Overloaded,
)
