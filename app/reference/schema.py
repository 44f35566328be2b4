"""The shape of a region's reference data bundle.

A region (DKI Jakarta today, another province tomorrow) is a folder of versioned files:

    region.json       RegionFile: code, name, time zone, thresholds, default opening hours
    areas.geojson     FeatureCollection; each feature's properties are AreaProperties
    partners.json     list[PartnerFile]: transit operators with their public contacts
    stations.json     list[StationFile]: transit stations with platforms and entrances
    units.json        list[UnitFile]: complaint posts, the central desk, partner control desks
    holidays/YYYY.json  HolidaysFile: public holidays of one year

Nothing region-specific lives in code: the loader reads these files into the database and the geo
indexes are built from them.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HHMM = re.compile(r"^([01]\d|2[0-4]):[0-5]\d$")

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpeningHours(_Strict):
    """Weekly opening hours in the region's local time.

    `always_open` wins over `weekly`. Each day holds [open, close) intervals as "HH:MM" strings;
    "24:00" closes at midnight. `closed_on_holidays` closes the unit on the region's holidays.
    """

    always_open: bool = False
    weekly: dict[Weekday, list[tuple[str, str]]] = Field(default_factory=dict)
    closed_on_holidays: bool = True

    @field_validator("weekly")
    @classmethod
    def _check_intervals(
        cls, value: dict[Weekday, list[tuple[str, str]]]
    ) -> dict[Weekday, list[tuple[str, str]]]:
        for day, intervals in value.items():
            for start, end in intervals:
                if not (_HHMM.match(start) and _HHMM.match(end)) or start >= end:
                    raise ValueError(f"bad interval {start}-{end} on {day}")
        return value


class RegionFile(_Strict):
    code: Annotated[str, Field(pattern=r"^[a-z0-9-]{2,32}$")]
    """Stable region code, e.g. "dki-jakarta"."""
    name: str
    province_code: str
    """BPS province code, e.g. "31"."""
    timezone: str
    """IANA zone, e.g. "Asia/Jakarta"."""
    data_version: str
    central_desk_code: str
    """The unit code of this region's 24/7 central desk (must be in units.json)."""
    outside_tolerance_m: float = 500.0
    """A point outside every area polygon but within this distance of one is placed in it."""
    default_post_hours: OpeningHours
    attribution: list[str] = Field(default_factory=list)


class AreaProperties(_Strict):
    """Properties of one areas.geojson feature: a kecamatan (district)."""

    code: str
    """BPS kecamatan code, e.g. "3171060"."""
    name: str
    alt_names: list[str] = Field(default_factory=list)
    city_code: str
    """BPS kota/kabupaten code, e.g. "3171"."""
    city_name: str


class PartnerFile(_Strict):
    code: Annotated[str, Field(pattern=r"^[a-z0-9-]{2,32}$")]
    """e.g. "transjakarta", "mrt", "lrt"."""
    name: str
    modes: list[str]
    phones: list[str] = Field(default_factory=list)
    email: str | None = None
    website: str | None = None
    operating_hours: OpeningHours
    """When the network runs: its help desks (Pos SAPA) are open only then."""
    control_desk_code: str
    """The unit code of the operator's control desk (must be in units.json)."""


class AccessPoint(_Strict):
    id: str
    kind: Literal["platform", "entrance"]
    lat: float
    lon: float
    name: str | None = None


class StationFile(_Strict):
    uid: str
    """Globally unique: "<partner>:<source stop id>", e.g. "transjakarta:H00123"."""
    partner_code: str
    name: str
    kind: Literal["brt_halte", "brt_terminal", "mrt_station", "lrt_station"]
    lat: float
    lon: float
    area_code: str | None = None
    """The kecamatan the station point lies in; None outside the region."""
    access_points: list[AccessPoint] = Field(default_factory=list)


class UnitFile(_Strict):
    code: Annotated[str, Field(pattern=r"^[a-z0-9-]{2,40}$")]
    """A post's code is its kecamatan's BPS code; others e.g. "central", "transjakarta"."""
    kind: Literal["post", "central_desk", "transit_desk"]
    name: str
    area_code: str | None = None
    partner_code: str | None = None
    station_uid: str | None = None
    """For a station help desk (Pos SAPA): the station it sits in."""
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    phones: list[str] = Field(default_factory=list)
    hours: OpeningHours | None = None
    """None means the region's default post hours (posts) or always open (desks)."""
    verified: bool = False
    """False while the location is a placeholder (e.g. the kecamatan office)."""
    takes_drills: bool = True
    source: str | None = None


class Holiday(_Strict):
    date: date
    name: str


class HolidaysFile(_Strict):
    year: int
    source: str
    holidays: list[Holiday]
