#!/usr/bin/env bash
# Installs everything including test dependencies (redis-server, chromium), then runs every
# check: typecheck, lint, format, and the whole vitest suite (real Redis, mediasoup, Chromium) —
# all on Node.js 24 (scripts/lib/node-env.sh; test/config.test.ts checks the suite really runs on it).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/node-env.sh
source scripts/lib/node-env.sh
use_supported_node
bash scripts/setup.sh --test
npm run --silent check
