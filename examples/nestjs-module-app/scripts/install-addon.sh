#!/usr/bin/env bash
# Installs the packed addon into this app: the repository's scripts/install-packed-addon.sh (shared
# by the example apps), with this app's folder.
set -euo pipefail
APP_DIR="$(cd "$(dirname "$0")/.." && pwd)"
exec bash "$APP_DIR/../../scripts/install-packed-addon.sh" "$APP_DIR" "$@"
