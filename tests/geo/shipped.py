"""Paths to and cached indexes of the shipped region bundles, for the geo and bundle tests.

The tests use the bundles under ``app/reference/regions`` (and the synthetic test-island fixture).
Only comparisons against the fetched source data read ``../shared/data``; they skip when it is
absent, because a fresh clone of the product must pass its tests without it.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from app.geo.areas import AreaIndex
from app.geo.stations import StationIndex
from app.reference.bundle import (
    RegionBundle,
    read_bundle,
    shipped_regions_dir,
    to_geo_areas,
    to_geo_stations,
)

REPO = Path(__file__).resolve().parents[2]
DKI_DIR = shipped_regions_dir() / "dki-jakarta"
TEST_ISLAND_DIR = REPO / "tests" / "fixtures" / "regions" / "test-island"
SHARED_DATA = REPO.parent / "shared" / "data"
BUILD_SCRIPT = REPO / "scripts" / "build_reference_data.py"


def shared_data() -> Path:
    """The fetched source data folder, or skip the calling test when it is not there."""
    if not (SHARED_DATA / "bps-hdx-admin-boundaries").is_dir():
        pytest.skip(f"source data not present at {SHARED_DATA} (only needed to compare with it)")
    return SHARED_DATA


@cache
def dki() -> RegionBundle:
    return read_bundle(DKI_DIR)


@cache
def island_bundle() -> RegionBundle:
    return read_bundle(TEST_ISLAND_DIR)


@cache
def dki_areas() -> AreaIndex:
    bundle = dki()
    return AreaIndex.build(
        to_geo_areas(bundle), {bundle.region.code: bundle.region.outside_tolerance_m}
    )


@cache
def dki_stations() -> StationIndex:
    return StationIndex.build(to_geo_stations(dki()))


@cache
def build_script() -> ModuleType:
    """scripts/build_reference_data.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("build_reference_data", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script runs
    spec.loader.exec_module(module)
    return module
