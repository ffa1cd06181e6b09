#!/usr/bin/env bash
# The longer property/fuzz run (`npm run fuzz`): the same tests as in `cargo test`, with
# FUZZ_CASES cases each (default 20000; the service-seam fuzz, a whole request per case, runs
# an eighth of that). Bounded by the case count; no network.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${FUZZ_CASES:-20000}"
HARDENING_FUZZ_CASES="$CASES" EVENTS_FUZZ_CASES="$CASES" \
  cargo test --no-default-features --release --test hardening_props --test service_props --test events_fuzz
