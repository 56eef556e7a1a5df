#!/usr/bin/env bash
# What the benchmarks need beyond scripts/setup.sh, idempotently (a second run takes a second):
#   - socket buffer ceilings: the kernel caps SO_RCVBUF/SO_SNDBUF at net.core.rmem_max/wmem_max,
#     so the server's RTC_SOCKET_BUFFER_BYTES (8 MB) only takes effect once these allow it;
#   - taskset (util-linux), ip (iproute2), and with --janus Debian's janus package.
# Needs root for sysctl and apt-get (the benchmarks run it themselves and say when it fails).
set -euo pipefail

want_janus=false
for arg in "$@"; do
  case "$arg" in
    --janus) want_janus=true ;;
    *) echo "usage: bench/setup.sh [--janus]" >&2; exit 2 ;;
  esac
done

say() { printf '[bench-setup] %s\n' "$*"; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# 16 MB leaves headroom over the server's 8 MB default and the bots' own sockets.
BUFFER_MAX=16777216
for key in net.core.rmem_max net.core.wmem_max; do
  current=$(sysctl -n "$key")
  if [ "$current" -lt "$BUFFER_MAX" ]; then
    $SUDO sysctl -q -w "$key=$BUFFER_MAX"
    say "$key: $current -> $BUFFER_MAX"
  fi
done

packages=(util-linux iproute2)
$want_janus && packages+=(janus)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian starts janus as a system service on install; the benchmark runs its own, pinned, in a
# network namespace, and a second instance would compete for the core being measured.
if $want_janus && command -v systemctl >/dev/null 2>&1 && systemctl is-enabled janus >/dev/null 2>&1; then
  $SUDO systemctl disable --now janus >/dev/null 2>&1 || true
  say "disabled the janus system service"
fi
exit 0
