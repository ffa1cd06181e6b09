#!/usr/bin/env bash
# The bench smoke run (`npm test` runs it; a few seconds once built): every server, every workload,
# tiny counts, no timing assertions. Fails if a server fails or the load generator counts any error.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/setup.sh
echo "== bench: cargo test --release -p mcp-loadgen" >&2
cargo test --release -p mcp-loadgen >&2
exec node bench/run.js --smoke "$@"
