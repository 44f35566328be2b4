"""Reference data loaded from a region bundle: regions, areas, partners, stations, holidays.

Units (posts, desks) live in ``unit.py`` because operators edit them after loading.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType


class Region(Base):
    __tablename__ = "region"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    province_code: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    data_version: Mapped[str] = mapped_column(String(32))
    central_desk_code: Mapped[str] = mapped_column(String(40))
    outside_tolerance_m: Mapped[float] = mapped_column(Float)
    default_post_hours: Mapped[dict[str, Any]] = mapped_column(JSONType)
    loaded_at: Mapped[datetime]


class Area(Base):
    """A kecamatan (district), keyed by its BPS code."""

    __tablename__ = "area"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    alt_names: Mapped[list[str]] = mapped_column(JSONType)
    city_code: Mapped[str] = mapped_column(String(16))
    city_name: Mapped[str] = mapped_column(String(120))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSONType)


class Partner(Base):
    """A transit operator (Transjakarta, MRT Jakarta, LRT Jakarta)."""

    __tablename__ = "partner"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    modes: Mapped[list[str]] = mapped_column(JSONType)
    phones: Mapped[list[str]] = mapped_column(JSONType)
    email: Mapped[str | None] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(200))
    operating_hours: Mapped[dict[str, Any]] = mapped_column(JSONType)
    control_desk_code: Mapped[str] = mapped_column(String(40))


class Station(Base):
    __tablename__ = "station"

    uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_code: Mapped[str] = mapped_column(ForeignKey("partner.code"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    area_code: Mapped[str | None] = mapped_column(String(16))
    access_points: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)


class Holiday(Base):
    __tablename__ = "holiday"

    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class ReferenceState(Base):
    """One row; ``version`` grows on every load so running processes rebuild their geo indexes."""

    __tablename__ = "reference_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
