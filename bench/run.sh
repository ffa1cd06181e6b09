#!/usr/bin/env bash
# `npm run bench`: the full side-by-side benchmark (a few minutes on 2 cores). Prints one markdown
# table and writes it to bench/results.md. Knobs: see the header of bench/run.js.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/setup.sh

# wrk cross-checks the load generator against the ceiling; optional (BENCH_WRK=0 skips the install).
if ! command -v wrk >/dev/null 2>&1 && [ "${BENCH_WRK:-1}" != 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== bench: apt-get install wrk (optional)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >/dev/null 2>&1 || echo "   (wrk not installed; the cross-check is skipped)" >&2
fi

exec node bench/run.js "$@"
