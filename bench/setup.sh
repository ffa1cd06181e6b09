#!/usr/bin/env bash
# Shared by bench/run.sh and bench/smoke.sh (sourced, from the repo root): builds and installs what
# the benchmarks need. Nothing here is installed by hand beforehand.
set -euo pipefail

# Memory workloads hold 1,000+ sockets on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "== bench: cargo build --release -p mcp-loadgen" >&2
cargo build --release -p mcp-loadgen >&2

# The SDK servers' dependencies, pinned by bench/package-lock.json.
# Re-installed when the lockfile changed since the last install (a copy of it is the stamp).
if [ "${BENCH_NPM_CI:-auto}" = always ] || ! cmp -s bench/package-lock.json bench/node_modules/.bench-lock 2>/dev/null; then
  echo "== bench: npm ci --prefix bench" >&2
  npm ci --prefix bench --no-audit --no-fund >&2
  cp bench/package-lock.json bench/node_modules/.bench-lock
fi

# The addon, when this tree has none built yet.
if ! ls ./*.node >/dev/null 2>&1; then
  if [ ! -x node_modules/.bin/napi ]; then
    echo "== bench: npm ci (repo root, for the napi CLI)" >&2
    npm ci --no-audit --no-fund >&2
  fi
  echo "== bench: npm run build (addon)" >&2
  npm run build >&2
fi
