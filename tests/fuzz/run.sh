#!/usr/bin/env bash
# Runs each fuzz target for a bounded time (default 600 s each), one after
# the other, from the repository root:  bash tests/fuzz/run.sh [seconds]
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
# The GeoJSON target starts from the shipped files as its corpus, the
# attestation target from the real certificates in tests/data.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-600}"
corpus=tests/fuzz/corpus
mkdir -p "$corpus/requests" "$corpus/geojson" "$corpus/attestation"
cp -n data/*.geojson "$corpus/geojson/" 2>/dev/null || true
# Real devices' certificates seed the attestation target.
cp -n tests/data/attestation/android/*/cert*.der "$corpus/attestation/" 2>/dev/null || true
for target in requests geojson attestation; do
  echo "== fuzzing $target for ${seconds}s"
  cargo +nightly fuzz run --fuzz-dir tests/fuzz "$target" "$corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048
done
