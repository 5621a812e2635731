#!/usr/bin/env python3
"""punchguard's locate throughput beside shapely 2 (GEOS STRtree), single
thread, on the same polygons (the Kotka footprints tiled as in
benches/common/tiles.rs) and the same uniform grid of points, in one run.

    pip install shapely          # shapely >= 2
    python3 benches/shapely_compare.py [copies] [grid]

copies defaults to 92 (199,732 fences), grid to 1000 (a million points).
"""
import json
import os
import re
import subprocess
import sys
import time

import shapely
from shapely.geometry import shape
from shapely.affinity import translate

STEP_LON, STEP_LAT, COLUMNS = 0.05, 0.025, 10
LON0, LAT0 = 26.930074, 60.5200298


def tiled(copies):
    with open("data/kotka-buildings.geojson") as f:
        features = json.load(f)["features"]
    base = [shape(feat["geometry"]) for feat in features]
    out = []
    for copy in range(copies):
        dx, dy = (copy % COLUMNS) * STEP_LON, (copy // COLUMNS) * STEP_LAT
        out.extend(translate(g, dx, dy) for g in base)
    return out


def grid(copies, n):
    rows = -(-copies // COLUMNS)
    width, height = min(COLUMNS, copies) * STEP_LON, rows * STEP_LAT
    xs = [LON0 + width * (i + 0.5) / n for i in range(n)]
    ys = [LAT0 + height * (j + 0.5) / n for j in range(n)]
    return shapely.points([(x, y) for y in ys for x in xs])


def main():
    copies = int(sys.argv[1]) if len(sys.argv) > 1 else 92
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    env = dict(os.environ, PUNCHGUARD_COPIES=str(copies), PUNCHGUARD_GRID=str(n))
    ours = subprocess.run(
        ["cargo", "bench", "--quiet", "--bench", "locate"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    line = next(l for l in ours.splitlines() if l.startswith("punchguard locate"))
    ours_rate = float(re.search(r"([\d.]+) points/s", line).group(1))
    ours_hits = int(re.search(r"(\d+) hits", line).group(1))

    polygons = tiled(copies)
    points = grid(copies, n)
    tree = shapely.STRtree(polygons)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        # Which polygon covers each point: the same question as punchguard's.
        pairs = tree.query(points, predicate="covered_by")
        best = min(best, time.perf_counter() - started)
    hits = len(set(pairs[0].tolist()))
    theirs_rate = len(points) / best
    print(line)
    print(
        f"shapely {shapely.__version__} STRtree: {len(polygons)} polygons, {len(points)} points, "
        f"{hits} hits, {theirs_rate:.0f} points/s"
    )
    print(f"punchguard / shapely: {ours_rate / theirs_rate:.2f}x"
          + ("" if hits == ours_hits else f"  (hit counts differ: {ours_hits} vs {hits})"))


if __name__ == "__main__":
    main()
