#!/usr/bin/env bash
# The conformance suites (scripts/conformance.sh) through a round-robin proxy in front of two
# instances of the conformance fixture sharing one Redis, prefix and requestStateKeys: every
# scenario must pass with no sticky routing (docs/deployment.md).
#
#   bash scripts/cluster-conformance.sh       (CONFORMANCE_SUITES etc. pass through)
#
# Needs redis-server (scripts/test.sh installs it); everything listens on 127.0.0.1.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/__test__/.tmp/cluster-conformance"
mkdir -p "$OUT"
REDIS_BIN="$(command -v redis-server || true)"
[ -n "$REDIS_BIN" ] || { echo "cluster-conformance: redis-server not found" >&2; exit 2; }

free_port() { node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

RPORT="$(free_port)"
"$REDIS_BIN" --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no >"$OUT/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.2; done

export SHARED_REDIS_URL="redis://127.0.0.1:$RPORT" SHARED_PREFIX="conf$RANDOM"
REQUEST_STATE_KEYS="[\"$(head -c 32 /dev/urandom | base64 -w0)\"]"
export REQUEST_STATE_KEYS
# The proxy's port is chosen first: the instances allow its Origin, as a deployment lists its
# public origin in allowedOrigins.
PPORT="$(free_port)"
export ALLOWED_ORIGINS="http://127.0.0.1:$PPORT,http://localhost:$PPORT"
URLS=()
for id in a b; do
  INSTANCE_ID="$id" HOST=127.0.0.1 node "$ROOT/__test__/fixtures/conformance-server.js" 0 >"$OUT/$id.stdout" 2>"$OUT/$id.stderr" &
  PIDS+=($!)
  url=""
  for _ in $(seq 1 150); do
    url="$(sed -n 's/^LISTENING //p' "$OUT/$id.stdout" | head -n 1)"
    [ -n "$url" ] && break
    sleep 0.2
  done
  [ -n "$url" ] || { echo "cluster-conformance: instance $id did not start" >&2; cat "$OUT/$id.stderr" >&2; exit 2; }
  URLS+=("$url")
done
PROXY_PORT="$PPORT" node "$ROOT/scripts/rr-proxy.js" "${URLS[@]}" >"$OUT/proxy.stdout" 2>"$OUT/proxy.stderr" &
PIDS+=($!)
PURL=""
for _ in $(seq 1 100); do
  PURL="$(sed -n 's/^LISTENING //p' "$OUT/proxy.stdout" | head -n 1)"
  [ -n "$PURL" ] && break
  sleep 0.1
done
[ -n "$PURL" ] || { echo "cluster-conformance: proxy did not start" >&2; exit 2; }
echo "== conformance through $PURL (round robin over ${URLS[*]})" >&2
CONFORMANCE_URL="$PURL" bash "$ROOT/scripts/conformance.sh"
