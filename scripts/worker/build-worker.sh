#!/usr/bin/env bash
# Builds the mediasoup C++ worker offline on Debian 12 and caches it.
#
# Usage: bash scripts/worker/build-worker.sh
#   stderr: progress lines prefixed "[worker] " (tool output goes to log files)
#   stdout: exactly one line, the absolute path of the worker binary.
#   So `WORKER_BIN=$(bash scripts/worker/build-worker.sh)` just works.
#
# Why: mediasoup's own postinstall downloads a prebuilt binary or builds with
# Meson wraps fetched from GitHub; neither is reachable here. Instead we build
# the worker from the npm tarball against Debian packages, with small shim
# subprojects (scripts/worker/shims/) standing in for the wraps, and libsrtp
# built from Debian's libsrtp2 *source* with OpenSSL (the binary package uses
# NSS, ~10x slower per packet).
#
# One source patch (patch_mediasoup): mediasoup's DTLS BIO callback answers
# every BIO_ctrl() with 1. Debian's libssl3 is built with kernel TLS, so libssl
# asks the memory BIO BIO_get_ktls_send(), hears "yes", leaves its write buffer
# unallocated, and the worker segfaults in do_dtls1_write() on the first DTLS
# handshake from a browser. Upstream never sees this because its bundled
# OpenSSL has no KTLS. The patch makes the callback pass through the real
# result of every completed operation.
#
# Env:
#   MEDIASOUP_WORKER_CACHE          cache root (default
#                                   ${XDG_CACHE_HOME:-$HOME/.cache}/calling-service/mediasoup-worker)
#   MEDIASOUP_WORKER_FORCE_REBUILD=1  ignore the cached binary (ccache stays warm)
set -euo pipefail

MEDIASOUP_VERSION=3.27.1
LIBSRTP2_UPSTREAM_VERSION=2.5.0 # what bookworm ships; the compat header targets it
MESON_VERSION=1.12.1            # mediasoup wants >= 1.1; bookworm has 1.0.1
NINJA_VERSION=1.13.2

# Debian packages the build needs (libsrtp2 comes as source, see fetch_libsrtp2).
DEBIAN_PACKAGES=(
  gcc g++ pkg-config python3-venv ccache dpkg-dev
  libuv1-dev libssl-dev libabsl-dev libflatbuffers-dev flatbuffers-compiler
)

# Wraps in worker/subprojects that we replace with a shim (shims/<wrap name>/).
# catch2 (tests) and wingetopt (Windows) are never configured for this build.
SHIMMED_WRAPS=(libuv openssl libsrtp3 flatbuffers abseil-cpp unordered-dense)

MESON_SETUP_ARGS=(--wrap-mode=nodownload --buildtype release -Db_ndebug=true)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SHIMS_DIR=$SCRIPT_DIR/shims
CACHE_ROOT=${MEDIASOUP_WORKER_CACHE:-${XDG_CACHE_HOME:-${HOME:?}/.cache}/calling-service/mediasoup-worker}
CACHE_ROOT=$(realpath -m "$CACHE_ROOT") # the printed path must be absolute
VERSION_DIR=$CACHE_ROOT/$MEDIASOUP_VERSION
SRC_DIR=$VERSION_DIR/src           # npm tarball's package/ (worker/ inside)
SRTP_SRC_PARENT=$VERSION_DIR/libsrtp2-src
SRTP_SRC_DIR=$SRTP_SRC_PARENT/libsrtp2-$LIBSRTP2_UPSTREAM_VERSION
BUILD_DIR=$VERSION_DIR/build       # fixed path: ccache only hits on identical paths
LOG_DIR=$VERSION_DIR/logs
VENV_DIR=$CACHE_ROOT/venv
BIN=$VERSION_DIR/mediasoup-worker
STAMP=$VERSION_DIR/mediasoup-worker.stamp
SRC_LIST=/etc/apt/sources.list.d/calling-service-src.sources

log() { echo "[worker] $*" >&2; }
die() { echo "[worker] ERROR: $*" >&2; exit 1; }

# Identifies what the cached binary was built from: versions, configure flags
# and the shim files. Editing a shim therefore triggers a (ccache-warm) rebuild.
recipe_hash() {
  {
    echo "mediasoup=$MEDIASOUP_VERSION libsrtp2=$LIBSRTP2_UPSTREAM_VERSION"
    echo "meson=$MESON_VERSION ninja=$NINJA_VERSION args=${MESON_SETUP_ARGS[*]}"
    echo "patches=dtls-bio-ctrl-v1"
    (cd "$SHIMS_DIR" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
}

# Runs a noisy command with its output in $LOG_DIR/<name>.log; shows the tail
# only on failure so CI logs stay readable.
run_logged() {
  local name=$1
  shift
  local logfile=$LOG_DIR/$name.log
  mkdir -p "$LOG_DIR"
  if ! "$@" >"$logfile" 2>&1; then
    log "step '$name' failed (full log: $logfile); last lines:"
    tail -n 60 "$logfile" | cut -c1-300 >&2 # link lines are huge
    exit 1
  fi
}

as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

apt_get() {
  # Lock timeout: tolerate another apt run (e.g. provisioning) finishing first.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 "$@"
}

ensure_debian_packages() {
  if dpkg -s "${DEBIAN_PACKAGES[@]}" >/dev/null 2>&1; then
    return
  fi
  log "installing Debian packages: ${DEBIAN_PACKAGES[*]}"
  run_logged apt-update apt_get update
  run_logged apt-install apt_get install -y --no-install-recommends "${DEBIAN_PACKAGES[@]}"
}

ensure_venv() {
  if [[ -x $VENV_DIR/bin/meson && -x $VENV_DIR/bin/ninja ]] &&
    [[ $("$VENV_DIR/bin/meson" --version 2>/dev/null) == "$MESON_VERSION" ]]; then
    return
  fi
  log "creating Python venv with meson $MESON_VERSION and ninja $NINJA_VERSION"
  rm -rf "$VENV_DIR"
  run_logged venv python3 -m venv "$VENV_DIR"
  run_logged pip "$VENV_DIR/bin/pip" install --disable-pip-version-check \
    "meson==$MESON_VERSION" "ninja==$NINJA_VERSION"
}

fetch_mediasoup() {
  if [[ -f $SRC_DIR/.extracted ]]; then
    return
  fi
  command -v npm >/dev/null 2>&1 || die "npm not found (Node 20 is required)"
  log "fetching mediasoup@$MEDIASOUP_VERSION source with npm pack"
  local tmp=$VERSION_DIR/src.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # npm pack in an empty dir so no project .npmrc/package.json interferes.
  (cd "$tmp" && run_logged npm-pack npm pack --silent "mediasoup@$MEDIASOUP_VERSION")
  tar -xzf "$tmp/mediasoup-$MEDIASOUP_VERSION.tgz" -C "$tmp"
  [[ -f $tmp/package/worker/meson.build ]] || die "npm tarball has no worker/meson.build"
  rm -rf "$SRC_DIR"
  mv "$tmp/package" "$SRC_DIR"
  rm -rf "$tmp"
  touch "$SRC_DIR/.extracted"
}

# Adds deb-src entries derived from the configured deb ones (derive-deb-src.sh: same URIs, suites,
# components and Signed-By, so a mirror or proxy keeps working), unless apt already knows the
# libsrtp2 source package. Refuses, saying what to add, when apt has no deb source to derive from.
ensure_deb_src() {
  # grep without -q reads all input: no SIGPIPE for apt-cache under pipefail.
  if apt-cache showsrc libsrtp2 2>/dev/null | grep '^Package: libsrtp2' >/dev/null; then
    return
  fi
  local content
  content=$(bash "$SCRIPT_DIR/derive-deb-src.sh" /etc/apt) ||
    die "cannot derive a deb-src entry for the libsrtp2 source package from apt's sources (see above)"
  log "adding deb-src entries derived from apt's sources ($SRC_LIST) and updating apt lists"
  printf '%s\n' "$content" | as_root tee "$SRC_LIST" >/dev/null
  run_logged apt-update-src apt_get update
  apt-cache showsrc libsrtp2 2>/dev/null | grep '^Package: libsrtp2' >/dev/null ||
    die "apt still knows no libsrtp2 source package after adding $SRC_LIST (does the mirror serve sources?)"
}

fetch_libsrtp2() {
  if [[ -f $SRTP_SRC_DIR/.extracted ]]; then
    return
  fi
  ensure_deb_src
  log "fetching Debian libsrtp2 source package"
  local tmp=$VERSION_DIR/libsrtp2-src.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # apt-get source needs no root; it unpacks with Debian's patches applied.
  (cd "$tmp" && run_logged apt-source apt-get source libsrtp2)
  [[ -f $tmp/libsrtp2-$LIBSRTP2_UPSTREAM_VERSION/meson.build ]] ||
    die "apt-get source libsrtp2 did not give libsrtp2-$LIBSRTP2_UPSTREAM_VERSION (compat header targets it)"
  rm -rf "$SRTP_SRC_PARENT"
  mv "$tmp" "$SRTP_SRC_PARENT"
  touch "$SRTP_SRC_DIR/.extracted"
}

# See the header: pass the real return value of every completed BIO operation
# (BIO_CB_RETURN is a flag OR'ed into the operation type, not a value of its own).
patch_mediasoup() {
  local file=$SRC_DIR/worker/src/RTC/DtlsTransport.cpp
  local before='(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1;'
  local after='((operationType \& BIO_CB_RETURN) != 0) ? static_cast<long>(ret) : 1;'
  if grep -qF "$before" "$file"; then
    sed -i "s/(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1;/$after/" "$file"
  fi
  grep -qF '((operationType & BIO_CB_RETURN) != 0) ? static_cast<long>(ret) : 1;' "$file" ||
    die "could not apply the DTLS BIO callback patch to $file (mediasoup source changed?)"
}

# Puts the shims where Meson looks for each wrap's "directory"; an existing
# directory is used as-is, so --wrap-mode=nodownload never needs the network.
install_shims() {
  local subprojects=$SRC_DIR/worker/subprojects wrap wrap_file dir
  for wrap in "${SHIMMED_WRAPS[@]}"; do
    wrap_file=$subprojects/$wrap.wrap
    [[ -f $wrap_file ]] || die "missing $wrap_file (mediasoup layout changed?)"
    [[ -d $SHIMS_DIR/$wrap ]] || die "missing shim $SHIMS_DIR/$wrap"
    dir=$(sed -n 's/^directory[[:space:]]*=[[:space:]]*//p' "$wrap_file" | tr -d '[:space:]')
    [[ -n $dir ]] || die "no 'directory =' in $wrap_file"
    rm -rf "${subprojects:?}/$dir"
    # -p keeps mtimes, so unchanged shims do not make ninja re-run meson.
    cp -Rp "$SHIMS_DIR/$wrap" "$subprojects/$dir"
  done

  # libsrtp3 shim: the libsrtp2 source as a nested subproject (Meson looks for
  # all subprojects in the top-level subprojects dir) plus copies of its public
  # headers under include/srtp2/ for the compatibility srtp.h to include.
  local srtp3_dir
  srtp3_dir=$(sed -n 's/^directory[[:space:]]*=[[:space:]]*//p' "$subprojects/libsrtp3.wrap" | tr -d '[:space:]')
  rm -rf "$subprojects/libsrtp2"
  cp -Rp "$SRTP_SRC_DIR" "$subprojects/libsrtp2"
  mkdir -p "$subprojects/$srtp3_dir/include/srtp2"
  cp -p "$SRTP_SRC_DIR/include/srtp.h" \
    "$SRTP_SRC_DIR"/crypto/include/{auth.h,cipher.h,crypto_types.h} \
    "$subprojects/$srtp3_dir/include/srtp2/"
}

configure_and_compile() {
  export PATH=$VENV_DIR/bin:$PATH
  # Keep ccache's store next to the build so caching the cache root in CI also
  # caches compiler output; Meson picks ccache up automatically when on PATH.
  export CCACHE_DIR=${CCACHE_DIR:-$CACHE_ROOT/ccache}
  command -v ccache >/dev/null 2>&1 || log "ccache not found; building without it"

  mkdir -p "$LOG_DIR"
  # A changed recipe may change dependencies, which Meson caches across
  # --reconfigure: start from a fresh build dir (same path, so ccache still hits).
  if [[ -d $BUILD_DIR && $(cat "$BUILD_DIR/.recipe" 2>/dev/null) != "$1" ]]; then
    log "recipe changed: wiping $BUILD_DIR"
    rm -rf "$BUILD_DIR"
  fi
  # Reuse the build dir (keeps ninja state); if it cannot be reconfigured
  # (half-configured, or made by another Meson version) start it afresh.
  if [[ -f $BUILD_DIR/meson-private/coredata.dat ]] &&
    meson setup --reconfigure "${MESON_SETUP_ARGS[@]}" "$BUILD_DIR" "$SRC_DIR/worker" \
      >"$LOG_DIR/meson-setup.log" 2>&1; then
    log "reconfigured $BUILD_DIR"
  else
    log "configuring $BUILD_DIR"
    rm -rf "$BUILD_DIR"
    run_logged meson-setup meson setup "${MESON_SETUP_ARGS[@]}" "$BUILD_DIR" "$SRC_DIR/worker"
  fi

  log "compiling mediasoup-worker (cold: ~4-5 min on 2 cores; warm ccache: seconds)"
  local start=$SECONDS
  run_logged meson-compile meson compile -C "$BUILD_DIR" mediasoup-worker
  printf '%s\n' "$1" >"$BUILD_DIR/.recipe"
  log "compiled in $((SECONDS - start))s"
}

# Fails loudly if SRTP would not run on OpenSSL: the whole point of building
# libsrtp from source.
verify_binary() {
  local built=$BUILD_DIR/mediasoup-worker config=$BUILD_DIR/subprojects/libsrtp2/config.h
  [[ -x $built && -s $built ]] || die "build produced no $built"
  grep -Eq '^#define OPENSSL([[:space:]]|$)' "$config" || die "libsrtp2 was not configured with OpenSSL ($config)"
  local libs
  libs=$(ldd "$built") || die "ldd failed on $built"
  if grep -Eq 'libsrtp2|libnss3|libnspr4' <<<"$libs"; then
    echo "$libs" >&2
    die "worker links libsrtp2/NSS dynamically; SRTP must be the static OpenSSL-backed libsrtp"
  fi
  grep -q 'libcrypto\.so' <<<"$libs" || die "worker does not link OpenSSL libcrypto"
  log "ldd check ok: no libsrtp2/NSS, OpenSSL libcrypto linked"
}

install_binary() {
  local tmp=$BIN.tmp.$$
  cp "$BUILD_DIR/mediasoup-worker" "$tmp"
  chmod 0755 "$tmp"
  mv -f "$tmp" "$BIN" # atomic: concurrent readers never see a partial file
  printf '%s\n' "$1" >"$STAMP.tmp.$$"
  mv -f "$STAMP.tmp.$$" "$STAMP"
}

cached_binary_ok() {
  [[ ${MEDIASOUP_WORKER_FORCE_REBUILD:-0} != 1 && -x $BIN && -s $BIN && -f $STAMP ]] &&
    [[ $(<"$STAMP") == "$1" ]]
}

main() {
  [[ -d $SHIMS_DIR ]] || die "shims not found at $SHIMS_DIR"
  local recipe
  recipe=$(recipe_hash)
  if cached_binary_ok "$recipe"; then
    log "using cached $BIN"
    echo "$BIN"
    return
  fi

  mkdir -p "$VERSION_DIR"
  # Serialize concurrent builds (e.g. parallel test jobs) on the same cache.
  exec 9>"$CACHE_ROOT/.build.lock"
  flock 9
  if cached_binary_ok "$recipe"; then # someone else just built it
    log "using cached $BIN"
    echo "$BIN"
    return
  fi

  local start=$SECONDS
  log "building mediasoup-worker $MEDIASOUP_VERSION in $VERSION_DIR"
  ensure_debian_packages
  ensure_venv
  fetch_mediasoup
  fetch_libsrtp2
  patch_mediasoup
  install_shims
  configure_and_compile "$recipe"
  verify_binary
  install_binary "$recipe"
  log "done in $((SECONDS - start))s"
  echo "$BIN"
}

main "$@"
