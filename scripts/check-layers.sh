#!/usr/bin/env bash
# The layering check on its own: bindings > transport > monitor > session > protocol/events, no
# upward import and no cycle between files of one layer (docs/architecture.md, "Layers"). It is
# the Rust test tests/layers.rs, so `cargo test` (and `npm test`, through it) runs it too.
# LAYERS_SRC=<dir> checks another tree's src/ (e.g. one exported with `git archive`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --no-default-features --test layers
