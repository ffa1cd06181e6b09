#!/usr/bin/env bash
# The one test command (README): Rust core tests, the addon build, JS tests, conformance, the
# bench smoke run and the NestJS host's tests. Each part is a script of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo test (core, no Node)"
cargo test --no-default-features
echo "== build addon (release)"
npm run build
echo "== jest (JS tests against the built addon)"
npx jest --runInBand
echo "== MCP conformance (0.1.16 active + pending; 0.2.0-alpha.12 for 2026-07-28 and 2025-11-25)"
bash scripts/conformance.sh
for part in bench/smoke.sh examples/nestjs-host/run-tests.sh; do
  if [ -f "$part" ]; then
    echo "== $part"
    bash "$part"
  fi
done
