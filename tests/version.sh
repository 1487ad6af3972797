#!/bin/bash
# SPDX-License-Identifier: MIT
# The version lives in configure.ac (AC_INIT) only. Everything that shows
# it must agree: tcpconns-diag --version, the man page built from
# src/cli/tcpconns-diag.1, and debian/changelog (when the tree has it). The
# release tarball is named from AC_INIT too (.ci/run checks the name).
#
# Environment (from make check): BUILDDIR, SRCDIR, PACKAGE_VERSION.
# Exit: 0 pass, 1 fail.
set -u
fail=0
want=${PACKAGE_VERSION:?PACKAGE_VERSION not set (run through make check)}
echo "configure.ac: $want"

got=$("$BUILDDIR/tcpconns-diag" --version)
echo "tcpconns-diag --version: $got"
case "$got" in
*" $want") ;;
*) echo "FAIL: tcpconns-diag --version does not end with $want"; fail=1 ;;
esac

man=$(sed -n '1s/^\.TH .*"tcpconns_diag \([^"]*\)".*/\1/p' "$BUILDDIR/tcpconns-diag.1")
echo "man page: $man"
[ "$man" = "$want" ] || { echo "FAIL: the man page says '$man'"; fail=1; }

if [ -f "$SRCDIR/debian/changelog" ]; then
  deb=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$SRCDIR/debian/changelog")
  echo "debian/changelog: $deb"
  [ "$deb" = "$want" ] ||
    { echo "FAIL: debian/changelog's version '$deb' is not $want (native package: equal, no Debian revision)"; fail=1; }
else
  echo "no debian/changelog in $SRCDIR: not compared"
fi
exit $fail
