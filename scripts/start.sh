#!/usr/bin/env bash
# Installs everything (scripts/setup.sh) and starts the service in the foreground on Node.js 24
# (scripts/lib/node-env.sh: the machine's node if new enough, else the cached one setup installed).
# Without REDIS_URL it runs on the embedded single-node state store. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/node-env.sh
source scripts/lib/node-env.sh
use_supported_node
bash scripts/setup.sh
exec node dist/server/main.js
