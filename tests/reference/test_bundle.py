"""The shipped DKI Jakarta bundle: complete, consistent, valid, and rebuilt byte for byte."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import shapely
from pydantic import TypeAdapter
from shapely.geometry import Point, shape

from app.reference.bundle import read_bundle, shipped_regions_dir, to_geo_areas, to_geo_stations
from app.reference.schema import (
    HolidaysFile,
    PartnerFile,
    RegionFile,
    StationFile,
    UnitFile,
)
from tests.geo.shipped import (
    DKI_DIR,
    REPO,
    TEST_ISLAND_DIR,
    build_script,
    dki,
    dki_areas,
    island_bundle,
    shared_data,
)

BOUNDARY_ROAD_M = 15.0
"""A station this close to a kecamatan boundary may fall on either side after simplification."""


def test_shipped_regions() -> None:
    assert shipped_regions_dir() == REPO / "app" / "reference" / "regions"
    assert sorted(p.name for p in shipped_regions_dir().iterdir() if p.is_dir()) == ["dki-jakarta"]


def test_every_file_validates_against_the_schema() -> None:
    RegionFile.model_validate_json((DKI_DIR / "region.json").read_bytes())
    TypeAdapter(list[PartnerFile]).validate_json((DKI_DIR / "partners.json").read_bytes())
    TypeAdapter(list[StationFile]).validate_json((DKI_DIR / "stations.json").read_bytes())
    TypeAdapter(list[UnitFile]).validate_json((DKI_DIR / "units.json").read_bytes())
    HolidaysFile.model_validate_json((DKI_DIR / "holidays" / "2026.json").read_bytes())
    bundle = dki()  # read_bundle also validates areas.geojson and every cross-reference
    assert len(to_geo_areas(bundle)) == 44
    assert len(to_geo_stations(bundle)) == len(bundle.stations)


def test_region() -> None:
    region = dki().region
    assert (region.code, region.name, region.province_code) == ("dki-jakarta", "DKI Jakarta", "31")
    assert region.timezone == "Asia/Jakarta"
    assert region.central_desk_code == "central"
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", region.data_version)
    hours = region.default_post_hours
    assert not hours.always_open and hours.closed_on_holidays
    assert hours.weekly == {d: [("08:00", "16:00")] for d in ("mon", "tue", "wed", "thu", "fri")}
    assert region.attribution


def test_44_kecamatan_in_6_cities() -> None:
    areas = [props for props, _ in dki().areas]
    codes = [a.code for a in areas]
    assert len(codes) == 44 == len(set(codes))
    assert all(
        re.fullmatch(r"31\d{5}", c) and c.startswith(a.city_code)
        for c, a in zip(codes, areas, strict=True)
    )
    per_city = Counter((a.city_code, a.city_name) for a in areas)
    assert per_city == {
        ("3101", "Kepulauan Seribu"): 2,
        ("3171", "Jakarta Selatan"): 10,
        ("3172", "Jakarta Timur"): 10,
        ("3173", "Jakarta Pusat"): 8,
        ("3174", "Jakarta Barat"): 8,
        ("3175", "Jakarta Utara"): 6,
    }
    alt = {a.name: a.alt_names for a in areas if a.alt_names}
    assert alt["Setia Budi"] == ["Setiabudi"] and alt["Kali Deres"] == ["Kalideres"]


def test_areas_file_is_small_and_rounded() -> None:
    text = (DKI_DIR / "areas.geojson").read_text()
    assert len(text.encode()) < 250_000
    assert not re.search(r"\d\.\d{7,}", text), "coordinates are rounded to 6 decimals"


def test_44_posts_each_inside_its_own_kecamatan() -> None:
    posts = [u for u in dki().units if u.kind == "post"]
    assert sorted(u.code for u in posts) == sorted(p.code for p, _ in dki().areas)
    polygons = {props.code: shape(geometry) for props, geometry in dki().areas}
    for post in posts:
        assert post.area_code == post.code
        assert post.lat is not None and post.lon is not None
        assert polygons[post.code].contains(Point(post.lon, post.lat)), post.code
        match = dki_areas().locate(post.lat, post.lon)
        assert (match.method, match.area_code) == ("inside", post.code)
        assert post.name.startswith("Pos Pengaduan Kecamatan ")
        assert not post.verified and post.source and "Placeholder" in post.source
        assert post.hours is None  # the region's default post hours


def test_central_desk_is_always_open() -> None:
    central = next(u for u in dki().units if u.code == dki().region.central_desk_code)
    assert central.kind == "central_desk"
    assert central.name == "UPT PPPA DKI Jakarta (pusat)"
    assert central.hours is not None and central.hours.always_open
    assert not central.hours.closed_on_holidays
    assert central.phones == ["0813-1761-7622"]
    assert not central.verified and central.source
    assert [u.code for u in dki().units if u.kind == "central_desk"] == ["central"]


def test_partners_and_their_control_desks() -> None:
    partners = {p.code: p for p in dki().partners}
    assert sorted(partners) == ["lrt", "mrt", "transjakarta"]
    assert partners["transjakarta"].phones == ["1500-102"]
    assert partners["transjakarta"].operating_hours.always_open
    assert partners["mrt"].operating_hours.weekly["mon"] == [("05:00", "24:00")]
    assert partners["lrt"].operating_hours.weekly["sun"] == [("05:30", "23:00")]
    assert not partners["mrt"].operating_hours.closed_on_holidays
    units = {u.code: u for u in dki().units}
    for code, partner in partners.items():
        assert partner.control_desk_code == code
        desk = units[code]
        assert (desk.kind, desk.partner_code, desk.station_uid) == ("transit_desk", code, None)
        assert desk.hours is not None and desk.hours.always_open
        assert partner.email and partner.phones


def test_stations() -> None:
    stations = dki().stations
    partners = {p.code for p in dki().partners}
    areas = {p.code for p, _ in dki().areas}
    assert len({s.uid for s in stations}) == len(stations)
    kinds = Counter((s.partner_code, s.kind) for s in stations)
    assert kinds[("mrt", "mrt_station")] == 13
    assert kinds[("lrt", "lrt_station")] == 6
    assert kinds[("transjakarta", "brt_halte")] + kinds[("transjakarta", "brt_terminal")] == 283
    for s in stations:
        assert s.partner_code in partners
        assert s.uid.startswith(f"{s.partner_code}:")
        assert s.area_code is None or s.area_code in areas
        # area_code is exactly what the shipped polygons say about the station point.
        match = dki_areas().locate(s.lat, s.lon)
        assert s.area_code == (match.area_code if match.method == "inside" else None), s.uid
        assert s.access_points or s.partner_code == "transjakarta"
    mrt_codes = sorted(s.uid for s in stations if s.partner_code == "mrt")
    assert len(mrt_codes) == 13
    names = {s.name for s in stations}
    assert "Stasiun LRT Boulevard Selatan" in names
    assert not any("Bouelevard" in n for n in names)
    outside = [s for s in stations if s.area_code is None]
    assert len(outside) == 14 and all(s.partner_code == "transjakarta" for s in outside)


def test_every_unit_reference_resolves() -> None:
    bundle = dki()
    areas = {p.code for p, _ in bundle.areas}
    partners = {p.code for p in bundle.partners}
    stations = {s.uid for s in bundle.stations}
    assert len({u.code for u in bundle.units}) == len(bundle.units) == 44 + 1 + 3
    for unit in bundle.units:
        assert unit.area_code is None or unit.area_code in areas
        assert unit.partner_code is None or unit.partner_code in partners
        assert unit.station_uid is None or unit.station_uid in stations


def test_holidays_2026() -> None:
    (holidays,) = dki().holidays
    assert holidays.year == 2026 and "SKB" in holidays.source
    days = [h.date for h in holidays.holidays]
    assert days == sorted(days) and len(set(days)) == len(days) == 25
    names = {h.date.isoformat(): h.name for h in holidays.holidays}
    assert "Kemerdekaan" in names["2026-08-17"]
    assert "Idul Fitri" in names["2026-03-21"]
    assert sum(1 for n in names.values() if n.startswith("Cuti bersama")) == 8


def test_notice_credits_every_source() -> None:
    notice = (REPO / "NOTICE").read_text()
    for needle in ("CC BY-IGO", "OpenStreetMap", "ODbL", "PT Transportasi Jakarta", "dianmustofa"):
        assert needle in notice
    assert "DERIVED" in notice


def test_station_kecamatan_agree_with_the_source_table_away_from_boundaries() -> None:
    data = shared_data()
    with (data / "derived-dispatch-tables" / "transit_stations_dki.csv").open() as f:
        table = {row["station_uid"]: row for row in csv.DictReader(f)}
    source = json.loads(
        (data / "bps-hdx-admin-boundaries" / "dki_jakarta_kecamatan.geojson").read_text()
    )
    boundaries = [shape(f["geometry"]).boundary for f in source["features"]]
    modes = {"transjakarta": "transjakarta_brt", "mrt": "mrt_jakarta", "lrt": "lrt_jakarta"}
    moved = []
    for s in dki().stations:
        partner, stop_id = s.uid.split(":", 1)
        expected = table[f"{modes[partner]}:{stop_id}"]["kode_bps"] or None
        if s.area_code != expected:
            point = Point(s.lon, s.lat)
            metres = min(b.distance(point) for b in boundaries) * 111_000
            assert metres < BOUNDARY_ROAD_M, (s.uid, s.name, expected, s.area_code, metres)
            moved.append(s.uid)
    # BRT halte sit in the median of roads that often are the boundary itself.
    assert len(moved) < 25


def test_build_is_deterministic_and_matches_the_shipped_files(tmp_path: Path) -> None:
    data = shared_data()
    script = build_script()
    first = script.build(data, tmp_path / "a", tmp_path / "NOTICE.a")
    second = script.build(data, tmp_path / "b", tmp_path / "NOTICE.b")
    assert first == second
    for name, text in first.items():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() == (DKI_DIR / name).read_bytes(), (
            f"{name} differs from a fresh build: re-run scripts/build_reference_data.py (or, for "
            f"areas.geojson, check the GEOS version: this is {shapely.geos_version_string})"
        )
        assert text.endswith("\n") and not text.endswith("\n\n")
    assert (tmp_path / "NOTICE.a").read_bytes() == (REPO / "NOTICE").read_bytes()
    shipped = {str(p.relative_to(DKI_DIR)) for p in DKI_DIR.rglob("*") if p.is_file()}
    assert shipped == set(first), "the bundle folder holds only generated files"


# ---------------------------------------------------------------------------------------------
# The synthetic second region, and what read_bundle refuses


def test_test_island_fixture_is_a_complete_bundle() -> None:
    bundle = island_bundle()
    assert bundle.region.code == "test-island"
    assert bundle.region.timezone == "Asia/Makassar"
    assert bundle.region.central_desk_code == "central-test-island"
    assert [p.code for p, _ in bundle.areas] == ["9901010", "9901020"]
    assert bundle.partners == [] and bundle.stations == []
    assert {u.kind for u in bundle.units} == {"post", "central_desk"}
    assert bundle.holidays[0].year == 2026


Edit = Callable[[Path], object]


def edit_json(name: str, change: Callable[[Any], Any]) -> Edit:
    def apply(folder: Path) -> None:
        path = folder / name
        path.write_text(json.dumps(change(json.loads(path.read_text()))))

    return apply


def set_unit(code: str, **values: Any) -> Edit:
    return edit_json(
        "units.json", lambda units: [{**u, **values} if u["code"] == code else u for u in units]
    )


def add_station(**values: Any) -> Edit:
    station = {
        "uid": "x:1",
        "partner_code": "x",
        "name": "X",
        "kind": "brt_halte",
        "lat": -5.01,
        "lon": 119.01,
    }
    return edit_json("stations.json", lambda stations: [*stations, {**station, **values}])


def swap_lat_lon(collection: Any) -> Any:
    """GeoJSON is [lon, lat]; Jakarta's longitudes (~107) are impossible latitudes."""
    for feature in collection["features"]:
        rings = feature["geometry"]["coordinates"]
        feature["geometry"]["coordinates"] = [[[y, x] for x, y in ring] for ring in rings]
    return collection


PARTNER = {
    "code": "ferry",
    "name": "Ferry",
    "modes": ["ferry"],
    "operating_hours": {"always_open": True},
    "control_desk_code": "ferry",
}

BROKEN: list[tuple[str, Edit, str]] = [
    ("unknown area", set_unit("9901010", area_code="9999999"), "unknown area"),
    ("unknown partner", set_unit("9901010", partner_code="nobody"), "unknown partner"),
    ("unknown station", set_unit("9901010", station_uid="x:1"), "unknown station"),
    ("post without area", set_unit("9901010", area_code=None), "needs an area_code"),
    ("lat without lon", set_unit("9901010", lon=None), "lat and lon together"),
    ("unit coordinate", set_unit("9901010", lat=95.0), "out of range"),
    ("duplicate unit", edit_json("units.json", lambda u: [*u, u[0]]), "duplicate codes"),
    (
        "no central desk",
        edit_json("region.json", lambda r: {**r, "central_desk_code": "9901010"}),
        "central_desk_code",
    ),
    (
        "bad time zone",
        edit_json("region.json", lambda r: {**r, "timezone": "Mars/Olympus"}),
        "time zone",
    ),
    ("schema", edit_json("region.json", lambda r: {**r, "colour": "blue"}), "region.json"),
    ("station partner", add_station(), "unknown partner"),
    (
        "partner desk",
        edit_json("partners.json", lambda p: [*p, PARTNER]),
        "control_desk_code",
    ),
    (
        "duplicate area",
        edit_json("areas.geojson", lambda fc: {**fc, "features": fc["features"] * 2}),
        "duplicate area codes",
    ),
    (
        "not polygons",
        edit_json(
            "areas.geojson",
            lambda fc: {
                **fc,
                "features": [
                    {**fc["features"][0], "geometry": {"type": "Point", "coordinates": [119, -5]}}
                ],
            },
        ),
        "Polygon or MultiPolygon",
    ),
    ("lat/lon swapped", edit_json("areas.geojson", swap_lat_lon), "out of range"),
    ("not json", lambda folder: (folder / "units.json").write_text("[{"), "not valid UTF-8 JSON"),
    ("missing units", lambda folder: (folder / "units.json").unlink(), "missing"),
    (
        "holiday year",
        edit_json("holidays/2026.json", lambda h: {**h, "year": 2027}),
        "says year 2027",
    ),
    (
        "holiday date",
        edit_json(
            "holidays/2026.json",
            lambda h: {**h, "holidays": [{"date": "2025-12-31", "name": "x"}]},
        ),
        "dates outside 2026",
    ),
    (
        "holiday file name",
        lambda folder: (folder / "holidays" / "2026.json").rename(
            folder / "holidays" / "next.json"
        ),
        "YYYY.json",
    ),
]


@pytest.mark.parametrize(("label", "edit", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_read_bundle_refuses_inconsistent_bundles(
    tmp_path: Path, label: str, edit: Edit, message: str
) -> None:
    folder = tmp_path / "test-island"
    shutil.copytree(TEST_ISLAND_DIR, folder)
    read_bundle(folder)  # the copy itself is fine
    edit(folder)
    with pytest.raises(ValueError, match=re.escape(message)):
        read_bundle(folder)


def test_optional_files_may_be_missing(tmp_path: Path) -> None:
    folder = tmp_path / "test-island"
    shutil.copytree(TEST_ISLAND_DIR, folder)
    (folder / "partners.json").unlink()
    (folder / "stations.json").unlink()
    shutil.rmtree(folder / "holidays")
    bundle = read_bundle(folder)
    assert bundle.partners == [] and bundle.stations == [] and bundle.holidays == []
    with pytest.raises(ValueError, match="not a region bundle folder"):
        read_bundle(tmp_path / "nowhere")
