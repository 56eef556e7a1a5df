#!/usr/bin/env bash
# Installs everything including test dependencies (redis-server, chromium), then runs every
# check: typecheck, lint, format, and the whole vitest suite (real Redis, mediasoup, Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
npm run --silent check
