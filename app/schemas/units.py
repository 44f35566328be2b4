"""Responding units and regions, as integrators and the console read them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.reference.schema import OpeningHours
from app.schemas.common import StrictInput


class UnitRead(BaseModel):
    code: str
    kind: Literal["post", "central_desk", "transit_desk"]
    name: str
    region_code: str
    area_code: str | None
    partner_code: str | None
    station_uid: str | None
    address: str | None
    lat: float | None
    lon: float | None
    phones: list[str]
    hours: dict[str, Any] | None = Field(
        description="Opening hours; null means the region's default (posts) or always open"
    )
    verified: bool = Field(description="False while the location is a placeholder")
    takes_drills: bool
    active: bool


class UnitUpdate(StrictInput):
    name: str | None = Field(None, min_length=2, max_length=200)
    address: str | None = Field(None, max_length=500)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    phones: list[str] | None = Field(None, max_length=10)
    hours: OpeningHours | None = None
    verified: bool | None = None
    takes_drills: bool | None = None
    active: bool | None = None


class RegionRead(BaseModel):
    code: str
    name: str
    province_code: str
    timezone: str
    data_version: str
    central_desk_code: str
