"""Standard exports: an alert as a NENA EIDO-style incident, a case as a SIMFONI-PPA record.

EIDO (NENA-STA-021) is the emergency-incident exchange format of NG9-1-1; this is its shape
(incident, location with uncertainty, agencies, dispatch) in JSON, not a conformance claim.
SIMFONI-PPA, the national case system, has no public API: the field names of its entry form
are used and listed in docs/integrators.md.

What goes in is limited to what the caller may see (``app.policy`` decides which alerts, and
whether a victim's being a child may be told: ``export_shows_child``): never contact data,
narratives or notes, and a child victim's status only to police after a hand-over to police and
to supervisors and admins. What a duress cancel leaves is shown as ``app.policy.profile`` says:
``cancelled_under_duress`` only to UPTD PPA staff, ``cancelled_by_victim`` to everyone else, and
pseudonymous readers get the same approach instruction and ``doNotCallBack`` on every incident
(a reader who did not watch the alert live learns no more than one who did).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import IntegratorPrincipal, Principal, StaffPrincipal
from app.errors import Forbidden, NotFound
from app.models import Alert, Assignment, Case, ChannelAlert, PartnerStatus, Unit
from app.policy.alerts import AlertAccess, export_shows_child, open_alert
from app.policy.integrators import integrator_may_read_cases
from app.policy.profile import approach, disposition, do_not_call_back
from app.policy.roles import PROVINCE_WIDE_ROLES

CONFIDENCE_PCT = 68
"""Phone fixes report a one-sigma radius: the true point is inside it about 68 % of the time."""


async def _visible_alert(
    session: AsyncSession, principal: Principal, alert_id: Any, now: datetime
) -> tuple[Alert, AlertAccess]:
    """Exports are for supervisors, admins and integrators with ``exports:read``; which alert
    they may export is app.policy's answer, like every other alert route."""
    if isinstance(principal, StaffPrincipal) and principal.role not in PROVINCE_WIDE_ROLES:
        raise Forbidden("Exports are for supervisors, admins and integrators.")
    if not isinstance(principal, StaffPrincipal) and not (
        isinstance(principal, IntegratorPrincipal) and "exports:read" in principal.scopes
    ):
        raise Forbidden("This route needs the scope exports:read.")
    # Sight in time matters to units and to a supervisor's break-glass grant.
    return await open_alert(session, principal, alert_id, now=now)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def eido_incident(
    session: AsyncSession, *, principal: Principal, alert_id: Any, now: datetime
) -> tuple[dict[str, Any], AlertAccess]:
    """The incident, and what the caller was allowed to see of the alert (for the audit)."""
    alert, access = await _visible_alert(session, principal, alert_id, now)
    legs = (
        await session.execute(
            select(Assignment, Unit)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(Assignment.alert_id == alert.id)
            # Legs offered at once in the order of their units, not of their random ids.
            .order_by(Assignment.offered_at, Unit.code, Assignment.id)
        )
    ).all()
    statuses = list(
        await session.scalars(
            select(PartnerStatus)
            .where(PartnerStatus.alert_id == alert.id)
            .order_by(PartnerStatus.created_at, PartnerStatus.id)
        )
    )
    channel = await session.scalar(
        select(ChannelAlert.channel).where(ChannelAlert.alert_id == alert.id)
    )
    location: list[dict[str, Any]] = []
    if alert.last_lat is not None and alert.last_lon is not None:
        location.append(
            {
                "locationId": f"urn:sigap:location:{alert.id}:last",
                "locationByValue": {
                    "type": "Circle",
                    "coordinates": [alert.last_lon, alert.last_lat],
                    "radius": alert.last_accuracy_m,
                    "uom": "m",
                },
                "confidencePercent": CONFIDENCE_PCT,
                "locationTimestamp": _iso(alert.last_fix_at),
                "method": alert.last_location_source,
                "civicAddress": {"country": "ID", "A3": alert.area_code},
                "stations": [
                    {
                        "stationIdentifier": c.get("uid"),
                        "name": c.get("name"),
                        "operator": c.get("partner_code"),
                        "distanceMetres": c.get("distance_m"),
                        "atStation": c.get("at_station"),
                    }
                    for c in alert.station_candidates
                    if isinstance(c, dict)
                ],
            }
        )
    agencies = {
        unit.code: {
            "agencyIdentifier": f"urn:sigap:unit:{unit.code}",
            "agencyName": unit.name,
            "agencyKind": leg.leg_kind,
        }
        for leg, unit in legs
    }
    if alert.transferred_at is not None:
        agencies["112"] = {
            "agencyIdentifier": "urn:sigap:agency:112",
            "agencyName": "Jakarta Siaga 112",
            "agencyKind": "psap",
        }
    incident: dict[str, Any] = {
        "incidentTrackingIdentifier": f"urn:sigap:incident:{alert.id}",
        "localIncidentIdentifier": alert.case_code,
        "incidentTypeCommonRegistryText": "violence against women and children",
        "incidentStatus": alert.state,
        "createdTimestamp": _iso(alert.received_at),
        "lastUpdateTimestamp": _iso(alert.updated_at),
        "acknowledgedTimestamp": _iso(alert.acknowledged_at),
        "onSceneTimestamp": _iso(alert.on_scene_at),
        "transferredTimestamp": _iso(alert.transferred_at),
        "handedOverTo": alert.handed_over_to,
        "disposition": disposition(access.fields, alert.disposition),
        "reportingChannel": channel or "app",
        "reporter": alert.reporter,
        "doNotCallBack": do_not_call_back(access.fields, alert.do_not_call_back),
    }
    told_approach = approach(access.fields)
    if told_approach is not None:
        incident["approach"] = told_approach
    if export_shows_child(principal, alert, access):
        incident["victimIsChild"] = alert.victim_is_child
    document: dict[str, Any] = {
        "eidoVersion": "sigap-eido-style/1",
        "incidentComponent": incident,
        "locationComponent": location,
        "agencyComponent": list(agencies.values()),
        "dispatchComponent": [
            {
                "agencyIdentifier": f"urn:sigap:unit:{unit.code}",
                "step": leg.step,
                "status": leg.status,
                "offeredTimestamp": _iso(leg.offered_at),
                "acceptedTimestamp": _iso(leg.accepted_at),
                "closedTimestamp": _iso(leg.closed_at),
            }
            for leg, unit in legs
        ],
        "partnerStatusComponent": [
            {
                "status": s.status,
                "reason": s.reason,
                "disposition": s.disposition,
                "externalReference": s.external_ref,
                "reportedTimestamp": _iso(s.reported_at),
            }
            for s in statuses
        ],
    }
    return document, access


SIMFONI_VIOLENCE = {
    "physical": "fisik",
    "psychological": "psikis",
    "sexual": "seksual",
    "exploitation": "eksploitasi",
    "trafficking": "trafficking",
    "neglect": "penelantaran",
    "other": "lainnya",
}


async def simfoni_case(
    session: AsyncSession, *, principal: Principal, alert_id: Any, now: datetime
) -> tuple[dict[str, Any], AlertAccess]:
    """A case in the shape of SIMFONI-PPA's entry form (field names in docs/integrators.md),
    and what the caller was allowed to see of the alert. Needs ``cases:read`` too: a case file
    is more than an incident; and only audiences allowed case data get it
    (``integrator_may_read_cases``: not a transit operator, whatever its scopes)."""
    if isinstance(principal, IntegratorPrincipal) and "cases:read" not in principal.scopes:
        raise Forbidden("A case export needs the scopes exports:read and cases:read.")
    alert, access = await _visible_alert(session, principal, alert_id, now)
    if isinstance(principal, IntegratorPrincipal) and not integrator_may_read_cases(principal):
        # After the sight check: an alert it cannot see stays a 404, as everywhere.
        raise Forbidden("Case data is not for this client's data scope.")
    case = await session.scalar(select(Case).where(Case.alert_id == alert.id))
    if case is None:
        raise NotFound("No case file is open for this alert.")
    record: dict[str, Any] = {
        "no_registrasi": alert.case_code,
        "tanggal_pengaduan": _iso(alert.received_at),
        "tanggal_kejadian": _iso(alert.pressed_at or alert.received_at),
        "unit_layanan": "UPTD PPA " + alert.region_code,
        "kode_wilayah_kejadian": alert.area_code,
        "sumber_pengaduan": "pelapor" if alert.reporter == "witness" else "korban",
        "jenis_kekerasan": [SIMFONI_VIOLENCE.get(v, v) for v in case.violence_types],
        "tingkat_risiko": case.risk_level,
        # The age group says whether the victim is a child: the same rule as EIDO's flag.
        "kelompok_umur_korban": (
            case.victim_age_group if export_shows_child(principal, alert, access) else None
        ),
        "tahap_layanan": case.stage,
        "layanan": sorted(case.milestones),
        "status_rujukan": alert.handed_over_to,
        "tanggal_update": _iso(case.updated_at),
    }
    return record, access
