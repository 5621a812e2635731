#!/usr/bin/env python3
"""punchguard's locate throughput beside shapely 2 (GEOS STRtree with
prepared geometries), single thread, on the same polygons and the same
seeded random points, several kinds of real polygon sets, in one run.

    pip install shapely          # shapely >= 2 (brings numpy)
    python3 benches/shapely_compare.py [points] [rounds]

points defaults to 1,000,000 per set, rounds to 3. The sets:

- kotka:        the 2,171 Kotka building footprints in data/ (OpenStreetMap);
- kotka-200k:   those footprints tiled 92 times (199,732 small polygons);
- us-counties:  3,231 US counties (hundreds of vertices each, spread over a
                continent), from the npm package us-atlas 3.0.1
                (counties-10m.json, US Census Bureau cartographic boundaries);
- us-states:    the 56 states and territories of the same package (thousands
                of vertices each).

us-atlas is fetched once with `npm pack us-atlas@3.0.1` into
target/us-atlas (or point US_ATLAS_DIR at an unpacked copy). Points are
uniform over each set's extent (for the US sets, the conterminous states'
box: Alaska's islands across ±180° would otherwise make it the globe),
drawn with numpy's seeded generator. Engines are interleaved round by round
and each reports its best round; shapely is timed with both `intersects`
and `covered_by` (for points they answer the same question; the faster is
the one compared). The hit counts must agree.
"""
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time

import numpy as np
import shapely
from shapely.affinity import translate
from shapely.geometry import shape

STEP_LON, STEP_LAT, COLUMNS = 0.05, 0.025, 10
SEED = 20261207
CONTERMINOUS_US = (-125.0, 24.5, -66.9, 49.4)


def kotka_geometries():
    with open("data/kotka-buildings.geojson") as f:
        return [shape(feat["geometry"]) for feat in json.load(f)["features"]]


def tiled(copies):
    base = kotka_geometries()
    out = []
    for copy in range(copies):
        dx, dy = (copy % COLUMNS) * STEP_LON, (copy // COLUMNS) * STEP_LAT
        out.extend(translate(g, dx, dy) for g in base)
    return out


def us_atlas_dir():
    if os.environ.get("US_ATLAS_DIR"):
        return os.environ["US_ATLAS_DIR"]
    target = os.path.join("target", "us-atlas")
    if not os.path.exists(os.path.join(target, "package", "counties-10m.json")):
        os.makedirs(target, exist_ok=True)
        subprocess.run(["npm", "pack", "us-atlas@3.0.1"], cwd=target, check=True,
                       capture_output=True)
        with tarfile.open(os.path.join(target, "us-atlas-3.0.1.tgz")) as tar:
            tar.extractall(target)
    return os.path.join(target, "package")


def topojson_features(path, name):
    """The GeoJSON features of one TopoJSON object (arcs decoded and joined)."""
    with open(path) as f:
        topo = json.load(f)
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)

    def ring(indexes):
        out = []
        for i in indexes:
            points = arcs[i] if i >= 0 else arcs[~i][::-1]
            out.extend(points[1:] if out else points)
        return out

    features = []
    for g in topo["objects"][name]["geometries"]:
        if g["type"] == "Polygon":
            polygons = [[ring(r) for r in g["arcs"]]]
        elif g["type"] == "MultiPolygon":
            polygons = [[ring(r) for r in polygon] for polygon in g["arcs"]]
        else:
            continue
        # Quantisation leaves a few slivers of under four positions: not
        # rings at all, dropped for both engines.
        polygons = [[r for r in polygon if len(r) >= 4] for polygon in polygons]
        polygons = [polygon for polygon in polygons if polygon and len(polygon[0]) >= 4]
        if not polygons:
            continue
        features.append({"type": "Feature", "properties": {},
                         "geometry": {"type": "MultiPolygon", "coordinates": polygons}})
    return features


def random_points(extent, n):
    minx, miny, maxx, maxy = extent
    rng = np.random.default_rng(SEED)
    return np.column_stack([rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)])


def run_punchguard(env):
    out = subprocess.run(["cargo", "bench", "--quiet", "--bench", "locate"],
                         env=env, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("punchguard locate"))
    return (float(re.search(r"([\d.]+) points/s", line).group(1)),
            int(re.search(r"(\d+) hits", line).group(1)))


def compare(name, polygons, coords, env, rounds):
    points = shapely.points(coords)
    tree = shapely.STRtree(polygons)
    with tempfile.NamedTemporaryFile(suffix=".f64", delete=False) as f:
        coords.astype("<f8").tofile(f)
        points_path = f.name
    env = dict(env, PUNCHGUARD_POINTS=points_path)
    ours, ours_hits = 0.0, None
    theirs = {"intersects": 0.0, "covered_by": 0.0}
    hits = {}
    try:
        for _ in range(rounds):
            rate, ours_hits = run_punchguard(env)
            ours = max(ours, rate)
            for predicate in theirs:
                started = time.perf_counter()
                pairs = tree.query(points, predicate=predicate)
                elapsed = time.perf_counter() - started
                theirs[predicate] = max(theirs[predicate], len(points) / elapsed)
                hits[predicate] = len(np.unique(pairs[0]))
    finally:
        os.unlink(points_path)
    fastest = max(theirs, key=theirs.get)
    agree = "same hits" if hits[fastest] == ours_hits else \
        f"HIT COUNTS DIFFER: {ours_hits} vs {hits[fastest]}"
    print(f"{name}: {len(polygons)} polygons, {len(points)} points; "
          f"punchguard {ours:,.0f} points/s ({ours_hits} hits); "
          f"shapely {shapely.__version__} {fastest} {theirs[fastest]:,.0f} points/s "
          f"({hits[fastest]} hits; the other predicate "
          f"{min(theirs.values()):,.0f}); ratio {ours / theirs[fastest]:.2f}x, {agree}",
          flush=True)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"load average {os.getloadavg()}", flush=True)
    subprocess.run(["cargo", "bench", "--quiet", "--bench", "locate", "--no-run"], check=True)
    base = dict(os.environ)

    kotka = kotka_geometries()
    compare("kotka", kotka, random_points(shapely.total_bounds(kotka), n),
            dict(base, PUNCHGUARD_GEOJSON="data/kotka-buildings.geojson"), rounds)

    tiles = tiled(92)
    compare("kotka-200k", tiles, random_points(shapely.total_bounds(tiles), n),
            dict(base, PUNCHGUARD_COPIES="92"), rounds)

    atlas = us_atlas_dir()
    for name, file, obj in [("us-counties", "counties-10m.json", "counties"),
                            ("us-states", "states-10m.json", "states")]:
        features = topojson_features(os.path.join(atlas, file), obj)
        with tempfile.NamedTemporaryFile("w", suffix=".geojson", delete=False) as f:
            json.dump({"type": "FeatureCollection", "features": features}, f)
            path = f.name
        try:
            polygons = [shape(feature["geometry"]) for feature in features]
            compare(name, polygons, random_points(CONTERMINOUS_US, n),
                    dict(base, PUNCHGUARD_GEOJSON=path), rounds)
        finally:
            os.unlink(path)
    print(f"load average {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
