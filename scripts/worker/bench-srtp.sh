#!/usr/bin/env bash
# SRTP cost check for the worker built by build-worker.sh.
#
# Usage: bash scripts/worker/bench-srtp.sh [packets]   (default 200000)
#
# Compiles bench-srtp.c against the exact static libsrtp (Debian libsrtp2
# source, OpenSSL backend) and compatibility header that went into the worker,
# prints microseconds per srtp_protect() of a 1,000-byte RTP packet per profile,
# then whether the worker binary links NSS or a shared libsrtp2 (it must not:
# NSS-backed libsrtp2 costs ~10 us/packet, OpenSSL < 1 us).
set -euo pipefail

PACKETS=${1:-200000}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# build-worker.sh is idempotent (seconds when cached) and its last stdout line
# is the binary path; the build tree sits next to the binary.
WORKER_BIN=$(bash "$SCRIPT_DIR/build-worker.sh" | tail -n 1)
VERSION_DIR=$(dirname "$WORKER_BIN")
BUILD_DIR=$VERSION_DIR/build
SUBPROJECTS=$VERSION_DIR/src/worker/subprojects

SRTP_LIB=$BUILD_DIR/subprojects/libsrtp2/libsrtp2.a
SRTP3_DIR=$(sed -n 's/^directory[[:space:]]*=[[:space:]]*//p' "$SUBPROJECTS/libsrtp3.wrap" | tr -d '[:space:]')
SRTP_INC=$SUBPROJECTS/$SRTP3_DIR/include
[[ -f $SRTP_LIB ]] || { echo "[worker] ERROR: $SRTP_LIB not found (build dir removed?)" >&2; exit 1; }
[[ -f $SRTP_INC/srtp.h && -f $SRTP_INC/srtp2/srtp.h ]] ||
  { echo "[worker] ERROR: compat headers not found in $SRTP_INC" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Same optimisation level as the worker's release build.
gcc -std=gnu11 -O3 -I"$SRTP_INC" "$SCRIPT_DIR/bench-srtp.c" "$SRTP_LIB" -lcrypto -o "$tmp/bench-srtp"

echo "worker $WORKER_BIN"
"$tmp/bench-srtp" "$PACKETS"

# Plain yes/no so scripts and humans can read it.
libs=$(ldd "$WORKER_BIN")
grep -q 'libnss3' <<<"$libs" && echo "worker_links_nss yes" || echo "worker_links_nss no"
grep -q 'libsrtp2' <<<"$libs" && echo "worker_links_shared_libsrtp2 yes" || echo "worker_links_shared_libsrtp2 no"
grep -q 'libcrypto' <<<"$libs" && echo "worker_links_openssl_libcrypto yes" || echo "worker_links_openssl_libcrypto no"
