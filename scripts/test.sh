#!/usr/bin/env bash
# The one test command (README): the docs link check, Rust core tests (with tests/layers.rs, the
# layering check of scripts/check-layers.sh), the addon build, JS tests, the typing probes, the
# packed package's ESM/CommonJS consumers, conformance (also through a proxy over two instances on
# Redis), the bench smoke run and the NestJS host's tests. Each part is a script of its own; the
# last line totals what ran.
set -euo pipefail
cd "$(dirname "$0")/.."
LOGS="$(mktemp -d)"
trap 'rm -rf "$LOGS"' EXIT
part() { # <name> <command…>: run a part, keeping its output for the tally
  local name="$1"
  shift
  echo "== $name"
  "$@" 2>&1 | tee "$LOGS/$name.log"
}
sum() { # <log> <sed -n script printing one number per match>
  sed -nE "$2" "$LOGS/$1.log" | awk '{ s += $1 } END { print s + 0 }'
}

# The reference OpenMetrics parser the metrics tests read the exposition with (so that `npm test`
# works on a fresh machine, not only under .ci/run).
python3 -c 'import prometheus_client' 2>/dev/null || python3 -m pip install --quiet prometheus_client==0.26.0
# __test__/cluster.test.js runs a real redis-server (Debian's package), installed here when missing.
if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing redis-server"
  apt-get install -y redis-server >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y redis-server >/dev/null; }
fi
# __test__/cors-browser.test.js drives Debian's chromium (headless, through playwright-core),
# installed here when missing; without it that test is skipped with a warning.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing chromium"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >/dev/null 2>&1 \
    || echo "WARNING: apt-get could not install chromium; the CORS browser test will be skipped"
fi
part docs bash scripts/check-docs.sh
part cargo cargo test --no-default-features
# The shared store's own unit tests (the cluster view's merge, the bus messages); the Redis side
# runs in __test__/cluster.test.js.
part cargo-shared cargo test --no-default-features --features shared --lib transport::cluster
part build npm run build
part jest npx jest --runInBand
part types bash scripts/types.sh
part consumers bash scripts/consumers.sh
part conformance bash scripts/conformance.sh
part conformance-handler env FIXTURE_MODE=handler bash scripts/conformance.sh
# The same suites through a round-robin proxy over two instances sharing one Redis (no sticky
# routing; docs/deployment.md).
part conformance-cluster bash scripts/cluster-conformance.sh
[ -f bench/smoke.sh ] && part bench-smoke bash bench/smoke.sh
# The hostile-client soak, short (docs/hardening.md › Soak): every attack at once on one server
# with 256 descriptors; the good client must get every answer, memory stays bounded and comes
# back. Its latency is reported, not asserted (`npm run soak` asserts it). A soak is statistical
# (its RSS after the mix lands within 10% of the start with a few MiB to spare on a quiet
# machine): a failed run is run once more, and the part fails if that run fails too.
part soak bash -c 'node bench/soak.js --short --no-latency-gate || { echo "soak: one more run"; node bench/soak.js --short --no-latency-gate; }'
[ -f examples/nestjs-host/run-tests.sh ] && part nestjs-host bash examples/nestjs-host/run-tests.sh
[ -f examples/nestjs-module-app/run-tests.sh ] && part nestjs-module bash examples/nestjs-module-app/run-tests.sh

rust=$(sum cargo 's/^test result: ok\. ([0-9]+) passed.*/\1/p')
rust=$((rust + $(sum cargo-shared 's/^test result: ok\. ([0-9]+) passed.*/\1/p')))
jest=$(sum jest 's/^Tests: +([0-9]+) passed.*/\1/p')
types=$(sum types 's/^types: ([0-9]+) passed.*/\1/p')
consumers=$(sum consumers 's/^consumers: ([0-9]+) passed.*/\1/p')
# The run that decided (the last one).
soak=$(sed -nE 's/^soak: ([0-9]+) passed.*/\1/p' "$LOGS/soak.log" | tail -1)
soak=${soak:-0}
# Scored and pending scenarios of each suite's verdict line (extensions are informational).
scenarios=$(cat "$LOGS/conformance.log" "$LOGS/conformance-handler.log" "$LOGS/conformance-cluster.log" | grep -E '^\[[a-z0-9]+\] ' | grep -oE '(scored|pending) [0-9]+/' \
  | grep -oE '[0-9]+' | awk '{ s += $1 } END { print s + 0 }')
host=0
[ -f "$LOGS/nestjs-host.log" ] && host=$(sum nestjs-host 's/^Tests: +([0-9]+) passed.*/\1/p')
nestmod=0
[ -f "$LOGS/nestjs-module.log" ] && nestmod=$(sum nestjs-module 's/^Tests: +([0-9]+) passed.*/\1/p')
echo "== totals: Rust $rust, Jest $jest, types $types, consumers $consumers, conformance scenarios $scenarios, soak checks $soak, NestJS host $host, NestJS module app $nestmod"
echo "npm test: $((rust + jest + types + consumers + scenarios + soak + host + nestmod)) passed, 0 failed"
