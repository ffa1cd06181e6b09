#!/usr/bin/env bash
# Packs what a release publishes, the napi-rs way (docs/packaging.md), from the addon built here:
#   - each per-platform package under npm/<platform>/ whose binary is built at the root
#     (here: npm/linux-x64-gnu with mcp-swagger-native.linux-x64-gnu.node), and
#   - the main package: JS, typings and LICENSE, no binary, with `optionalDependencies` on every
#     per-platform package under npm/ at the root's version, as `napi pre-publish` writes them.
# A host installs the tarballs together (`npm install main.tgz platform.tgz`); npm skips the
# optional packages of other platforms.
#
#   bash scripts/pack.sh DEST    # prints the tarballs' paths, one a line, platform packages first
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$(mkdir -p "${1:?usage: pack.sh DEST}" && cd "$1" && pwd)"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cd "$ROOT"

BIN="$(node -p "require('./package.json').napi.binaryName")"
shopt -s nullglob
built=("$BIN".*.node)
[ "${#built[@]}" -gt 0 ] || { echo "pack.sh: no $BIN.*.node at $ROOT: run npm run build" >&2; exit 1; }
[ -f native.js ] || { echo "pack.sh: no native.js at $ROOT: run npm run build" >&2; exit 1; }

# Per-platform packages: npm/<platform>/ plus its binary (what `napi artifacts` copies there).
for node in "${built[@]}"; do
  platform="${node#"$BIN".}"
  platform="${platform%.node}"
  [ -f "npm/$platform/package.json" ] || { echo "pack.sh: $node has no npm/$platform/package.json (napi create-npm-dirs)" >&2; exit 1; }
  mkdir -p "$STAGE/$platform"
  cp "npm/$platform/package.json" "$STAGE/$platform/"
  [ -f "npm/$platform/README.md" ] && cp "npm/$platform/README.md" "$STAGE/$platform/"
  cp LICENSE "$node" "$STAGE/$platform/"
  ( cd "$STAGE/$platform" && npm pack --silent --pack-destination "$DEST" | tail -n 1 | sed "s|^|$DEST/|" )
done

# Main package: the files `npm pack` would take, and the manifest with optionalDependencies.
mkdir -p "$STAGE/main"
node -e '
  const files = JSON.parse(process.argv[1])[0].files.map((f) => f.path)
  process.stdout.write(files.filter((f) => !f.endsWith(".node")).join("\n"))
' "$(npm pack --dry-run --json --silent)" | while IFS= read -r f; do
  mkdir -p "$STAGE/main/$(dirname "$f")"
  cp "$f" "$STAGE/main/$f"
done
node -e '
  const fs = require("fs")
  const [root, out] = process.argv.slice(1)
  const pkg = JSON.parse(fs.readFileSync(root + "/package.json", "utf8"))
  const optional = {}
  for (const dir of fs.readdirSync(root + "/npm").sort()) {
    const p = JSON.parse(fs.readFileSync(`${root}/npm/${dir}/package.json`, "utf8"))
    optional[p.name] = pkg.version
  }
  pkg.optionalDependencies = optional
  fs.writeFileSync(out, JSON.stringify(pkg, null, 2) + "\n")
' "$ROOT" "$STAGE/main/package.json"
( cd "$STAGE/main" && npm pack --silent --pack-destination "$DEST" | tail -n 1 | sed "s|^|$DEST/|" )
