#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/ab_revs.sh: did a change move the cost of a read? The plugin of two
# commits, A/B on one load, for a refactoring that must change nothing.
#
#   sudo bench/ab_revs.sh REV_A REV_B [N] [ROUNDS]   (default 1000000, 9)
#
# Builds tcpconns_diag.so at each commit (git worktrees of this repository,
# removed at the end), builds the load of bench/run (N sockets in a
# namespace with a private established hash), then ROUNDS times, in a
# shuffled order each round: collectd -T with each build for the default
# block and for `LocalPort "9100"` (~1% of the sockets), and collectd -T
# with no read plugin, whose CPU is subtracted. Prints the median CPU of
# each read and the median of the per-round B/A ratios.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
# shellcheck source=tests/lib.sh
. "$REPO/tests/lib.sh"
[ $# -ge 2 ] || fail "usage: $0 REV_A REV_B [N] [ROUNDS]"
N=${3:-1000000}
ROUNDS=${4:-9}
need_root "network namespaces"
need_cmd collectd collectd-core
work_dir revs

CF="-std=c11 -O2 -Wall -Wextra -Werror"
# shellcheck disable=SC2086
cc $CF -o "$WORK/loadgen" "$HERE/loadgen.c" "$REPO/tests/sockload.c"
# shellcheck disable=SC2086
cc $CF -o "$WORK/cputime" "$HERE/cputime.c"
conf() { # file plugin-dir [block line]
  printf '%s\n' 'Hostname "ab"' 'FQDNLookup false' 'Interval 3600' \
    "PluginDir \"$2\"" "BaseDir \"$WORK\"" "TypesDB \"$TYPESDB\"" >"$1"
  [ $# -lt 3 ] ||
    printf 'LoadPlugin tcpconns_diag\n<Plugin tcpconns_diag>\n%s\n</Plugin>\n' "$3" >>"$1"
}
for side in a b; do
  rev=$1
  shift
  git -C "$REPO" rev-parse --verify -q "$rev^{commit}" >/dev/null || fail "no commit $rev"
  git -C "$REPO" worktree add -q --detach "$WORK/src.$side" "$rev"
  on_exit "git -C $(printf %q "$REPO") worktree remove --force $(printf %q "$WORK/src.$side")"
  SRCDIR=$WORK/src.$side build_plugin "$WORK/build.$side" >/dev/null ||
    fail "the plugin does not build at $rev"
  mkdir -p "$WORK/plugins.$side"
  cp "$WORK/build.$side/.libs/tcpconns_diag.so" "$WORK/plugins.$side/"
  conf "$WORK/$side.default.conf" "$WORK/plugins.$side" ""
  conf "$WORK/$side.rare.conf" "$WORK/plugins.$side" 'LocalPort "9100"'
  printf '%s\t%s\n' "$side" "$(git -C "$REPO" rev-parse --short "$rev")" >>"$WORK/revs"
done
conf "$WORK/base.conf" "$WORK/plugins.a"

bench_load NS "$N" "$WORK/loadgen"
log "load: $(cat "$WORK/lg.out"); loadavg $(cat /proc/loadavg)"
cpu_of() { # conf -> CPU us of collectd -T in the namespace
  ip netns exec "$NS" "$WORK/cputime" -o "$WORK/t" collectd -C "$1" -T >/dev/null 2>&1
  awk '{print $2}' "$WORK/t"
}
: >"$WORK/samples"
for round in $(seq "$ROUNDS"); do
  for c in $(printf '%s\n' a.default b.default a.rare b.rare base | shuf); do
    echo "$round $c $(cpu_of "$WORK/$c.conf")" >>"$WORK/samples"
  done
done
log "loadavg after: $(cat /proc/loadavg)"
python3 - "$WORK/samples" "$WORK/revs" <<'PY'
import collections, statistics, sys
cpu = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    r, c, us = line.split()
    cpu[c][int(r)] = float(us) / 1000
revs = dict(line.split() for line in open(sys.argv[2]))
base = cpu.pop("base")
print("| read | A (%s) ms | B (%s) ms | B ÷ A (median of rounds) |" % (revs["a"], revs["b"]))
print("|---|---|---|---|")
for read in ("default", "rare"):
    a, b = cpu["a." + read], cpu["b." + read]
    net = lambda d: statistics.median(d[r] - base[r] for r in d)
    ratio = statistics.median((b[r] - base[r]) / (a[r] - base[r]) for r in a)
    print("| %s | %.1f | %.1f | %.3f |" % (read, net(a), net(b), ratio))
PY
