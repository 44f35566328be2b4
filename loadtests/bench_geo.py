"""Microbenchmark of the geo lookups: AreaIndex.locate and StationIndex.nearby.

    .venv/bin/python loadtests/bench_geo.py [--points 100000] [--seed 1]

Builds both indexes from the shipped DKI Jakarta bundle, then times each lookup over the same
random points, uniform in the bounding box of Jakarta's mainland kecamatan (so some fall outside,
in the bay or in Bodetabek, and exercise the fallbacks). Prints per-lookup latency in
microseconds: mean and percentiles of individually timed calls, plus a tight loop's throughput.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import shapely
from shapely.geometry import shape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.geo.areas import AreaIndex
from app.geo.stations import StationIndex
from app.reference.bundle import (
    read_bundle,
    shipped_regions_dir,
    to_geo_areas,
    to_geo_stations,
)


def percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def bench(name: str, points: list[tuple[float, float, float]], call: Callable[..., object]) -> None:
    for lat, lon, acc in points[:1000]:  # warm-up
        call(lat, lon, acc)
    timings = []
    clock = time.perf_counter_ns
    for lat, lon, acc in points:
        start = clock()
        call(lat, lon, acc)
        timings.append((clock() - start) / 1000)
    timings.sort()
    start = clock()
    for lat, lon, acc in points:
        call(lat, lon, acc)
    loop_us = (clock() - start) / 1000 / len(points)
    print(
        f"{name:<22} mean {statistics.fmean(timings):6.1f} µs  p50 {percentile(timings, 50):6.1f}"
        f"  p90 {percentile(timings, 90):6.1f}  p99 {percentile(timings, 99):6.1f}"
        f"  max {timings[-1]:8.1f}  | loop {loop_us:5.1f} µs/call ({1e6 / loop_us:,.0f}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    bundle = read_bundle(shipped_regions_dir() / "dki-jakarta")
    start = time.perf_counter()
    areas = AreaIndex.build(
        to_geo_areas(bundle), {bundle.region.code: bundle.region.outside_tolerance_m}
    )
    built_areas = time.perf_counter() - start
    start = time.perf_counter()
    stations = StationIndex.build(to_geo_stations(bundle))
    built_stations = time.perf_counter() - start
    print(
        f"indexes: {len(areas)} areas built in {built_areas * 1000:.1f} ms, "
        f"{len(stations)} stations in {built_stations * 1000:.1f} ms"
    )

    # The mainland's bounding box: Kepulauan Seribu (BPS 3101) is islands 50 km out at sea.
    mainland = [shape(g) for props, g in bundle.areas if props.city_code != "3101"]
    lon0, lat0, lon1, lat1 = (round(v, 3) for v in shapely.union_all(mainland).bounds)
    rng = random.Random(args.seed)
    points = [
        (rng.uniform(lat0, lat1), rng.uniform(lon0, lon1), rng.choice((10.0, 30.0, 100.0, 400.0)))
        for _ in range(args.points)
    ]
    methods = Counter(areas.locate(lat, lon).method for lat, lon, _ in points)
    hits = sum(1 for lat, lon, acc in points if stations.nearby(lat, lon, acc))
    print(
        f"{len(points):,} random points in lat {lat0}..{lat1}, lon {lon0}..{lon1}: "
        + ", ".join(f"{m} {n:,}" for m, n in sorted(methods.items()))
        + f"; {hits:,} with a station within 500 m"
    )
    bench("AreaIndex.locate", points, lambda lat, lon, _acc: areas.locate(lat, lon))
    bench("StationIndex.nearby", points, stations.nearby)
    inside = [p for p in points if areas.locate(p[0], p[1]).method == "inside"]
    bench("locate (inside only)", inside, lambda lat, lon, _acc: areas.locate(lat, lon))
    outside = [p for p in points if areas.locate(p[0], p[1]).method != "inside"]
    bench("locate (not inside)", outside, lambda lat, lon, _acc: areas.locate(lat, lon))


if __name__ == "__main__":
    main()
