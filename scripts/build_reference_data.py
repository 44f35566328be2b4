"""Build Sigap's own reference bundle for DKI Jakarta from the public source data.

    .venv/bin/python scripts/build_reference_data.py [DATA_DIR] [--out DIR] [--notice FILE]

In: the fetched public data (default ``../shared/data`` beside the repository; see each folder's
SOURCE.md). Out: ``app/reference/regions/dki-jakarta/`` (region.json, areas.geojson,
partners.json, stations.json, units.json, holidays/2026.json, README.md) and ``NOTICE`` at the
repository root. Only derived facts go into the bundle — names, codes, simplified polygons,
rounded coordinates, contacts — never a copied source file.

The output is deterministic: the same input gives byte-identical files (sorted keys and records,
fixed float rounding, one trailing newline), so re-running it on unchanged data leaves no diff.
Every derived fact is checked here and the build stops on any surprise, so a changed upstream
file cannot slip through silently.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import shapely
from shapely.geometry import mapping, shape

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a plain script from anywhere

from app.geo.areas import Area, AreaIndex  # noqa: E402
from app.reference.schema import (  # noqa: E402
    WEEKDAYS,
    AccessPoint,
    AreaProperties,
    Holiday,
    HolidaysFile,
    OpeningHours,
    PartnerFile,
    RegionFile,
    StationFile,
    UnitFile,
    Weekday,
)

REGION_CODE = "dki-jakarta"
DATA_VERSION = "2026.11.1"
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "app" / "reference" / "regions" / REGION_CODE
DEFAULT_NOTICE = REPO / "NOTICE"

SIMPLIFY_TOLERANCE_DEG = 0.0001
"""Douglas-Peucker tolerance on the shared boundary arcs (~11 m). Borders move by at most this
(plus 6-decimal rounding); the 2020 BPS lines themselves are only good to tens of metres."""
SIMPLIFY_MAX_SHIFT_M = 15.0
"""The build fails if any kecamatan boundary moved farther than this; tests check it too."""
OUTSIDE_TOLERANCE_M = 250.0
"""A point this close to DKI but outside every polygon is placed in the nearest kecamatan.
Not 500 m: LRT Jabodebek Harjamukti, ~350 m into Depok, must stay outside DKI (PRODUCT.md s7)."""
CENTRAL_DESK_CODE = "central"

# (kelurahan district codes that are not kecamatan: the Danau Sunter lakes' pseudo-districts)
_PSEUDO_DISTRICTS = ("888", "555")

ALWAYS_OPEN = OpeningHours(always_open=True, closed_on_holidays=False)


def hours(
    days: Iterable[Weekday], start: str, end: str, *, closed_on_holidays: bool
) -> OpeningHours:
    return OpeningHours(
        weekly={day: [(start, end)] for day in days}, closed_on_holidays=closed_on_holidays
    )


# Typos in source names, fixed on purpose (and listed in the bundle README).
NAME_FIXES = {"Bouelevard Selatan": "Boulevard Selatan"}


@dataclass(frozen=True)
class PartnerSpec:
    code: str
    name: str
    folder: str
    agency_file: str
    phone_display: str
    modes: tuple[str, ...]
    hours: OpeningHours
    desk_name: str


PARTNERS = (
    PartnerSpec(
        code="lrt",
        name="LRT Jakarta",
        folder="lrt-jakarta-gtfs",
        agency_file="lrt-jakarta-gtfs/agency.txt",
        phone_display="021-50899909",
        modes=("lrt",),
        hours=hours(WEEKDAYS, "05:30", "23:00", closed_on_holidays=False),
        desk_name="LRT Jakarta control desk",
    ),
    PartnerSpec(
        code="mrt",
        name="MRT Jakarta",
        folder="mrt-jakarta-gtfs",
        agency_file="mrt-jakarta-gtfs/agency.txt",
        phone_display="1500332",
        modes=("mrt",),
        hours=hours(WEEKDAYS, "05:00", "24:00", closed_on_holidays=False),
        desk_name="MRT Jakarta control desk",
    ),
    PartnerSpec(
        code="transjakarta",
        name="Transjakarta",
        folder="transjakarta-gtfs-2026-04",
        agency_file="transjakarta-gtfs-2025-08-aux/agency.txt",
        phone_display="1500-102",
        modes=("brt",),
        # Some BRT corridors run around the clock, so the network as a whole never closes.
        hours=ALWAYS_OPEN,
        desk_name="Transjakarta control desk",
    ),
)

HOLIDAYS_2026_SOURCE = (
    "Indonesia's 2026 national holidays (17) and cuti bersama (8) per the SKB of the Minister of "
    "Religious Affairs, the Minister of Manpower and the Minister of State Apparatus "
    "(No. 1497/2025, 2/2025, 5/2025, announced 19 September 2025), transcribed from public "
    "announcements; verify against the signed SKB. Holidays are data: operators load each year's "
    "list (and any revision) before the year starts."
)
HOLIDAYS_2026 = (
    ("2026-01-01", "Tahun Baru 2026 Masehi"),
    ("2026-01-16", "Isra Mikraj Nabi Muhammad SAW"),
    ("2026-02-16", "Cuti bersama Tahun Baru Imlek"),
    ("2026-02-17", "Tahun Baru Imlek 2577 Kongzili"),
    ("2026-03-18", "Cuti bersama Hari Suci Nyepi"),
    ("2026-03-19", "Hari Suci Nyepi (Tahun Baru Saka 1948)"),
    ("2026-03-20", "Cuti bersama Idul Fitri 1447 Hijriah"),
    ("2026-03-21", "Idul Fitri 1447 Hijriah"),
    ("2026-03-22", "Idul Fitri 1447 Hijriah"),
    ("2026-03-23", "Cuti bersama Idul Fitri 1447 Hijriah"),
    ("2026-03-24", "Cuti bersama Idul Fitri 1447 Hijriah"),
    ("2026-04-03", "Wafat Yesus Kristus"),
    ("2026-04-05", "Kebangkitan Yesus Kristus (Paskah)"),
    ("2026-05-01", "Hari Buruh Internasional"),
    ("2026-05-14", "Kenaikan Yesus Kristus"),
    ("2026-05-15", "Cuti bersama Kenaikan Yesus Kristus"),
    ("2026-05-27", "Idul Adha 1447 Hijriah"),
    ("2026-05-28", "Cuti bersama Idul Adha 1447 Hijriah"),
    ("2026-05-31", "Hari Raya Waisak 2570 BE"),
    ("2026-06-01", "Hari Lahir Pancasila"),
    ("2026-06-16", "1 Muharam Tahun Baru Islam 1448 Hijriah"),
    ("2026-08-17", "Proklamasi Kemerdekaan Republik Indonesia"),
    ("2026-08-25", "Maulid Nabi Muhammad SAW"),
    ("2026-12-24", "Cuti bersama Kelahiran Yesus Kristus"),
    ("2026-12-25", "Kelahiran Yesus Kristus (Natal)"),
)

ATTRIBUTION = [
    "Kecamatan boundaries and BPS codes: Badan Pusat Statistik (BPS) 2020 via OCHA HDX COD-AB "
    "(cod-ab-idn), CC BY-IGO; dissolved from kelurahan and simplified by Sigap.",
    "Transjakarta halte, terminals, platforms and entrances: PT Transportasi Jakarta public GTFS "
    "feed (April 2026 copy).",
    "MRT Jakarta and LRT Jakarta stations, platforms and entrances: coordinates (c) OpenStreetMap "
    "contributors, ODbL 1.0, via the community GTFS feeds by MuhammadNafishZaldinanda.",
    "Kecamatan office and Balai Kota points: DKI Jakarta 1:1000 base map (Peta Dasar), as "
    "republished in github.com/dianmustofa/buffer.",
]


# ---------------------------------------------------------------------------------------------
# Small readers


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def r6(value: float | str) -> float:
    """Coordinates are stored to 6 decimals (~0.1 m): finer digits are noise, not precision."""
    return round(float(value), 6)


def fix_name(name: str) -> str:
    for wrong, right in NAME_FIXES.items():
        name = name.replace(wrong, right)
    return " ".join(name.split())


# ---------------------------------------------------------------------------------------------
# Areas


def kecamatan_table(data: Path) -> dict[str, AreaProperties]:
    """BPS code -> names and city, from the kecamatan CSV."""
    rows = read_csv(data / "bps-hdx-admin-boundaries" / "dki_jakarta_kecamatan.csv")
    return {
        row["kode_bps"]: AreaProperties(
            code=row["kode_bps"],
            name=row["kecamatan"],
            alt_names=[row["kecamatan_alt"]] if row["kecamatan_alt"] else [],
            city_code=row["kode_bps_kota"],
            city_name=row["kota"],
        )
        for row in rows
    }


def dissolved_kecamatan(data: Path) -> dict[str, shapely.Geometry]:
    """Kecamatan polygons dissolved from the verbatim HDX kelurahan file.

    Why not the derived dki_jakarta_kecamatan.geojson: it was simplified polygon by polygon, so
    neighbours no longer share their borders exactly (tiny overlaps and gaps). The kelurahan file
    is a clean coverage; dissolving it keeps every shared border shared.
    """
    source = json.loads(
        (data / "bps-hdx-admin-boundaries" / "dki_jakarta_kelurahan.geojson").read_text("utf-8")
    )
    parts: dict[str, list[shapely.Geometry]] = defaultdict(list)
    for feature in source["features"]:
        district = feature["properties"]["district_code"]  # "id3171010"
        if district.endswith(_PSEUDO_DISTRICTS):
            continue
        parts[district.removeprefix("id")].append(shape(feature["geometry"]))
    return {code: shapely.union_all(parts[code]) for code in sorted(parts)}


def kelurahan_features(data: Path) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """The kelurahan (sub-districts), simplified as one coverage like the kecamatan: properties
    ``code`` (BPS), ``name`` and ``area_code`` (its kecamatan). For words, never for routing."""
    source = json.loads(
        (data / "bps-hdx-admin-boundaries" / "dki_jakarta_kelurahan.geojson").read_text("utf-8")
    )
    polygons: dict[str, shapely.Geometry] = {}
    props: dict[str, dict[str, str]] = {}
    for feature in source["features"]:
        p = feature["properties"]
        if p["district_code"].endswith(_PSEUDO_DISTRICTS):
            continue
        code = p["village_code"].removeprefix("id")
        if code in props:
            raise SystemExit(f"kelurahan {code} appears twice")
        polygons[code] = shape(feature["geometry"])
        props[code] = {
            "code": code,
            "name": fix_name(p["village"]),
            "area_code": p["district_code"].removeprefix("id"),
        }
    simplified = simplify_coverage(polygons, SIMPLIFY_TOLERANCE_DEG)
    return [(props[code], geojson_geometry(simplified[code])) for code in sorted(props)]


def simplify_coverage(
    polygons: dict[str, shapely.Geometry], tolerance_deg: float
) -> dict[str, shapely.Geometry]:
    """Simplify a polygon coverage without opening gaps or overlaps between neighbours.

    The borders are split into arcs between junctions; each arc is simplified once (topology
    preserved, so arcs never cross) and rounded to 6 decimals; the faces are rebuilt from the
    arcs and handed back to the polygon each overlaps most. Faces covered by no polygon (the
    Danau Sunter lakes) stay holes.
    """
    codes = list(polygons)
    originals = [polygons[c] for c in codes]
    arcs = shapely.line_merge(shapely.union_all([g.boundary for g in originals]))
    arcs = shapely.simplify(arcs, tolerance_deg, preserve_topology=True)
    arcs = shapely.transform(arcs, lambda xy: np.round(xy, 6))
    faces = shapely.get_parts(shapely.polygonize(list(shapely.get_parts(arcs))))
    tree = shapely.STRtree(originals)
    owned: dict[int, list[shapely.Geometry]] = defaultdict(list)
    for face in faces:
        overlaps = [(face.intersection(originals[i]).area, -int(i)) for i in tree.query(face)]
        best = max(overlaps, default=(0.0, 0))
        if best[0] >= 0.5 * face.area:
            owned[-best[1]].append(face)
    result: dict[str, shapely.Geometry] = {}
    for i, code in enumerate(codes):
        merged = shapely.union_all(owned[i])
        # Canonical ring order and RFC 7946 winding (exterior counter-clockwise) for stable output.
        merged = shapely.orient_polygons(shapely.normalize(merged), exterior_cw=False)
        before = len(shapely.get_parts(originals[i]))
        after = len(shapely.get_parts(merged))
        if not merged.is_valid or before != after:
            raise SystemExit(
                f"simplifying {code} broke it: valid={merged.is_valid}, parts {before}->{after}"
            )
        result[code] = merged
    if not shapely.coverage_is_valid(list(result.values())):
        raise SystemExit("simplified polygons overlap each other")
    return result


def boundary_shift_m(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Hausdorff distance in metres between two polygons' boundaries (local flat projection)."""
    lat0 = (a.bounds[1] + a.bounds[3]) / 2
    scale = np.array([111_320.0 * np.cos(np.radians(lat0)), 110_574.0])
    project: Callable[[Any], Any] = lambda xy: xy * scale  # noqa: E731
    return float(
        shapely.hausdorff_distance(
            shapely.transform(a.boundary, project),
            shapely.transform(b.boundary, project),
            densify=0.25,
        )
    )


def geojson_geometry(geom: shapely.Geometry) -> dict[str, Any]:
    """GeoJSON dict with lists (not tuples) and 6-decimal coordinates."""

    def lists(value: Any) -> Any:
        if isinstance(value, (tuple, list)):
            if value and isinstance(value[0], float):
                return [r6(v) for v in value]
            return [lists(v) for v in value]
        return value

    raw = mapping(geom)
    return {"type": raw["type"], "coordinates": lists(raw["coordinates"])}


# ---------------------------------------------------------------------------------------------
# Stations


StationKind = Literal["brt_halte", "brt_terminal", "mrt_station", "lrt_station"]
_ACCESS_KINDS: dict[str, Literal["platform", "entrance"]] = {"0": "platform", "2": "entrance"}


def gtfs_stations(
    rows: list[dict[str, str]],
    partner: str,
    kind_of: Callable[[dict[str, str]], StationKind],
    locate: Callable[[float, float], str | None],
) -> list[StationFile]:
    """GTFS parent stations (location_type 1) with their platforms (0) and entrances (2)."""
    children: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        if row.get("parent_station"):
            children[row["parent_station"]].append(row)
    stations = []
    for row in rows:
        if row["location_type"] != "1":
            continue
        name = fix_name(row["stop_name"])
        points = []
        for child in sorted(children[row["stop_id"]], key=lambda c: c["stop_id"]):
            kind = _ACCESS_KINDS.get(child["location_type"])
            if kind is None:
                continue  # generic nodes / boarding areas: not places a person stands at
            child_name = fix_name(child["stop_name"])
            points.append(
                AccessPoint(
                    id=child["stop_id"],
                    kind=kind,
                    lat=r6(child["stop_lat"]),
                    lon=r6(child["stop_lon"]),
                    # A platform usually repeats the station's name; keep only names that add
                    # something ("… Akses B").
                    name=child_name if child_name != name else None,
                )
            )
        lat, lon = r6(row["stop_lat"]), r6(row["stop_lon"])
        stations.append(
            StationFile(
                uid=f"{partner}:{row['stop_id']}",
                partner_code=partner,
                name=name,
                kind=kind_of(row),
                lat=lat,
                lon=lon,
                area_code=locate(lat, lon),
                access_points=points,
            )
        )
    return stations


def transjakarta_kind(row: dict[str, str]) -> StationKind:
    """brt_terminal for terminals and hubs, brt_halte otherwise.

    The feed has no such attribute. Its five B-prefixed stations are bus terminals or hubs
    (Pulo Gebang, Blok M Jalur 2, Tanah Abang 2, Dukuh Atas hub, Keselamatan) and a few H-halte are
    named as terminals; everything else is a halte.
    """
    name = row["stop_name"]
    is_terminal = name.startswith(("Term.", "Terminal")) or "Transport Hub" in name
    return "brt_terminal" if row["stop_id"].startswith("B") or is_terminal else "brt_halte"


# ---------------------------------------------------------------------------------------------
# Units


def post_units(data: Path, areas: dict[str, AreaProperties], index: AreaIndex) -> list[UnitFile]:
    """One placeholder complaint post per kecamatan, at its kecamatan office."""
    rows = read_csv(data / "dki-petadasar-pemerintahan-stasiun" / "kantor_kecamatan.csv")
    units = []
    for row in rows:
        area = areas[row["kode_bps"]]
        lat, lon = r6(row["lat"]), r6(row["lon"])
        if row["status"] == "kantor_camat_named":
            source = (
                f"Placeholder at the {row['office_name'].title()} (DKI 1:1000 base map, OBJECTID "
                f"{row['source_objectid']}). The real pos pengaduan (usually an RPTRA) is not "
                "published: replace with UPT PPPA's list."
            )
        elif row["status"] == "inferred_kecamatan_office":
            source = (
                "Placeholder at a kecamatan-level government building, probably the kecamatan "
                f"office (DKI 1:1000 base map, OBJECTID {row['source_objectid']}; unconfirmed). "
                "The real pos pengaduan is not published: replace with UPT PPPA's list."
            )
        elif row["status"] == "missing_fallback_polygon_inside_point":
            source = (
                "Placeholder at a point inside the kecamatan (no office in the base map); not an "
                "office location. The real pos pengaduan is not published: replace with UPT "
                "PPPA's list."
            )
        else:
            raise SystemExit(f"kantor_kecamatan.csv: unknown status {row['status']!r}")
        placed = index.locate(lat, lon)
        if placed.method != "inside" or placed.area_code != area.code:
            raise SystemExit(f"post {area.code} at ({lat}, {lon}) is not inside its kecamatan")
        units.append(
            UnitFile(
                code=area.code,
                kind="post",
                name=f"Pos Pengaduan Kecamatan {area.name}",
                area_code=area.code,
                address=post_address(row["address"], area),
                lat=lat,
                lon=lon,
                hours=None,
                verified=False,
                source=source,
            )
        )
    if sorted(u.code for u in units) != sorted(areas):
        raise SystemExit("kantor_kecamatan.csv does not have exactly one row per kecamatan")
    return units


def post_address(street: str, area: AreaProperties) -> str | None:
    """The office's street address, completed with kecamatan and city unless it names them."""
    if not street:
        return None
    parts = [" ".join(street.split())]
    parts += [n for n in (area.name, area.city_name) if n.lower() not in street.lower()]
    return ", ".join(parts)


def central_desk(data: Path) -> UnitFile:
    """The 24/7 central UPT PPPA desk, placed at Balai Kota (its own office is not in the data)."""
    offices = json.loads(
        (data / "dki-petadasar-pemerintahan-stasiun" / "kantor_pemerintahan.geojson").read_text(
            "utf-8"
        )
    )
    balai = [
        f for f in offices["features"] if f["properties"]["NAMOBJ"] == "BALAI KOTA DKI JAKARTA"
    ]
    if len(balai) != 1:
        raise SystemExit("kantor_pemerintahan.geojson: expected exactly one Balai Kota point")
    lon, lat = balai[0]["geometry"]["coordinates"]
    props = balai[0]["properties"]
    return UnitFile(
        code=CENTRAL_DESK_CODE,
        kind="central_desk",
        name="UPT PPPA DKI Jakarta (pusat)",
        address=" ".join(props["REMARK"].split()),
        lat=r6(lat),
        lon=r6(lon),
        phones=["0813-1761-7622"],
        hours=ALWAYS_OPEN,
        verified=False,
        source=(
            "Phone: UPT PPPA's public 24-hour WhatsApp hotline as given in 2024-2025 news. "
            f"Location: placeholder at Balai Kota DKI Jakarta (DKI 1:1000 base map, OBJECTID "
            f"{props['OBJECTID']}); the UPT PPPA office address is not in the data."
        ),
    )


def partner_desk(spec: PartnerSpec) -> UnitFile:
    return UnitFile(
        code=spec.code,
        kind="transit_desk",
        name=spec.desk_name,
        partner_code=spec.code,
        phones=[spec.phone_display],
        # Control rooms are staffed around the clock, even while the line is closed.
        hours=ALWAYS_OPEN,
        verified=False,
        source=(
            f"Placeholder: {spec.name}'s public call center; the control room's own line is not "
            "published and must come from the partnership agreement."
        ),
    )


# ---------------------------------------------------------------------------------------------
# Writing


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def dump_models(models: Iterable[Any]) -> str:
    return dump_json([m.model_dump(mode="json") for m in models])


def dump_areas(features: list[tuple[Any, dict[str, Any]]]) -> str:
    """A FeatureCollection with one compact feature per line: small, and diffs stay readable."""
    lines = [
        json.dumps(
            {
                "type": "Feature",
                "properties": props if isinstance(props, dict) else props.model_dump(mode="json"),
                "geometry": geometry,
            },
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        )
        for props, geometry in features
    ]
    body = ",\n".join(f"    {line}" for line in lines)
    return '{\n  "type": "FeatureCollection",\n  "features": [\n' + body + "\n  ]\n}\n"


def build(data: Path, out: Path, notice: Path | None) -> dict[str, str]:
    """Build every file into `out` (and `notice`); returns {relative path: text} as written."""
    if not (data / "bps-hdx-admin-boundaries").is_dir():
        raise SystemExit(f"{data}: not the shared data folder (no bps-hdx-admin-boundaries/)")
    props = kecamatan_table(data)
    originals = dissolved_kecamatan(data)
    if sorted(originals) != sorted(props):
        raise SystemExit("kelurahan districts and the kecamatan table disagree")
    simplified = simplify_coverage(originals, SIMPLIFY_TOLERANCE_DEG)
    for code, geom in simplified.items():
        shift = boundary_shift_m(originals[code], geom)
        if shift > SIMPLIFY_MAX_SHIFT_M:
            raise SystemExit(f"{code}: boundary moved {shift:.1f} m > {SIMPLIFY_MAX_SHIFT_M} m")
    areas = [(props[code], geojson_geometry(simplified[code])) for code in sorted(props)]

    # Station and post placement uses the shipped polygons, exactly as the running service will.
    index = AreaIndex.build(
        Area(p.code, p.name, p.city_code, p.city_name, REGION_CODE, g) for p, g in areas
    )

    def inside(lat: float, lon: float) -> str | None:
        match = index.locate(lat, lon)
        return match.area_code if match.method == "inside" else None

    partners: list[PartnerFile] = []
    stations: list[StationFile] = []
    for spec in PARTNERS:
        agency = read_csv(data / spec.agency_file)[0]
        digits = "".join(ch for ch in spec.phone_display if ch.isdigit())
        if agency["agency_phone"] != digits:
            raise SystemExit(f"{spec.agency_file}: phone {agency['agency_phone']} != {digits}")
        partners.append(
            PartnerFile(
                code=spec.code,
                name=spec.name,
                modes=list(spec.modes),
                phones=[spec.phone_display],
                email=agency["agency_email"] or None,
                website=agency["agency_url"] or None,
                operating_hours=spec.hours,
                control_desk_code=spec.code,
            )
        )
        rows = read_csv(data / spec.folder / "stops.txt")
        kind_of: Callable[[dict[str, str]], StationKind] = {
            "transjakarta": transjakarta_kind,
            "mrt": lambda _row: "mrt_station",
            "lrt": lambda _row: "lrt_station",
        }[spec.code]
        stations.extend(gtfs_stations(rows, spec.code, kind_of, inside))
    stations.sort(key=lambda s: s.uid)

    units = [*post_units(data, props, index), central_desk(data)]
    units.extend(partner_desk(spec) for spec in PARTNERS)
    units.sort(key=lambda u: u.code)

    region = RegionFile(
        code=REGION_CODE,
        name="DKI Jakarta",
        province_code="31",
        timezone="Asia/Jakarta",
        data_version=DATA_VERSION,
        central_desk_code=CENTRAL_DESK_CODE,
        outside_tolerance_m=OUTSIDE_TOLERANCE_M,
        # Working days and hours: a default operators change per post (UnitFile.hours).
        default_post_hours=hours(WEEKDAYS[:5], "08:00", "16:00", closed_on_holidays=True),
        attribution=ATTRIBUTION,
    )
    holidays = HolidaysFile(
        year=2026,
        source=HOLIDAYS_2026_SOURCE,
        holidays=[Holiday(date=date.fromisoformat(d), name=n) for d, n in HOLIDAYS_2026],
    )

    files = {
        "region.json": dump_json(region.model_dump(mode="json")),
        "areas.geojson": dump_areas(areas),
        "kelurahan.geojson": dump_areas(kelurahan_features(data)),
        "partners.json": dump_models(sorted(partners, key=lambda p: p.code)),
        "stations.json": dump_models(stations),
        "units.json": dump_models(units),
        "holidays/2026.json": dump_json(holidays.model_dump(mode="json")),
        "README.md": readme(stations, units),
    }
    for name, text in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")
    if notice is not None:
        notice.write_text(NOTICE_TEXT, encoding="utf-8", newline="\n")
    return files


def readme(stations: list[StationFile], units: list[UnitFile]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for s in stations:
        counts[s.kind] += 1
    halte, terminals = counts["brt_halte"], counts["brt_terminal"]
    mrt, lrt = counts["mrt_station"], counts["lrt_station"]
    outside = sum(1 for s in stations if s.area_code is None)
    posts = sum(1 for u in units if u.kind == "post")
    central, tolerance = CENTRAL_DESK_CODE, OUTSIDE_TOLERANCE_M
    return f"""# Reference bundle: DKI Jakarta (data version {DATA_VERSION})

Generated by `scripts/build_reference_data.py` from the public data described in `NOTICE`; do not
edit by hand — change the script and re-run it (the output is deterministic). The file format is
`app/reference/schema.py`. Operators change posts, hours and desks through the import command or
the admin API, not here.

## Contents
- `areas.geojson`: the 44 kecamatan (BPS 2020 codes and polygons). Dissolved from the HDX kelurahan
  polygons (the Danau Sunter lakes stay holes), shared borders simplified once per arc with a
  {SIMPLIFY_TOLERANCE_DEG}° tolerance so neighbours still meet exactly; every border lies within
  {SIMPLIFY_MAX_SHIFT_M:g} m of the source; coordinates to 6 decimals.
- `kelurahan.geojson`: the kelurahan (sub-districts) with their kecamatan, simplified the same
  way: for saying where a victim is in words, never for routing.
- `stations.json`: {halte} Transjakarta BRT halte and {terminals} terminals/hubs (GTFS
  `location_type=1`; never the roadside `B…P` bus stops), {mrt} MRT and {lrt} LRT Jakarta stations,
  each with its platforms and entrances. `area_code` is the shipped polygon containing the
  station point; {outside} stations lie outside DKI (`area_code` null).
- `units.json`: {posts} complaint posts (one per kecamatan), the central desk `{central}`, and
  one control desk per partner.
- `partners.json`, `holidays/2026.json`, `region.json`.

## Assumptions to confirm with UPT PPPA and the partners
- **Posts are placeholders** (`verified: false`) at the kecamatan offices of the DKI 1:1000 base
  map: the real posts (mostly RPTRA) are not published. Jatinegara's office is inferred; the two
  Kepulauan Seribu posts sit at a point inside the kecamatan, not at an office.
- **Post hours**: `default_post_hours` is Monday-Friday 08:00-16:00, closed on holidays — a
  working-days default, not a published schedule. A post with `hours: null` uses it; set a post's
  own hours to change one post.
- **Central desk**: open 24/7 (UPT PPPA's public WhatsApp hotline 0813-1761-7622); its location is
  a placeholder at Balai Kota.
- **Partner hours** (when Pos SAPA help desks are open): Transjakarta is `always_open` because
  some BRT corridors run 24 hours, although most halte close at night; MRT 05:00-24:00 and LRT
  05:30-23:00 daily, including holidays (approximate published service hours).
- **Control desks** are `always_open` (control rooms are staffed around the clock even when the
  line is closed) and carry the partner's public call center number until the control room's own
  line is agreed.
- **Outside tolerance** is {tolerance:g} m: enough for fixes on the coast or a few metres across
  a border, small enough that LRT Jabodebek Harjamukti (about 350 m into Depok) stays outside DKI.
- **Station kinds**: the feed has no terminal flag; the five B-prefixed stations and halte named
  "Term."/"Terminal"/"Transport Hub" are `brt_terminal`.
- **Name fixes**: LRT "Bouelevard Selatan" → "Boulevard Selatan". Nothing else is renamed.
- **Stale halte**: the feed still lists a few halte with no scheduled trips (e.g. "Harmoni Lama",
  "Dukuh Atas 2 (Archived)"); they are kept because the feed lists them as stations.
- **Holidays**: 2026 only (national holidays and cuti bersama); load each new year's list.
"""


NOTICE_TEXT = """Sigap
Panic-button emergency response backend for the protection of women and children.

This product ships reference data (app/reference/regions/dki-jakarta/) DERIVED from the public
sources below: codes, names, simplified boundaries, rounded coordinates and contact details were
extracted and transformed by scripts/build_reference_data.py. No source file is redistributed
as is.

1. Administrative boundaries and codes of DKI Jakarta's kecamatan
   Source: Badan Pusat Statistik (BPS), via OCHA Humanitarian Data Exchange, "Indonesia -
   Subnational Administrative Boundaries" (COD-AB, dataset cod-ab-idn), valid on 2020-04-01;
   obtained through github.com/JfrAziz/indonesia-district.
   License: Creative Commons Attribution for Intergovernmental Organisations (CC BY-IGO 3.0).
   Changes: kelurahan dissolved into kecamatan, boundaries simplified (~11 m), coordinates
   rounded.

2. Transjakarta halte, terminals, platforms, entrances and operator contacts
   Source: PT Transportasi Jakarta, public GTFS feed
   (https://gtfs.transjakarta.co.id/files/file_gtfs.zip), April 2026 and August 2025 copies.
   License: not stated by the publisher; attributed to PT Transportasi Jakarta.
   Changes: stations (location_type 1) with their platforms and entrances only; roadside bus
   stops, routes and schedules are not included.

3. MRT Jakarta and LRT Jakarta stations, platforms, entrances and operator contacts
   Source: community GTFS feeds github.com/MuhammadNafishZaldinanda/gtfs-mrt-jakarta and
   gtfs-lrt-jakarta (April 2026). Station and entrance coordinates are from OpenStreetMap:
   (c) OpenStreetMap contributors, available under the Open Database License (ODbL 1.0),
   https://www.openstreetmap.org/copyright. Station names and contacts: PT MRT Jakarta,
   PT LRT Jakarta.
   Changes: coordinates rounded to 6 decimals, one station-name typo fixed. The station data in
   stations.json derived from OpenStreetMap is made available under the ODbL.

4. Kecamatan office and Balai Kota locations (placeholder post and central desk locations)
   Source: DKI Jakarta 1:1000 base map (Peta Dasar skala 1:1000 Provinsi DKI Jakarta), as
   republished in github.com/dianmustofa/buffer.
   License: not stated; attributed to Pemerintah Provinsi DKI Jakarta.

5. Public holidays 2026
   Source: Surat Keputusan Bersama of the Minister of Religious Affairs, the Minister of Manpower
   and the Minister of State Apparatus Empowerment and Bureaucratic Reform (No. 1497/2025,
   2/2025, 5/2025). Official government facts.

6. Public contact numbers of UPT PPPA DKI Jakarta (WhatsApp hotline 0813-1761-7622), as published
   in news reports 2024-2025.

Third-party software served to browsers
---------------------------------------

7. Swagger UI 5 (swagger-ui-bundle.js, swagger-ui.css), served at /docs from local files.
   Copyright SmartBear Software Inc. License: Apache-2.0 (github.com/swagger-api/swagger-ui).
   Shipped by the PyPI package fastapi-offline 1.7.7 (pinned in pyproject.toml; package code
   MIT, Copyright Neal Turett), from which Sigap uses only the static files. The start-up script
   (app/console/static/docs/docs-init.js) is Sigap's own.

The web console itself (app/console/static) uses no third-party code.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data", nargs="?", type=Path, default=DEFAULT_DATA, help="shared data folder"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle folder to write")
    parser.add_argument("--notice", type=Path, default=DEFAULT_NOTICE, help="NOTICE file to write")
    args = parser.parse_args(argv)
    files = build(args.data.resolve(), args.out, args.notice)
    for name, text in files.items():
        print(f"{args.out / name}: {len(text.encode()):,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
