#!/usr/bin/env bash
# The NestJS host's whole test run on a fresh machine (the root `npm test` calls this): install the
# host's dependencies and the packed addon, Debian's chromium for the browser test if it is not
# there yet, build, type-check, and run Jest (which must exit on its own).
set -euo pipefail
cd "$(dirname "$0")"

echo "== nestjs-host: npm ci"
npm ci --no-audit --no-fund

echo "== nestjs-host: install the addon from the packed repository package"
bash scripts/install-addon.sh

if [ ! -x /usr/bin/chromium ]; then
  echo "== nestjs-host: installing Debian's chromium for the browser test"
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    ( apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium ) \
      || echo "WARNING: apt-get could not install chromium; the browser test will be skipped"
  else
    echo "WARNING: not root or no apt-get: cannot install chromium; the browser test will be skipped"
  fi
fi

echo "== nestjs-host: build + type-check"
npm run build
npm run typecheck

echo "== nestjs-host: jest"
npx jest --runInBand --ci
