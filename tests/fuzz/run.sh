#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the three libFuzzer targets with clang straight from the sources
# (the core in src/, tests/bc_model.c, -lmnl) into a scratch directory and
# runs each for SECONDS (default 60), starting from the seed corpus in
# tests/fuzz/corpus/<target>/ (never written to). Fails on any crash, leak,
# sanitizer report or timeout; prints execs and coverage per target.
#
#   tests/fuzz/run.sh [SECONDS]
#
# Environment: CLANG (default clang-14 or clang), KEEP_WORK=1 keeps the
# scratch directory (new corpus entries, crash inputs; a failure keeps it
# too, see tests/lib.sh), FUZZ_TARGETS (a
# subset, e.g. "reply options"), FUZZ_SRCDIR (the source tree; default
# the one this script is in), FUZZ_EXTRA_CFLAGS: -DFUZZ_SELFTEST builds
# each target with one wrong expectation (each must then fail at once).
# Exit: 0 all passed, 1 a target failed or did not build, 77 no clang with
# libFuzzer and none installable (Debian: clang-14, libclang-rt-14-dev).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
secs=${1:-60}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
top=${FUZZ_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
targets=${FUZZ_TARGETS:-reply options bytecode conns}

CLANG=${CLANG:-$(command -v clang-14 || command -v clang || true)}
if [ -z "$CLANG" ]; then
  install_pkg clang-14 libclang-rt-14-dev libmnl-dev || true
  CLANG=$(command -v clang-14 || command -v clang || true)
fi
[ -n "$CLANG" ] || skip "no clang, and clang-14 cannot be installed"

work_dir fuzz
work=$WORK
fpid=
# A target still running (Ctrl-C) is stopped.
on_exit '[ -z "$fpid" ] || bg_stop "$fpid"'

# Can this clang link a fuzzer at all?
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$work/probe.c"
if ! "$CLANG" -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" 2>/dev/null; then
  install_pkg libclang-rt-14-dev || true
  "$CLANG" -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" 2>/dev/null ||
    skip "$CLANG cannot link -fsanitize=fuzzer and libclang-rt-14-dev cannot be installed"
fi

core=()
for f in "$top"/src/*.c; do
  case $(basename "$f") in tcpconns_diag.c) ;; *) core+=("$f") ;; esac
done
# The core as configure builds it by default: with the USDT probes when
# <sys/sdt.h> is there (they are nops until traced).
sdt=()
echo '#include <sys/sdt.h>' | "$CLANG" -E -x c - >/dev/null 2>&1 && sdt=(-DHAVE_SYS_SDT_H=1)
# The project's sources get warnings; the targets must be warning-free.
# shellcheck disable=SC2054 # commas inside -fsanitize= lists
cflags=(-std=c11 -D_GNU_SOURCE -pthread -g -O1 -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -Wall -Wextra "${sdt[@]}" -I"$top/src" -I"$top/tests")
# shellcheck disable=SC2206 # word splitting of the extra flags is wanted
cflags+=(${FUZZ_EXTRA_CFLAGS:-})
# shellcheck disable=SC2054
mflags=(-std=c11 -D_GNU_SOURCE -g -O2 -fsanitize=address,undefined
  -fno-sanitize-recover=all -Wall -Wextra -Werror -I"$top/src" -I"$top/tests")
mnl=$(pkg-config --cflags --libs libmnl 2>/dev/null || echo -lmnl)

status=0
summary=()
for t in $targets; do
  src=$top/tests/fuzz/fuzz_$t.c
  bin=$work/fuzz_$t
  echo "== build fuzz_$t"
  # The kernel model is only an oracle: built with the sanitizers but
  # without coverage (and optimised), so its quadratic audit of large
  # programs does not dominate the run or steer the fuzzer.
  # shellcheck disable=SC2086 # $mnl is a list of flags
  if ! "$CLANG" "${mflags[@]}" -c -o "$work/bc_model_$t.o" "$top/tests/bc_model.c" ||
    ! "$CLANG" "${cflags[@]}" -Werror -c -o "$work/fuzz_$t.o" "$src" ||
    ! "$CLANG" "${cflags[@]}" -o "$bin" "$work/fuzz_$t.o" "${core[@]}" \
      "$work/bc_model_$t.o" $mnl; then
    echo "FAIL: fuzz_$t does not build"
    status=1
    summary+=("fuzz_$t: BUILD FAILED")
    continue
  fi
  mkdir -p "$work/corpus/$t" "$work/artifacts"
  seeds=$top/tests/fuzz/corpus/$t
  echo "== run fuzz_$t for ${secs}s"
  # New inputs go to the scratch corpus (first dir); the seeds are read
  # only. -timeout: one input taking 10 s is a hang; the outer timeout
  # guards libFuzzer itself.
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    timeout -k 10 $((secs + 120)) "$bin" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -error_exitcode=1 -timeout_exitcode=1 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" \
    "$work/corpus/$t" "$seeds" >"$work/$t.log" 2>&1 &
  fpid=$!
  rc=0
  wait "$fpid" || rc=$?
  fpid=
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/$t.log" | tail -1)
  covline=$(grep -E '^#[0-9]+' "$work/$t.log" | grep -o 'cov: [0-9]* ft: [0-9]*' | tail -1 || true)
  crashes=$(find "$work/artifacts" -name "$t-*" | wc -l)
  units=$(find "$work/corpus/$t" -type f | wc -l)
  line="fuzz_$t: ${execs:-?} execs, ${rate:-?} exec/s, ${covline:-cov: ? ft: ?}, corpus +$units, peak RSS ${rss:-?} MB"
  if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
    echo "FAIL: fuzz_$t exited $rc with $crashes crash input(s):"
    grep -E 'ERROR|SUMMARY|runtime error|fuzz_[a-z]+:|Test unit written' "$work/$t.log" | head -20 || true
    # The scratch dir is kept, but a CI log may be all there is: print the
    # inputs so the crash can be replayed (base64 -d >in; fuzz_$t in).
    find "$work/artifacts" -name "$t-*" -exec sh -c \
      'echo "  input $(basename "$1"):"; od -An -tx1 "$1" | head -8; echo "  base64: $(base64 -w0 "$1")"' _ {} \;
    status=1
    line="$line  FAILED (exit $rc)"
  fi
  summary+=("$line")
done

echo "== summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
[ "$status" = 0 ] || fail "a fuzz target failed (see above)"
echo "all fuzz targets passed"
