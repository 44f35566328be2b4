"""A location in words, on the shipped bundle: the kelurahan, and the nearest station with its
distance and the compass direction from it to the point."""

from __future__ import annotations

import math

import pytest

from app.geo.places import PlaceIndex, bearing_deg, bundle_kelurahan, compass
from app.reference.bundle import to_geo_stations
from tests.geo.shipped import DKI_DIR, dki


def _places() -> PlaceIndex:
    return PlaceIndex.build(bundle_kelurahan(DKI_DIR, "dki-jakarta"), to_geo_stations(dki()))


@pytest.mark.parametrize(
    ("bearing", "direction"),
    [(0, "N"), (22.4, "N"), (22.5, "NE"), (90, "E"), (180, "S"), (269, "W"), (337.5, "N"),
     (359.9, "N")],
)
def test_compass_points(bearing: float, direction: str) -> None:
    assert compass(bearing) == direction


def test_bearing_follows_the_map() -> None:
    assert math.isclose(bearing_deg(-6.2, 106.8, -6.1, 106.8), 0.0, abs_tol=0.01)
    assert math.isclose(bearing_deg(-6.2, 106.8, -6.2, 106.9), 90.0, abs_tol=0.1)
    assert math.isclose(bearing_deg(-6.2, 106.8, -6.3, 106.8), 180.0, abs_tol=0.01)


def test_every_kelurahan_lies_in_its_kecamatan() -> None:
    kelurahan = bundle_kelurahan(DKI_DIR, "dki-jakarta")
    kecamatan = {props.code for props, _ in dki().areas}
    assert len(kelurahan) > 250
    assert {k.city_code for k in kelurahan} == kecamatan


@pytest.mark.parametrize(
    ("halte", "kelurahan", "kecamatan"),
    # PRODUCT's known answers (TJ Monumen Nasional -> Gambir, TJ Kampung Rambutan -> Ciracas),
    # one level down: the halte's kelurahan.
    [("Monumen Nasional", "Gambir", "3173080"), ("Kampung Rambutan", "Rambutan", "3172020")],
)
def test_a_point_near_a_halte_is_said_in_words(halte: str, kelurahan: str, kecamatan: str) -> None:
    station = next(s for s in to_geo_stations(dki()) if s.name == halte)
    # About 150 m north-east of the halte.
    place = _places().describe(station.lat + 0.001, station.lon + 0.001)
    assert place is not None and place.landmark is not None
    assert place.kelurahan == kelurahan
    assert place.kelurahan_code is not None and place.kelurahan_code.startswith(kecamatan)
    assert place.landmark.name == halte and place.landmark.direction == "NE"
    assert 100 < place.landmark.distance_m < 200


def test_the_sea_and_unusable_points_name_no_place() -> None:
    places = _places()
    assert places.describe(-5.0, 107.5) is None  # the Java Sea, far from any station
    assert places.describe(float("nan"), 106.8) is None
    assert places.describe(None, None) is None
