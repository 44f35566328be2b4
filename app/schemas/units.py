"""Responding units and regions, as integrators and the console read them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

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
    """Only the fields sent change. ``null`` clears a field that may be empty (address, place,
    hours: then the region's default); the others cannot be empty, so ``null`` there is refused
    (and is not in their published schema)."""

    name: str | SkipJsonSchema[None] = Field(None, min_length=2, max_length=200)
    address: str | None = Field(None, max_length=500)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    phones: list[str] | SkipJsonSchema[None] = Field(None, max_length=10)
    hours: OpeningHours | None = None
    verified: bool | SkipJsonSchema[None] = None
    takes_drills: bool | SkipJsonSchema[None] = None
    active: bool | SkipJsonSchema[None] = None

    @field_validator("name", "phones", "verified", "takes_drills", "active", mode="before")
    @classmethod
    def _never_empty(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("not_clearable", "Cannot be cleared: leave it out to keep it")
        return value


class RegionRead(BaseModel):
    code: str
    name: str
    province_code: str
    timezone: str
    data_version: str
    central_desk_code: str
