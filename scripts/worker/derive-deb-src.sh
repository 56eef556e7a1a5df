#!/usr/bin/env bash
# Derives apt `deb-src` entries from the machine's own `deb` entries, so the worker build can
# `apt-get source libsrtp2` from the same mirror (or proxy), suites and signing key that apt already
# uses — never from an address written into this repository.
#
# Usage: bash scripts/worker/derive-deb-src.sh [--codename NAME] APT_ETC_DIR
#   APT_ETC_DIR  apt's configuration directory (normally /etc/apt): reads sources.list and
#                sources.list.d/*.list (one-line format) and sources.list.d/*.sources (deb822), the
#                files apt itself reads, in apt's order.
#   --codename   the Debian release whose suites to keep (default: VERSION_CODENAME from
#                /etc/os-release). Only suites NAME and NAME-* (updates, security, backports) are
#                kept: third-party repositories (other suites) rarely publish sources.
#   stdout: deb822 stanzas (Types: deb-src, URIs, Suites, Components, Signed-By/Trusted when set),
#           blank-line separated, ready for a sources.list.d/*.sources file.
#   exit 3 with a message on stderr saying what to add when apt has no usable `deb` source.
#   Entries that already include deb-src, and deb822 stanzas with "Enabled: no", are left out.
set -euo pipefail

usage() { echo "usage: derive-deb-src.sh [--codename NAME] APT_ETC_DIR" >&2; }
die() { echo "derive-deb-src: $*" >&2; exit 2; }

codename=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --codename) [[ $# -ge 2 ]] || { usage; exit 2; }; codename=$2; shift 2 ;;
    --codename=*) codename=${1#--codename=}; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -eq 1 ]] || { usage; exit 2; }
apt_dir=${1%/}
[[ -d $apt_dir ]] || die "$apt_dir is not a directory"
if [[ -z $codename && -r /etc/os-release ]]; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
fi
[[ $codename =~ ^[a-z][a-z0-9-]*$ ]] || die "no release codename (pass --codename, e.g. bookworm)"

stanzas=()

# Joins a field's words (over continuation lines too) with single spaces, without globbing.
squash() {
  local -a w
  read -ra w <<<"${1//$'\n'/ }"
  echo "${w[*]}"
}

# Keeps the suites of this release; prints them space-separated (empty when none).
release_suites() {
  local s kept=() all
  read -ra all <<<"$(squash "$1")"
  for s in "${all[@]}"; do
    [[ $s == "$codename" || $s == "$codename"-* ]] && kept+=("$s")
  done
  echo "${kept[*]}"
}

# add_stanza URIS SUITES COMPONENTS SIGNED_BY TRUSTED — SIGNED_BY may hold deb822 continuation
# lines (an inline key), which are kept verbatim.
add_stanza() {
  local suites stanza
  suites=$(release_suites "$2")
  [[ -n $1 && -n $suites ]] || return 0
  stanza=$'Types: deb-src\n'"URIs: $1"$'\n'"Suites: $suites"
  [[ -n $3 ]] && stanza+=$'\n'"Components: $3"
  [[ -n $4 ]] && stanza+=$'\n'"Signed-By: $4"
  [[ -n $5 ]] && stanza+=$'\n'"Trusted: $5"
  stanzas+=("$stanza")
}

# One-line format: deb [ key=value ... ] URI SUITE [COMPONENT...]
parse_one_line_file() {
  local line type opts rest uri suite components signed_by trusted opt
  local -a words
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%%#*}
    if [[ $line =~ ^[[:space:]]*(deb|deb-src)[[:space:]]+\[([^]]*)\][[:space:]]*(.*)$ ]]; then
      type=${BASH_REMATCH[1]} opts=${BASH_REMATCH[2]} rest=${BASH_REMATCH[3]}
    elif [[ $line =~ ^[[:space:]]*(deb|deb-src)[[:space:]]+(.*)$ ]]; then
      type=${BASH_REMATCH[1]} opts="" rest=${BASH_REMATCH[2]}
    else
      continue
    fi
    [[ $type == deb ]] || continue
    read -ra words <<<"$rest"
    [[ ${#words[@]} -ge 2 ]] || continue
    uri=${words[0]} suite=${words[1]} components="${words[*]:2}" signed_by="" trusted=""
    read -ra words <<<"$opts"
    for opt in "${words[@]}"; do
      case $opt in
        signed-by=*) signed_by=${opt#signed-by=} ;;
        trusted=*) trusted=${opt#trusted=} ;;
      esac
    done
    add_stanza "$uri" "$suite" "$components" "$signed_by" "$trusted"
  done <"$1"
}

# deb822 format: blank-line separated stanzas of "Field: value" lines; a line starting with white
# space continues the previous field; field names are case-insensitive.
declare -A field=()
flush_deb822_stanza() {
  local types enabled
  types=" $(squash "${field[types]:-}") " enabled=$(squash "${field[enabled]:-yes}")
  if [[ $types == *" deb "* && $types != *" deb-src "* && ${enabled,,} != no ]]; then
    add_stanza "$(squash "${field[uris]:-}")" "${field[suites]:-}" "$(squash "${field[components]:-}")" \
      "${field[signed-by]:-}" "$(squash "${field[trusted]:-}")"
  fi
  field=()
}
parse_deb822_file() {
  local line name=""
  field=()
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ ^[[:space:]]*$ ]]; then
      flush_deb822_stanza
      name=""
    elif [[ $line == \#* ]]; then
      continue
    elif [[ $line =~ ^[[:space:]] ]]; then
      [[ -n $name ]] && field[$name]+=$'\n'"$line"
    elif [[ $line =~ ^([A-Za-z0-9-]+):[[:space:]]*(.*)$ ]]; then
      name=${BASH_REMATCH[1],,}
      field[$name]=${BASH_REMATCH[2]}
    fi
  done <"$1"
  flush_deb822_stanza
}

shopt -s nullglob
files=0
[[ -f $apt_dir/sources.list ]] && { parse_one_line_file "$apt_dir/sources.list"; files=$((files + 1)); }
while IFS= read -r f; do
  [[ -n $f ]] || continue
  files=$((files + 1))
  case $f in
    *.list) parse_one_line_file "$f" ;;
    *.sources) parse_deb822_file "$f" ;;
  esac
done < <(printf '%s\n' "$apt_dir"/sources.list.d/*.list "$apt_dir"/sources.list.d/*.sources | LC_ALL=C sort)

if [[ ${#stanzas[@]} -eq 0 ]]; then
  cat >&2 <<MSG
derive-deb-src: apt has no usable \`deb\` source for $codename in $apt_dir ($files source files read:
sources.list, sources.list.d/*.list, sources.list.d/*.sources). Add your Debian mirror for $codename
to apt first, e.g. a file $apt_dir/sources.list.d/debian.sources with
  Types: deb deb-src
  URIs: <your Debian mirror or proxy>
  Suites: $codename $codename-updates
  Components: main
  Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
then run apt-get update and this setup again.
MSG
  exit 3
fi
for i in "${!stanzas[@]}"; do
  ((i == 0)) || echo
  printf '%s\n' "${stanzas[$i]}"
done
