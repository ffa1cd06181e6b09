#!/usr/bin/env bash
# The one test command (README): Rust core tests, the addon build, JS tests, conformance.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo test (core, no Node)"
cargo test --no-default-features
echo "== build addon (release)"
npm run build
echo "== jest (JS tests against the built addon)"
npx jest --runInBand
if [ -f scripts/conformance.sh ] && [ "${SKIP_CONFORMANCE:-}" != 1 ]; then
  echo "== MCP conformance"
  bash scripts/conformance.sh
fi
