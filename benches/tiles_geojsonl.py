#!/usr/bin/env python3
"""Writes the 199,732 tiled Kotka footprints of benches/common/tiles.rs as
GeoJSON lines (one Feature a line), for the import and memory figures in
the README: python3 benches/tiles_geojsonl.py > tiles.geojsonl"""

import json
import sys
from pathlib import Path

COPIES, COLUMNS, STEP_LON, STEP_LAT = 92, 10, 0.05, 0.025


def shifted(coords, dx, dy):
    if isinstance(coords[0], (int, float)):
        return [coords[0] + dx, coords[1] + dy]
    return [shifted(c, dx, dy) for c in coords]


def main():
    data = Path(__file__).resolve().parent.parent / "data" / "kotka-buildings.geojson"
    features = json.loads(data.read_text())["features"]
    out = sys.stdout
    for copy in range(COPIES):
        dx, dy = (copy % COLUMNS) * STEP_LON, (copy // COLUMNS) * STEP_LAT
        for i, feature in enumerate(features):
            props = feature.get("properties") or {}
            site = props.get("site") or feature.get("id") or props.get("name") or f"feature-{i}"
            geometry = dict(feature["geometry"])
            geometry["coordinates"] = shifted(geometry["coordinates"], dx, dy)
            line = {"type": "Feature", "properties": {"site": f"{site}-{copy}"}, "geometry": geometry}
            out.write(json.dumps(line, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
