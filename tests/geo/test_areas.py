"""AreaIndex: known answers from the data, agreement with brute force, fallbacks, bad input."""

from __future__ import annotations

import json
import math
import random
from functools import cache

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import shape

from app.geo.areas import Area, AreaIndex
from app.reference.bundle import to_geo_areas
from tests.geo.brute import BruteArea, brute_areas, brute_locate
from tests.geo.shipped import SHARED_DATA, dki, dki_areas, island_bundle, shared_data

MAX_BOUNDARY_SHIFT_M = 15.0
"""How far simplification may move a kecamatan boundary (the build script enforces the same)."""

# Known answers (PRODUCT.md section 7). Coordinates copied from the source rows named in the
# comments; none of them sits on a boundary road.
KNOWN = [
    # transjakarta-gtfs-2026-04/stops.txt H00131P "Monumen Nasional"
    ("TJ Monumen Nasional", -6.176248, 106.82286, "3173080"),  # Gambir
    # transjakarta-gtfs-2026-04/stops.txt H00014P "Blok M"
    ("TJ Blok M", -6.243312, 106.80175, "3171060"),  # Kebayoran Baru
    # transjakarta-gtfs-2026-04/stops.txt H00096P "Kampung Rambutan"
    ("TJ Kampung Rambutan", -6.309885, 106.88216, "3172020"),  # Ciracas
    # lrt-jakarta-gtfs/stops.txt SVEL "Stasiun LRT Velodrome"
    ("LRT Velodrome", -6.1921316, 106.8911771, "3172090"),  # Pulo Gadung
    # lrt-jakarta-gtfs/stops.txt SPGD "Stasiun LRT Pegangsaan Dua"
    ("LRT Pegangsaan Dua", -6.1572135, 106.9142091, "3175050"),  # Kelapa Gading
    # dki-petadasar-pemerintahan-stasiun/stasiun_ka.geojson OBJECTID 20 "STASIUN MANGGARAI"
    ("KRL Manggarai", -6.210020649999933, 106.85026558100009, "3171090"),  # Tebet
    # lrt-jabodebek-stations/lrt_jabodebek_stations.csv SHAR "Stasiun LRT Harjamukti" (Depok)
    ("LRT Jabodebek Harjamukti", -6.3738926, 106.8956698, None),
]


@pytest.mark.parametrize(("label", "lat", "lon", "code"), KNOWN, ids=[k[0] for k in KNOWN])
def test_known_answers(label: str, lat: float, lon: float, code: str | None) -> None:
    match = dki_areas().locate(lat, lon)
    assert match.area_code == code, label
    if code is None:
        assert match.method == "outside"
        assert match.region_code is None
        assert match.distance_m > dki().region.outside_tolerance_m
    else:
        assert (match.method, match.region_code, match.distance_m) == ("inside", "dki-jakarta", 0)


def test_known_answer_coordinates_match_the_source_rows() -> None:
    data = shared_data()
    stops: dict[str, tuple[float, float]] = {}
    for folder in ("transjakarta-gtfs-2026-04", "lrt-jakarta-gtfs"):
        lines = (data / folder / "stops.txt").read_text("utf-8-sig").splitlines()
        header = lines[0].split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            stops[row["stop_id"]] = (float(row["stop_lat"]), float(row["stop_lon"]))
    assert stops["H00131P"] == KNOWN[0][1:3]
    assert stops["H00014P"] == KNOWN[1][1:3]
    assert stops["H00096P"] == KNOWN[2][1:3]
    assert stops["SVEL"] == KNOWN[3][1:3]
    assert stops["SPGD"] == KNOWN[4][1:3]
    krl = json.loads(
        (data / "dki-petadasar-pemerintahan-stasiun" / "stasiun_ka.geojson").read_text()
    )
    manggarai = next(f for f in krl["features"] if f["properties"]["OBJECTID"] == 20)
    assert manggarai["properties"]["NAMOBJ"] == "STASIUN MANGGARAI"
    assert tuple(reversed(manggarai["geometry"]["coordinates"])) == KNOWN[5][1:3]
    jabodebek = (data / "lrt-jabodebek-stations" / "lrt_jabodebek_stations.csv").read_text()
    assert "SHAR,CB12,Stasiun LRT Harjamukti,Cibubur,-6.3738926,106.8956698" in jabodebek


# ---------------------------------------------------------------------------------------------
# Agreement with brute force


@cache
def shipped_brute() -> list[BruteArea]:
    return brute_areas(to_geo_areas(dki()))


def tolerances() -> dict[str, float]:
    return {"dki-jakarta": dki().region.outside_tolerance_m}


@cache
def sampling_triangles() -> list[list[tuple[str, np.ndarray]]]:
    """Per kecamatan, triangles covering its ORIGINAL polygon (the shipped one without sources)."""
    if (SHARED_DATA / "bps-hdx-admin-boundaries").is_dir():
        source = json.loads(
            (SHARED_DATA / "bps-hdx-admin-boundaries" / "dki_jakarta_kecamatan.geojson").read_text()
        )
        polygons = {f["properties"]["kode_bps"]: shape(f["geometry"]) for f in source["features"]}
    else:
        polygons = {props.code: shape(geometry) for props, geometry in dki().areas}
    per_area = []
    for code in sorted(polygons):
        triangles = shapely.get_parts(shapely.constrained_delaunay_triangles(polygons[code]))
        per_area.append([(code, shapely.get_coordinates(t)[:3]) for t in triangles])
    return per_area


def check_point(lat: float, lon: float) -> None:
    expected = brute_locate(shipped_brute(), tolerances(), lat, lon)
    match = dki_areas().locate(lat, lon)
    assert expected.accepts(match.method, match.area_code), (lat, lon, match, expected)
    if match.method == "inside":
        assert match.distance_m == 0 and match.region_code == "dki-jakarta"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    area=st.integers(min_value=0, max_value=43),
    triangle=st.integers(min_value=0, max_value=10**9),
    u=st.floats(min_value=0, max_value=1),
    v=st.floats(min_value=0, max_value=1),
)
def test_points_in_kecamatan_agree_with_brute_force(
    area: int, triangle: int, u: float, v: float
) -> None:
    triangles = sampling_triangles()[area]
    _, (a, b, c) = triangles[triangle % len(triangles)]
    if u + v > 1:  # fold the unit square onto the triangle
        u, v = 1 - u, 1 - v
    lon, lat = a + u * (b - a) + v * (c - a)
    check_point(float(lat), float(lon))


def test_random_points_around_jakarta_agree_with_brute_force() -> None:
    """Uniform points over DKI's bounding box and around it: all three methods occur."""
    rng = random.Random(20261123)
    methods = set()
    for _ in range(1500):
        lat, lon = rng.uniform(-6.40, -6.05), rng.uniform(106.65, 107.00)
        check_point(lat, lon)
        methods.add(dki_areas().locate(lat, lon).method)
    assert methods == {"inside", "nearest", "outside"}


def test_points_just_off_the_coast_are_placed_in_the_nearest_kecamatan() -> None:
    # Jakarta Bay off Ancol (Pademangan): a fix from a pier or a boat ~100 m out...
    near = dki_areas().locate(-6.117, 106.829)
    assert (near.method, near.area_code) == ("nearest", "3175020")
    assert 50 < near.distance_m < 150
    # ...and ~300 m out, beyond the 250 m tolerance.
    far = dki_areas().locate(-6.114, 106.829)
    assert (far.method, far.area_code) == ("outside", None)
    assert 250 < far.distance_m < 400
    check_point(-6.117, 106.829)
    check_point(-6.114, 106.829)


def test_simplification_moved_boundaries_by_at_most_the_stated_tolerance() -> None:
    data = shared_data()
    source = json.loads(
        (data / "bps-hdx-admin-boundaries" / "dki_jakarta_kecamatan.geojson").read_text()
    )
    originals = {f["properties"]["kode_bps"]: shape(f["geometry"]) for f in source["features"]}
    shipped = {props.code: shape(geometry) for props, geometry in dki().areas}
    assert sorted(originals) == sorted(shipped)
    scale = np.array([111_320 * math.cos(math.radians(-6.2)), 110_574.0])
    for code, original in originals.items():
        shift = shapely.hausdorff_distance(
            shapely.transform(original.boundary, lambda xy: xy * scale),
            shapely.transform(shipped[code].boundary, lambda xy: xy * scale),
            densify=0.25,
        )
        assert shift <= MAX_BOUNDARY_SHIFT_M, (code, shift)
        # Every island survives simplification.
        assert len(shapely.get_parts(shipped[code])) == len(shapely.get_parts(original)), code


def test_shipped_polygons_form_a_clean_coverage() -> None:
    """Neighbours share their borders exactly: no overlaps, no slivers between kecamatan."""
    geoms = [shape(geometry) for _, geometry in dki().areas]
    assert all(g.is_valid for g in geoms)
    assert shapely.coverage_is_valid(geoms)


# ---------------------------------------------------------------------------------------------
# Rules on small synthetic areas


def square(code: str, region: str, x0: float, y0: float, size: float = 0.01) -> Area:
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return Area(
        code, f"Area {code}", code[:4], "City", region, {"type": "Polygon", "coordinates": [ring]}
    )


def test_shared_boundary_goes_to_the_lowest_code() -> None:
    index = AreaIndex.build([square("0002", "r", 0.01, 0.0), square("0001", "r", 0.0, 0.0)])
    for lat in (0.0, 0.003, 0.01):  # on the shared edge, including both corners
        match = index.locate(lat, 0.01)
        assert (match.area_code, match.method, match.distance_m) == ("0001", "inside", 0.0)
    assert index.locate(0.005, 0.015).area_code == "0002"


def test_nearest_within_tolerance_then_outside() -> None:
    index = AreaIndex.build([square("0001", "r", 0.0, 0.0)], tolerance_m=200)
    near = index.locate(0.005, 0.0115)  # ~167 m east of the square
    assert near.method == "nearest" and near.area_code == "0001" and near.region_code == "r"
    assert near.distance_m == pytest.approx(166.8, abs=1)
    far = index.locate(0.005, 0.0125)  # ~278 m east
    assert (far.method, far.area_code, far.region_code) == ("outside", None, None)
    assert far.distance_m == pytest.approx(278.0, abs=1)


def test_tolerance_is_per_region() -> None:
    index = AreaIndex.build(
        [square("0001", "wide", 0.0, 0.0), square("0002", "strict", 0.014, 0.0)],
        tolerance_m={"wide": 300},
    )
    # 278 m from "wide" (0001) and 167 m from "strict" (0002, tolerance 0): 0001 takes it.
    assert index.locate(0.005, 0.0125).area_code == "0001"
    # 11 m from 0002 but 434 m from 0001: nobody's tolerance reaches it.
    assert index.locate(0.005, 0.0139).method == "outside"


def test_nearest_prefers_the_closer_area() -> None:
    index = AreaIndex.build(
        [square("0001", "r", 0.0, 0.0), square("0002", "r", 0.0112, 0.0)], tolerance_m=500
    )
    # The gap between them is 0.0012° (~133 m) wide; this point is 30 m from 0002.
    match = index.locate(0.005, 0.01093)
    assert match.area_code == "0002" and match.method == "nearest"


def test_holes_and_multipolygons() -> None:
    outer = [[0, 0], [0.03, 0], [0.03, 0.03], [0, 0.03], [0, 0]]
    hole = [[0.01, 0.01], [0.02, 0.01], [0.02, 0.02], [0.01, 0.02], [0.01, 0.01]]
    islet = [[0.05, 0], [0.051, 0], [0.051, 0.001], [0.05, 0.001], [0.05, 0]]
    geometry = {"type": "MultiPolygon", "coordinates": [[outer, hole], [islet]]}
    index = AreaIndex.build([Area("0001", "A", "00", "C", "r", geometry)], tolerance_m=0)
    assert index.locate(0.005, 0.005).method == "inside"
    assert index.locate(0.015, 0.015).method == "outside"  # in the lake
    assert index.locate(0.0005, 0.0505).method == "inside"  # on the islet


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (math.nan, 106.8),
        (-6.2, math.nan),
        (math.inf, 106.8),
        (-6.2, -math.inf),
        (90.0001, 0.0),
        (-91, 0),
        (0, 180.5),
        (0, -181),
        (True, 106.8),
        ("-6.2", "106.8"),
        (None, None),
    ],
)
def test_unusable_coordinates_are_outside_never_an_error(lat: object, lon: object) -> None:
    match = dki_areas().locate(lat, lon)  # type: ignore[arg-type]
    assert (match.area_code, match.region_code, match.method) == (None, None, "outside")
    assert match.distance_m == math.inf


def test_far_away_points_are_outside_with_a_distance() -> None:
    for lat, lon in ((90, 180), (-90, -180), (0, 0), (-6.9, 107.6)):  # poles, Null Island, Bandung
        match = dki_areas().locate(lat, lon)
        assert (
            match.method == "outside"
            and math.isfinite(match.distance_m)
            and match.distance_m > 1000
        )


def test_empty_index_places_nothing() -> None:
    match = AreaIndex.build([], tolerance_m={}).locate(-6.2, 106.8)
    assert (match.method, match.area_code, match.distance_m) == ("outside", None, math.inf)


def test_build_rejects_bad_areas() -> None:
    point = Area("0001", "A", "00", "C", "r", {"type": "Point", "coordinates": [0, 0]})
    with pytest.raises(ValueError, match="Polygon"):
        AreaIndex.build([point])
    with pytest.raises(ValueError, match="duplicate"):
        AreaIndex.build([square("0001", "r", 0, 0), square("0001", "r", 1, 1)])
    with pytest.raises(ValueError, match="tolerance"):
        AreaIndex.build([square("0001", "r", 0, 0)], tolerance_m=-1)
    broken = Area("0001", "A", "00", "C", "r", {"type": "Polygon", "coordinates": "nonsense"})
    with pytest.raises(ValueError, match="unreadable"):
        AreaIndex.build([broken])


def test_self_intersecting_polygon_is_repaired() -> None:
    bowtie = [[0, 0], [0.01, 0.01], [0.01, 0], [0, 0.01], [0, 0]]
    index = AreaIndex.build(
        [Area("0001", "A", "00", "C", "r", {"type": "Polygon", "coordinates": [bowtie]})]
    )
    assert index.locate(0.005, 0.002).area_code == "0001"


# ---------------------------------------------------------------------------------------------
# Two regions side by side


def test_index_over_two_regions_places_points_in_the_right_region() -> None:
    jakarta, island = dki(), island_bundle()
    index = AreaIndex.build(
        [*to_geo_areas(jakarta), *to_geo_areas(island)],
        {
            jakarta.region.code: jakarta.region.outside_tolerance_m,
            island.region.code: island.region.outside_tolerance_m,
        },
    )
    assert len(index) == 46
    blok_m = index.locate(-6.243312, 106.80175)
    assert (blok_m.region_code, blok_m.area_code) == ("dki-jakarta", "3171060")
    west = index.locate(-5.01, 119.01)
    assert (west.region_code, west.area_code, west.method) == ("test-island", "9901010", "inside")
    east = index.locate(-5.005, 119.035)
    assert (east.region_code, east.area_code) == ("test-island", "9901020")
    shore = index.locate(-5.0195, 119.0405)  # ~55 m east of Pulau Timur: within its 100 m
    assert (shore.region_code, shore.area_code, shore.method) == (
        "test-island",
        "9901020",
        "nearest",
    )
    sea = index.locate(-5.01, 119.05)  # ~1.1 km out: beyond the island's tolerance
    assert (sea.region_code, sea.area_code, sea.method) == (None, None, "outside")
