#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/conns_ab.sh: focused A/B of the <Connections> rows, for a busy
# machine where bench/run's one-read samples are too noisy.
#
#   sudo bench/conns_ab.sh [N] [ROUNDS]      (default 1000000, 7)
#
# Builds the plugin core, loadgen and coreread as bench/run does, the same
# load in a namespace with a private established hash, then ROUNDS times,
# in a shuffled order each round: the collector alone (coreread, the
# median CPU of reads 2..11 of one process) for the default block, ten
# server-side blocks, the mixed ten, one ~1% block, an address-only and a
# port-only block that match nothing, the 1% LocalPort; the raw floor of
# the 1% reads (bench/rawdump -l 9100: one dump with that filter, only
# counted); and upstream's default read (collectd -T with tcpconns.so,
# minus collectd -T with no read plugin). Prints the medians and the per-round ratios' medians, and
# /proc/loadavg before and after.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
# shellcheck source=tests/lib.sh
. "$REPO/tests/lib.sh"
N=${1:-1000000}
ROUNDS=${2:-7}
note() { printf '[ab %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
need_root "network namespaces"
work_dir ab

build_plugin "$WORK/build" >/dev/null || fail "plugin build failed"
CORE=$WORK/build/.libs/libtcpconns_core.a
CF="-std=c11 -O2 -Wall -Wextra -Werror"
# shellcheck disable=SC2086
cc $CF -o "$WORK/loadgen" "$HERE/loadgen.c" "$REPO/tests/sockload.c"
# shellcheck disable=SC2086
cc $CF -o "$WORK/cputime" "$HERE/cputime.c"
# shellcheck disable=SC2086
cc $CF -D_GNU_SOURCE -I"$REPO/src" -o "$WORK/coreread" "$HERE/coreread.c" \
  "$REPO/src/cli/cli_connections.c" "$CORE" -lmnl
# shellcheck disable=SC2086
cc $CF -I"$REPO/src" -o "$WORK/rawdump" "$HERE/rawdump.c" "$CORE" -lmnl
mkdir -p "$WORK/plugins"
cp /usr/lib/collectd/tcpconns.so "$WORK/plugins/"

bench_load NS "$N" "$WORK/loadgen"
note "load: $(cat "$WORK/lg.out"); loadavg $(cat /proc/loadavg)"

# shellcheck disable=SC2054 # commas inside the specs
S10=(b0:lport=80,raddr=127.1.0.0/30 b1:lport=443,raddr=127.1.0.4/30
  b2:lport=8080,raddr=127.1.0.8/30 b3:lport=80,raddr=127.1.0.12/30
  b4:lport=443,raddr=127.1.0.16/30 b5:lport=9100,raddr=127.1.0.0/27
  b6:lport=80,raddr=fd00::100/126 b7:lport=8080,raddr=fd00::104/126
  b8:lport=3000,raddr=10.0.0.0/8 b9:lport=443,raddr=192.168.0.0/16)
# shellcheck disable=SC2054
S10C=(b0:lport=80,raddr=127.1.0.0/30 b1:lport=443,raddr=127.1.0.4/30
  b2:lport=8080,raddr=127.1.0.8/30 b3:rport=80,laddr=127.1.0.12/30
  b4:rport=443,laddr=127.1.0.16/30 b5:lport=9100,raddr=127.1.0.0/27
  b6:lport=80,raddr=fd00::100/126 b7:rport=8080,laddr=fd00::104/126
  b8:lport=3000,raddr=10.0.0.0/8 b9:rport=5432,raddr=192.168.0.0/16)
args() { # config -> coreread arguments
  local s
  case $1 in
    default) ;;
    rare) echo LocalPort 9100 ;;
    conns10) for s in "${S10[@]}"; do printf 'Connections %s ' "$s"; done ;;
    conns10c) for s in "${S10C[@]}"; do printf 'Connections %s ' "$s"; done ;;
    conns1) echo ListeningPorts false Connections rare1:lport=9100,raddr=127.1.0.0/16 ;;
    addrnone) echo ListeningPorts false Connections nobody:raddr=10.9.9.9 ;;
    portnone) echo ListeningPorts false Connections noport:rport=1 ;;
  esac
}
head="Hostname \"ab\"
FQDNLookup false
Interval 3600
PluginDir \"$WORK/plugins\"
BaseDir \"$WORK\"
TypesDB \"/usr/share/collectd/types.db\""
printf '%s\n' "$head" >"$WORK/base.conf"
printf '%s\nLoadPlugin tcpconns\n<Plugin tcpconns>\n</Plugin>\n' "$head" >"$WORK/up.conf"
cpu_of() { # conf -> collectd -T CPU us
  ip netns exec "$NS" "$WORK/cputime" -o "$WORK/t" collectd -C "$1" -T >/dev/null 2>&1
  awk '{print $2}' "$WORK/t"
}
CONFIGS=(default rare conns10 conns10c conns1 addrnone portnone)
: >"$WORK/samples"
for round in $(seq "$ROUNDS"); do
  for c in $(printf '%s\n' "${CONFIGS[@]}" floor upstream | shuf); do
    if [ "$c" = floor ]; then
      # the floor of the 1% reads: one dump with LocalPort 9100's filter
      out=$(ip netns exec "$NS" "$WORK/rawdump" -l 9100)
      echo "$round floor $(awk '{print $8, $2}' <<<"$out")" >>"$WORK/samples"
    elif [ "$c" = upstream ]; then
      u=$(cpu_of "$WORK/up.conf")
      b=$(cpu_of "$WORK/base.conf")
      echo "$round upstream $(awk -v u="$u" -v b="$b" 'BEGIN{print u - b}')" >>"$WORK/samples"
    else
      # shellcheck disable=SC2046
      out=$(ip netns exec "$NS" "$WORK/coreread" -r 11 $(args "$c"))
      echo "$round $c $(awk '{print $2, $4}' <<<"$out")" >>"$WORK/samples"
    fi
  done
  note "round $round/$ROUNDS; loadavg $(cat /proc/loadavg)"
done
python3 - "$WORK/samples" "$N" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(dict)
socks = {}
for line in open(sys.argv[1]):
    p = line.split()
    rows[p[1]][int(p[0])] = float(p[2])
    if len(p) > 3:
        socks[p[1]] = p[3]
n = float(sys.argv[2])
med = lambda d: statistics.median(d.values())
def ratio(a, b):
    return statistics.median(rows[a][r] / rows[b][r] for r in rows[a] if r in rows[b] and rows[b][r] > 0)
print("| configuration | collector alone ms (median) | ÷ default | ÷ upstream default read | sockets received | ns per walked socket |")
print("|---|---|---|---|---|---|")
for c in ["default", "rare", "conns10", "conns10c", "conns1", "addrnone", "portnone", "floor"]:
    print("| %s | %.0f | %.2f× | %.2f× | %s | %.0f |" % (c, med(rows[c]) / 1000, ratio(c, "default"),
          ratio(c, "upstream"), socks.get(c, "?"), med(rows[c]) / n * 1000))
print("| upstream default (collectd -T) | %.0f | | 1.00× | | |" % (med(rows["upstream"]) / 1000))
print("addrnone - portnone per walked socket: %.1f ns (median of rounds: %.1f ns)" % (
    (med(rows["addrnone"]) - med(rows["portnone"])) / n * 1000,
    statistics.median((rows["addrnone"][r] - rows["portnone"][r]) / n * 1000 for r in rows["addrnone"] if r in rows["portnone"])))
PY
note "loadavg after: $(cat /proc/loadavg)"
