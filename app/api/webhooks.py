"""``/v1/webhooks``: an integrator's own webhook endpoints, their secrets and delivery logs."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from app.access import IntegratorPrincipal, Principal
from app.api.deps import Context, CurrentPrincipal, Paging, Session, error_responses
from app.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
    WebhookTargetRefused,
)
from app.integrations.ssrf import system_resolver
from app.integrations.webhooks import (
    disable_endpoint,
    list_deliveries,
    list_endpoints,
    own_endpoint,
    redeliver,
    register_endpoint,
    rotate_secret,
)
from app.schemas.common import Page
from app.schemas.integrations import (
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointRead,
    WebhookSecret,
)

router = APIRouter(prefix="/v1/webhooks", tags=["integrations"])
_ERRORS = error_responses(Unauthenticated, Forbidden)
_FOUND = error_responses(Unauthenticated, Forbidden, NotFound, ValidationFailed)


def _manager(principal: Principal) -> IntegratorPrincipal:
    if isinstance(principal, IntegratorPrincipal) and "webhooks:manage" in principal.scopes:
        return principal
    raise Forbidden("This route is for integrator clients with the scope webhooks:manage.")


@router.post(
    "/endpoints",
    status_code=201,
    summary="Register a webhook endpoint; its signing secret is shown once",
    description=(
        "The URL must be `https://` on port 443 and resolve to public addresses only (or to the "
        "private network an admin allow-listed for this client); it is checked now and again "
        "on every connection. Events reach it only for alerts this client may see."
    ),
    response_model=WebhookSecret,
    responses={
        **_ERRORS,
        **error_responses(UnsupportedMediaType, ValidationFailed, WebhookTargetRefused),
    },
)
async def post_endpoint(
    data: WebhookEndpointCreate, session: Session, context: Context, principal: CurrentPrincipal
) -> WebhookSecret:
    owner = _manager(principal)
    created = await register_endpoint(
        session,
        owner=owner,
        data=data,
        keyring=context.keyring,
        settings=context.settings.integrations,
        resolver=system_resolver,
        now=context.clock.now(),
    )
    await session.commit()
    return created


@router.get(
    "/endpoints",
    summary="This client's webhook endpoints",
    response_model=list[WebhookEndpointRead],
    responses=_ERRORS,
)
async def get_endpoints(session: Session, principal: CurrentPrincipal) -> list[WebhookEndpointRead]:
    return await list_endpoints(session, owner=_manager(principal))


@router.post(
    "/endpoints/{endpoint_id}/secret",
    summary="Rotate an endpoint's secret; the old one keeps signing for 24 h",
    description="During the overlap each webhook carries two `v1,` signatures.",
    response_model=WebhookSecret,
    responses=_FOUND,
)
async def post_rotate(
    endpoint_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> WebhookSecret:
    rotated = await rotate_secret(
        session,
        owner=_manager(principal),
        endpoint_id=endpoint_id,
        keyring=context.keyring,
        now=context.clock.now(),
    )
    await session.commit()
    return rotated


@router.delete(
    "/endpoints/{endpoint_id}",
    status_code=204,
    summary="Disable an endpoint (its log is kept)",
    responses=_FOUND,
)
async def delete_endpoint(
    endpoint_id: uuid.UUID, session: Session, context: Context, principal: CurrentPrincipal
) -> Response:
    endpoint = await own_endpoint(session, _manager(principal), endpoint_id)
    await disable_endpoint(
        session, endpoint=endpoint, reason="removed by the integrator", now=context.clock.now()
    )
    await session.commit()
    return Response(status_code=204)


@router.get(
    "/endpoints/{endpoint_id}/deliveries",
    summary="The endpoint's delivery log, newest first",
    response_model=Page[WebhookDeliveryRead],
    responses={**_FOUND, **error_responses(ValidationFailed)},
)
async def get_deliveries(
    endpoint_id: uuid.UUID, session: Session, principal: CurrentPrincipal, paging: Paging
) -> Page[WebhookDeliveryRead]:
    items, cursor = await list_deliveries(
        session,
        owner=_manager(principal),
        endpoint_id=endpoint_id,
        limit=paging.limit,
        cursor=paging.cursor,
    )
    return Page[WebhookDeliveryRead](items=items, next_cursor=cursor.encode() if cursor else None)


@router.post(
    "/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Send a delivery again now, under the same webhook-id",
    response_model=WebhookDeliveryRead,
    responses={**_FOUND, **error_responses(Conflict)},
)
async def post_redeliver(
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    session: Session,
    context: Context,
    principal: CurrentPrincipal,
) -> WebhookDeliveryRead:
    read = await redeliver(
        session,
        owner=_manager(principal),
        endpoint_id=endpoint_id,
        delivery_id=delivery_id,
        now=context.clock.now(),
    )
    await session.commit()
    return read
