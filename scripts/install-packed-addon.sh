#!/usr/bin/env bash
# Usage: install-packed-addon.sh APP_DIR [--if-missing]
# Install mcp-swagger-native into the example app at APP_DIR the way a user would get it from the registry: the
# repository's scripts/pack.sh packs the main package (no binary, optionalDependencies on the
# per-platform packages) and this machine's per-platform package (the .node), and `npm install`
# takes both tarballs. Builds the addon at the repository root first if its .node binary (or the
# generated loader) is missing.
#   --if-missing   do nothing when the installed addon already loads with startStreamableMcpServer
set -euo pipefail
HOST_DIR="$(cd "$1" && pwd)"
shift
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$HOST_DIR"

loads() {
  node -e "const a = require('mcp-swagger-native'); if (typeof a.startStreamableMcpServer !== 'function' || typeof a.ConnectionEventHub !== 'function') process.exit(1)" 2>/dev/null
}

if [ "${1:-}" = "--if-missing" ] && loads; then
  exit 0
fi

if ! ls "$ROOT"/*.node >/dev/null 2>&1 || [ ! -f "$ROOT/native.js" ]; then
  echo "== install-addon: no built addon at $ROOT, building it (npm run build)"
  ( cd "$ROOT" && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build )
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
echo "== install-addon: scripts/pack.sh $ROOT"
bash "$ROOT/scripts/pack.sh" "$TMP" >"$TMP/tarballs"
mapfile -t TARBALLS <"$TMP/tarballs"
echo "== install-addon: npm install --no-save ${TARBALLS[*]##*/}"
npm install --no-save --no-audit --no-fund "${TARBALLS[@]}"

if ! loads; then
  echo "install-addon: mcp-swagger-native installed but it lacks startStreamableMcpServer / ConnectionEventHub" >&2
  node -e "console.error('exports:', Object.keys(require('mcp-swagger-native')))" >&2 || true
  exit 1
fi
echo "== install-addon: mcp-swagger-native $(node -p "require('mcp-swagger-native/package.json').version") installed"
