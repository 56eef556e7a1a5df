#!/usr/bin/env bash
# Installs everything the service needs on Debian 12 with any Node.js >= 20, idempotently:
#   0. Node.js 24 (scripts/lib/node-env.sh): from the npm registry into a cache prefix when the
#      machine's node is older; the rest of this script (npm ci, build) runs on it
#   1. Debian packages (with --test also redis-server and chromium for the test suite)
#   2. the mediasoup worker, built offline from source (scripts/worker/build-worker.sh), cached
#   3. npm packages (npm ci, skipped when package-lock.json has not changed)
#   4. the TypeScript build and the web client bundle
# A second run skips what is done and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=false
for arg in "$@"; do
  case "$arg" in
    --test) with_test=true ;;
    *) echo "usage: scripts/setup.sh [--test]" >&2; exit 2 ;;
  esac
done

say() { printf '[setup] %s\n' "$*"; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# 0. Node.js 24 first on PATH (installed into a cache prefix if the machine's node is older).
# shellcheck source=scripts/lib/node-env.sh
source scripts/lib/node-env.sh
use_supported_node || exit 1
say "Node.js $(node --version) ($(command -v node))"

# 1. Debian packages. The worker build installs its own build dependencies.
packages=()
$with_test && packages+=(redis-server chromium ffmpeg)
# The tests start their own PostgreSQL (initdb + postgres on a free port) for the database suites.
$with_test && packages+=(postgresql)
# The network suite starts its own coturn (TURN relay); the failover suite its own Sentinels; the
# impairment helpers need nftables and iproute2 (namespaces, veth, tbf).
$with_test && packages+=(coturn redis-sentinel nftables iproute2)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  # With recommends: Chromium's fonts are among them, and the suite was verified with them installed.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
  # Debian starts redis-server as a service on install; the tests run their own on a free port.
  if [[ " ${missing[*]} " == *" redis-server "* ]] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
  # Likewise Debian's own PostgreSQL cluster: the tests never use it.
  if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
  fi
else
  say "Debian packages present"
fi

# 2. The mediasoup worker (last line of the script's output is the binary's path).
worker_bin=$(bash scripts/worker/build-worker.sh | tail -n 1)
[ -x "$worker_bin" ] || { echo "worker build did not produce a binary" >&2; exit 1; }
say "mediasoup worker: $worker_bin"

# 3. npm packages. MEDIASOUP_WORKER_BIN makes mediasoup's postinstall skip its download; our
#    postinstall applies patches/ (patch-package), so a changed patch reinstalls too. The stamp names
#    the Node major too: packages installed under another Node are installed again.
lock_hash="$(cat package-lock.json patches/*.patch | sha256sum | cut -d' ' -f1) node$(node_major_of node)"
stamp=node_modules/.setup-stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
  say "npm packages up to date"
else
  say "installing npm packages (npm ci)"
  MEDIASOUP_WORKER_BIN="$worker_bin" npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi

# 4. Build.
say "building"
npm run --silent build
say "done"
