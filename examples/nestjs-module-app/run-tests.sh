#!/usr/bin/env bash
# The module app's whole test run (the root `npm test` calls this): its own dependencies, the
# packed addon installed from a tarball the way a user installs it, a TypeScript build (which
# type-checks the decorators against their methods), then Jest (which must exit on its own).
set -euo pipefail
cd "$(dirname "$0")"

echo "== nestjs-module-app: npm ci"
npm ci --no-audit --no-fund

echo "== nestjs-module-app: install the addon from the packed repository package"
bash scripts/install-addon.sh

echo "== nestjs-module-app: build"
npm run build

echo "== nestjs-module-app: jest"
npx jest --runInBand --ci
