# shellcheck shell=bash
# Puts a Node.js that satisfies package.json's "engines" (>= 24) first on PATH, for scripts/setup.sh,
# scripts/start.sh and scripts/test.sh and every npm script they run. Source it, then call
# use_supported_node.
#
# Why this way: Debian 12's usual Node is 20 (end of life April 2026), and the Quick start must keep
# working on such a machine without touching the system's Node. The npm registry's `node` package
# ships the official Node binary, so the npm that comes with any Node >= 20 can install Node 24 into a
# cache prefix; nvm, `n` and similar installers download from elsewhere. When `node` on PATH is
# already new enough, nothing is installed.
#
# Env:
#   CALLING_SERVICE_NODE_PREFIX  where Node 24 is installed (default
#                                ${XDG_CACHE_HOME:-$HOME/.cache}/calling-service/node-24)
# Exports CALLING_SERVICE_NODE_MAJOR (the required major) so the test suite can check that it runs on
# the Node this file chose (test/config.test.ts).

SUPPORTED_NODE_MAJOR=24 # keep in step with package.json "engines" (test/config.test.ts checks)
BOOTSTRAP_NODE_MAJOR=20 # the oldest Node whose npm can install the supported one

node_env_log() { printf '[node] %s\n' "$*" >&2; }

# Major version of the given node executable, 0 when it is missing or does not run.
node_major_of() {
  "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

use_supported_node() {
  local major prefix bin lock tmp
  major=$(node_major_of node)
  if ((major >= SUPPORTED_NODE_MAJOR)); then
    export CALLING_SERVICE_NODE_MAJOR=$SUPPORTED_NODE_MAJOR
    return 0
  fi
  prefix=${CALLING_SERVICE_NODE_PREFIX:-${XDG_CACHE_HOME:-${HOME:?}/.cache}/calling-service/node-$SUPPORTED_NODE_MAJOR}
  bin=$prefix/node_modules/.bin
  if (($(node_major_of "$bin/node") != SUPPORTED_NODE_MAJOR)); then
    if ((major < BOOTSTRAP_NODE_MAJOR)) || ! command -v npm >/dev/null 2>&1; then
      node_env_log "Node.js $BOOTSTRAP_NODE_MAJOR or newer with npm is needed to install Node.js $SUPPORTED_NODE_MAJOR (found: $(node --version 2>/dev/null || echo none))"
      return 1
    fi
    mkdir -p "$(dirname "$prefix")"
    # Several checkouts share the cache: one installs, the others wait and reuse it.
    lock=$prefix.lock
    exec 8>"$lock"
    flock 8
    if (($(node_major_of "$bin/node") != SUPPORTED_NODE_MAJOR)); then
      node_env_log "installing Node.js $SUPPORTED_NODE_MAJOR from the npm registry into $prefix (system Node $(node --version) stays as it is)"
      # Into a fresh directory, then renamed: readers never see a half-installed prefix. The
      # package's .bin/node is a relative link, so the rename keeps it valid.
      tmp=$prefix.tmp.$$
      rm -rf "$tmp"
      if ! npm install --prefix "$tmp" --no-audit --no-fund --loglevel=error "node@$SUPPORTED_NODE_MAJOR" >&2; then
        rm -rf "$tmp"
        exec 8>&-
        node_env_log "npm install node@$SUPPORTED_NODE_MAJOR failed"
        return 1
      fi
      rm -rf "$prefix"
      mv "$tmp" "$prefix"
    fi
    exec 8>&-
    (($(node_major_of "$bin/node") == SUPPORTED_NODE_MAJOR)) ||
      { node_env_log "$bin/node is not Node.js $SUPPORTED_NODE_MAJOR"; return 1; }
  fi
  export PATH=$bin:$PATH
  hash -r
  export CALLING_SERVICE_NODE_MAJOR=$SUPPORTED_NODE_MAJOR
}
