#!/bin/bash
# SPDX-License-Identifier: MIT
# Stands in for the Check unit tests (tests/check_*) when configure did not
# build them, so that 'make check' cannot pass quietly without them.
#
# Environment (from make check): WITH_CHECK, configure's --with-check value
# (auto when not given, no for --without-check).
#
# Exit: 1 (FAIL) when Check was looked for and not found; 77 (SKIP) when
# configure was told --without-check.
if [ "${WITH_CHECK:-auto}" = no ]; then
  echo "SKIP: configured --without-check: the unit tests (tests/check_*) were not built and did not run"
  exit 77
fi
cat <<'MSG'
FAIL: Check (libcheck >= 0.10) was not found when configure ran, so the
unit tests (tests/check_*) were not built and did not run; only the shell
tests did. Install Check (Debian: apt-get install check) and run configure
again, or configure --without-check to run the shell tests alone on purpose.
MSG
exit 1
