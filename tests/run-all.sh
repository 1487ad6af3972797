#!/bin/bash
# SPDX-License-Identifier: MIT
# The whole test suite from a fresh Debian 12 machine (as root): installs
# the dependencies, checks the formatting and the shell scripts
# (tests/lint.sh), builds, and runs `make check` twice: a normal build
# (unit, real-kernel and real-daemon tests), then an ASan/UBSan build of
# the unit and real-kernel tests.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash tests/deps.sh
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
echo "== lint: clang-format and shellcheck"
bash tests/lint.sh

run_build() { # dir, configure args..., -- make args...
  local dir=$1
  shift
  local cfg=()
  while [ "$1" != "--" ]; do cfg+=("$1"); shift; done
  shift
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && "$top/configure" -q "${cfg[@]}" &&
    make -j"$(nproc)" -s &&
    make -j1 check "$@" || { cat tests/*.log tests/daemon/*.log 2>/dev/null | tail -200; exit 1; })
}

echo "== build with gcc, full suite"
run_build "$top/build-check" CC=gcc --enable-werror --
echo "== build with clang and ASan/UBSan: unit, kernel and CLI tests"
run_build "$top/build-asan" CC=clang --enable-sanitizers --enable-werror -- \
  TESTS='$(UNIT_TESTS) $(CLI_TESTS)'
echo "== build without USDT probes (no <sys/sdt.h>): must stay warning-free"
rm -rf "$top/build-nousdt" && mkdir -p "$top/build-nousdt"
(cd "$top/build-nousdt" && "$top/configure" -q --disable-usdt --enable-werror && make -s -j"$(nproc)")
echo "== fuzzing: each libFuzzer target for ${FUZZ_SECONDS:-60} s"
(cd "$top/build-check" && make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}")
echo "== all test runs passed"
