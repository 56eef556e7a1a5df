#!/usr/bin/env bash
# Installs everything (scripts/setup.sh) and starts the service in the foreground.
# Without REDIS_URL it runs on the embedded single-node state store. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/server/main.js
