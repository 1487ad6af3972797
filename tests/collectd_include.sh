#!/bin/bash
# SPDX-License-Identifier: MIT
# --with-collectd-include=DIR takes every collectd header from DIR.
# Compiles the plugin's glue (the one file that includes collectd headers)
# from SRCDIR, a clean tree holding configure (an unpacked release tarball,
# or a checkout after autoreconf), with Debian's collectd-dev hidden: an
# empty read-only tmpfs over /usr/include/collectd in a private mount
# namespace, so a header that is not in DIR cannot be found. Then checks
# the compiler's dependency files.
#
#   1. control: the default (/usr/include/collectd, now empty) must fail
#      in configure;
#   2. DIR = a copy of collectd-dev's headers (collectd 5.12) in a
#      directory not named "collectd";
#   3. DIR = a collectd 5.12 source tree, if COLLECTD_SRC names one (.ci/run
#      unpacks Debian's collectd_5.12.0.orig.tar.xz); skipped otherwise.
#
# Usage: tests/collectd_include.sh [SRCDIR]   (default: this tree)
# Needs: collectd-dev installed (the headers to copy), root or unprivileged
# user namespaces (unshare), a compiler, libmnl-dev.
# Exit: 0 pass, 1 fail, 77 skip (no mount namespace, no collectd-dev).
set -euo pipefail
top=$(cd "${1:-$(dirname "$0")/..}" && pwd)
log() { printf '%s\n' "collectd_include: $*"; }
skip() { log "SKIP: $*"; exit 77; }
fail() { log "FAIL: $*"; exit 1; }

[ -x "$top/configure" ] || fail "$top/configure missing (run autoreconf -fi there first)"
[ ! -f "$top/config.status" ] ||
  fail "$top is configured in-tree: give a clean tree (make distclean, or an unpacked tarball)"
[ -f /usr/include/collectd/core/daemon/plugin.h ] ||
  skip "collectd-dev is not installed: no collectd 5.12 headers to copy"
grep -q '^#define PACKAGE_VERSION "5\.12\.' /usr/include/collectd/core/config.h ||
  fail "/usr/include/collectd is not collectd 5.12"

if [ "$(id -u)" = 0 ]; then ns=(unshare --mount --propagation private)
else ns=(unshare --map-root-user --mount --propagation private); fi
"${ns[@]}" true 2>/dev/null || skip "cannot create a mount namespace (${ns[*]})"

work=$(mktemp -d /tmp/tcpconns-include.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -a /usr/include/collectd "$work/hdr-5.12"

# Runs "$@" in a private mount namespace where /usr/include/collectd is empty.
hidden() {
  "${ns[@]}" bash -euc '
    mount -t tmpfs -o ro,size=64k,mode=755 none /usr/include/collectd
    [ -z "$(ls -A /usr/include/collectd)" ] || exit 3
    exec "$@"' hidden "$@"
}

# build NAME DIR: configure with --with-collectd-include=DIR and compile the
# plugin's glue in $work/NAME, collectd-dev hidden; then check where headers came from.
build() {
  local name=$1 dir=$2 b=$work/$1
  mkdir -p "$b"
  log "$name: --with-collectd-include=$dir, /usr/include/collectd hidden"
  hidden bash -euc 'cd "$1" && "$2/configure" -q --enable-werror --disable-usdt \
      --with-collectd-include="$3" >configure.out 2>&1 &&
    make -s src/tcpconns_diag_la-tcpconns_diag.lo >make.out 2>&1' build "$b" "$top" "$dir" ||
    { tail -20 "$b/configure.out" "$b/make.out" "$b/config.log" 2>/dev/null | tail -60
      fail "$name: the build failed"; }
  local deps=$b/src/.deps/tcpconns_diag_la-tcpconns_diag.Plo
  [ -s "$deps" ] || fail "$name: no dependency file $deps"
  if grep -n '/usr/include/collectd' "$deps"; then
    fail "$name: a header came from /usr/include/collectd"
  fi
  local core
  core=$(readlink -f "$b/collectd-include/collectd/core")
  case $core in "$(readlink -f "$dir")"*) ;; *) fail "$name: collectd-include points to $core" ;; esac
  grep -q 'collectd-include/collectd/core/daemon/plugin.h' "$deps" ||
    fail "$name: plugin.h not taken through collectd-include/"
  local n
  n=$(tr ' \\:' '\n' <"$deps" | grep -e 'collectd-include/collectd/core/' -e "$dir" | sort -u | wc -l)
  nm --defined-only "$b/src/.libs/tcpconns_diag_la-tcpconns_diag.o" |
    grep -q ' T module_register$' || fail "$name: the object defines no module_register"
  log "$name: ok: $n collectd headers, all from $core, none from /usr/include/collectd"
}

log "control: the default include dir, hidden, must not configure"
mkdir -p "$work/control"
if hidden bash -c 'cd "$1" && "$2/configure" -q --disable-usdt >out 2>&1' c "$work/control" "$top"; then
  fail "control: configure succeeded with /usr/include/collectd hidden: the hiding does not work"
fi
grep -q 'collectd headers not found' "$work/control/out" ||
  { cat "$work/control/out"; fail "control: configure failed for another reason"; }
log "control: ok (configure: $(grep -o 'collectd headers not found[^:]*' "$work/control/out"))"

build installed-copy "$work/hdr-5.12"

if [ -n "${COLLECTD_SRC:-}" ]; then
  [ -f "$COLLECTD_SRC/src/daemon/plugin.h" ] || fail "COLLECTD_SRC=$COLLECTD_SRC: no src/daemon/plugin.h"
  grep -q 'plugin_register_read' "$COLLECTD_SRC/src/daemon/plugin.h" || fail "COLLECTD_SRC: not collectd"
  build source-tree "$(cd "$COLLECTD_SRC" && pwd)"
else
  log "source-tree: skipped (set COLLECTD_SRC to a collectd 5.12 source tree)"
fi
log "PASS"
