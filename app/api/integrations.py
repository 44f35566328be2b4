"""Integrator routes: alerts from other channels, partner status back in (by API or signed
webhook), and standard exports (NENA EIDO-style incident, SIMFONI-PPA-shaped case)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from app.access import IntegratorPrincipal, Principal
from app.api.deps import Context, CurrentPrincipal, Session, error_responses
from app.audit import record
from app.errors import (
    Forbidden,
    IdempotencyInFlight,
    IdempotencyKeyReused,
    NotFound,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
    WebhookSignatureInvalid,
)
from app.identity.integrators import get_integrator
from app.integrations.channels import create_channel_alert
from app.integrations.export import eido_incident, simfoni_case
from app.integrations.partners import receive_inbound, report_status
from app.policy.alerts import AlertAccess, read_detail
from app.schemas.integrations import (
    ChannelAlertCreate,
    ChannelAlertRead,
    DuplicateRead,
    PartnerStatusCreate,
    PartnerStatusRead,
)

router = APIRouter(prefix="/v1", tags=["integrations"])
_ERRORS = error_responses(Unauthenticated, Forbidden, UnsupportedMediaType, ValidationFailed)


def _signature_header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


# The route verifies the raw bytes before it parses them, so FastAPI does not read the body or
# the headers for it: they are described here.
_SIGNED_STATUS: dict[str, Any] = {
    "parameters": [
        _signature_header("webhook-id", "The message id; one already accepted answers 200."),
        _signature_header("webhook-timestamp", "Unix seconds, within ±300 s of the server."),
        _signature_header("webhook-signature", "`v1,<base64 HMAC-SHA256>` (Standard Webhooks)."),
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/PartnerStatusCreate"}}
        },
    },
}


def _integrator(principal: Principal, scope: str) -> IntegratorPrincipal:
    if isinstance(principal, IntegratorPrincipal) and scope in principal.scopes:
        return principal
    raise Forbidden(f"This route is for integrator clients with the scope {scope}.")


@router.post(
    "/integrations/alerts",
    status_code=201,
    summary="Create an alert on a caller's behalf (112 call-takers, SAPA 129)",
    description=(
        "Strictly validated (unknown fields are refused) and idempotent per client and "
        "`reference`: the same reference and body answer 200 with the same alert; the same "
        "reference with another body 422. The alert then follows the app press's path: "
        "dispatch, the stream, SLAs."
    ),
    response_model=ChannelAlertRead,
    responses={
        **error_responses(
            Unauthenticated,
            Forbidden,
            UnsupportedMediaType,
            ValidationFailed,
            IdempotencyInFlight,
            IdempotencyKeyReused,
        ),
        200: {
            "description": "The reference was already recorded: the same alert",
            "model": ChannelAlertRead,
        },
    },
)
async def post_channel_alert(
    data: ChannelAlertCreate,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
    response: Response,
) -> ChannelAlertRead:
    caller = _integrator(principal, "alerts:create")
    created = await create_channel_alert(
        session,
        caller=caller,
        data=data,
        settings=context.settings,
        geo=context.geo,
        keyring=context.keyring,
        now=context.clock.now(),
    )
    if not created.created:
        response.status_code = 200
    return created


@router.post(
    "/integrations/status",
    status_code=201,
    summary="Report progress on an alert you were offered (ASAP-like status)",
    response_model=PartnerStatusRead,
    responses={**_ERRORS, **error_responses(NotFound)},
)
async def post_status(
    data: PartnerStatusCreate, session: Session, context: Context, principal: CurrentPrincipal
) -> PartnerStatusRead:
    reporter = _integrator(principal, "partner_status:write")
    read = await report_status(
        session, reporter=reporter, data=data, source="api", now=context.clock.now()
    )
    await session.commit()
    return read


@router.post(
    "/integrations/status-webhooks/{client_id}",
    status_code=201,
    summary="Receive partner status as a Standard Webhook signed with the client's secret",
    description=(
        "No bearer token: the `webhook-id`, `webhook-timestamp` and `webhook-signature` "
        "headers, signed with the client's webhook secret, are the credential. The timestamp "
        "must be within ±300 s; a `webhook-id` already accepted answers 200 and changes nothing."
    ),
    response_model=PartnerStatusRead,
    openapi_extra=_SIGNED_STATUS,
    responses={
        **error_responses(WebhookSignatureInvalid, ValidationFailed, NotFound),
        200: {
            "description": "A replay of an accepted message: nothing changed",
            "model": DuplicateRead,
        },
    },
)
async def post_status_webhook(
    client_id: str, request: Request, session: Session, context: Context
) -> Response:
    try:
        client = await get_integrator(session, client_id)
    except NotFound as exc:
        raise WebhookSignatureInvalid("Unknown client.") from exc
    if client.disabled_at is not None or "partner_status:write" not in client.scopes:
        raise WebhookSignatureInvalid("This client may not push status.")
    reporter = IntegratorPrincipal(
        client_id=client.id,
        name=client.name,
        scopes=frozenset(client.scopes),
        data_scope=client.data_scope,
        unit_code=client.unit_code,
    )
    read = await receive_inbound(
        session,
        client=client,
        reporter=reporter,
        body=await request.body(),
        headers=dict(request.headers),
        keyring=context.keyring,
        tolerance_s=context.settings.integrations.inbound_tolerance_s,
        now=context.clock.now(),
    )
    await session.commit()
    if read is None:
        return Response(
            status_code=200,
            content=DuplicateRead(duplicate=True).model_dump_json(),
            media_type="application/json",
        )
    return Response(status_code=201, content=read.model_dump_json(), media_type="application/json")


def _audit_export(
    session: Any,
    principal: Principal,
    kind: str,
    access: AlertAccess,
    alert_id: uuid.UUID,
    now: Any,
) -> None:
    record(
        session,
        principal=principal,
        action=f"export.{kind}",
        object_type="alert",
        object_id=alert_id,
        at=now,
        detail=read_detail(access),
    )


@router.get(
    "/exports/alerts/{alert_id}/eido",
    summary="The alert as a NENA EIDO-style incident (scope exports:read)",
    description="Limited to alerts and fields the caller may see; every export is audited.",
    responses={
        **error_responses(Unauthenticated, Forbidden, NotFound, ValidationFailed),
        200: {"content": {"application/json": {"example": {"eidoVersion": "sigap-eido-style/1"}}}},
    },
)
async def get_eido(
    alert_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> dict[str, Any]:
    incident, access = await eido_incident(
        session, principal=principal, alert_id=alert_id, now=context.clock.now()
    )
    _audit_export(session, principal, "eido", access, alert_id, context.clock.now())
    await session.commit()
    return incident


@router.get(
    "/exports/alerts/{alert_id}/simfoni",
    summary="The alert's case as a SIMFONI-PPA-shaped record (exports:read and cases:read)",
    responses={
        **error_responses(Unauthenticated, Forbidden, NotFound, ValidationFailed),
        200: {"content": {"application/json": {"example": {"no_registrasi": "SGP-7K3Q9M2A"}}}},
    },
)
async def get_simfoni(
    alert_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> dict[str, Any]:
    case, access = await simfoni_case(
        session, principal=principal, alert_id=alert_id, now=context.clock.now()
    )
    _audit_export(session, principal, "simfoni", access, alert_id, context.clock.now())
    await session.commit()
    return case
