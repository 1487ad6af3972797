#!/bin/bash
# SPDX-License-Identifier: MIT
#
# graphite-demo.sh: a real run that makes the Graphite dashboard picture
# (as root).
#
#   contrib/graphite-demo.sh [SECONDS [OUT.png]]
#
# The Graphite twin of contrib/dashboard-demo.sh. In a private network
# namespace (lo only; removed at the end), contrib/dashboard-load.py puts
# web-like load on ports 80 and 443 of 127.0.0.1 for SECONDS (default 240)
# while Debian's collectd runs tcpconns_diag (LocalPort 80, LocalPort 443,
# Interval 1, Hostname web1) and sends the values with write_graphite to a
# carbon-cache of Debian's graphite-carbon (its configuration and whisper
# files in a scratch directory, 1 s resolution). Then Debian's graphite-web
# is started over those whisper files (contrib/graphite-web-local.sh: no
# Apache) and contrib/dashboard.sh draws the run into OUT.png
# (default contrib/graphite-example.png) through the render API. An
# nftables rule in the namespace drops 2% of the SYN-ACKs from port 443,
# so some handshakes wait (SYN_RECV).
#
# Environment:
#   PLUGIN_SO   the module (default: build-try/.libs/tcpconns_diag.so,
#               built as contrib/try-foreground.sh does if missing)
#   KEEP_WORK=1 keep the scratch directory (whisper files, logs)
#   DEMO_NO_INSTALL=1  do not run tests/deps.sh first
top=$(cd "$(dirname "$0")/.." && pwd)
SRCDIR=$top
PLUGIN_SO=${PLUGIN_SO:-$top/build-try/.libs/tcpconns_diag.so}
. "$top/tests/lib.sh"

seconds=${1:-240}
out=${2:-$top/contrib/graphite-example.png}
case $out in /*) ;; *) out=$PWD/$out ;; esac
LINE_PORT=2003
QUERY_PORT=7002
WEB_PORT=8080
HOST=web1

[ "$(id -u)" = 0 ] || fail "run as root (network namespace)"
[ -n "${DEMO_NO_INSTALL:-}" ] || bash "$top/tests/deps.sh"
[ -f "$PLUGIN_SO" ] || build_plugin "$top/build-try"
need_collectd write_graphite
need_carbon
work_dir graphite-demo
plugin_dir logfile write_graphite
show_on_fail "$WORK/collectd.log" "$WORK/carbon/stdout" "$WORK/gw.log"

ns_new NS demo
in_ns sysctl -q -w net.core.somaxconn=4096
in_ns nft -f - <<'EOF'
table inet demo {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp sport 443 tcp flags & (syn | ack) == (syn | ack) numgen random mod 50 == 0 drop
  }
}
EOF

start_carbon "$WORK/carbon" $LINE_PORT $((LINE_PORT + 1)) $QUERY_PORT
conf_write "$WORK/collectd.conf" -H "$HOST" -w graphite:$LINE_PORT -- \
  'LocalPort "80"' 'LocalPort "443"'

start=$(date +%s)
ns_bg "$NS" "$WORK/collectd.out" "$COLLECTD" -f -C "$WORK/collectd.conf"
cpid=$BG_PID
sleep 3 # a few reads of the idle ports first
log "load on ports 80 and 443 for $seconds s (namespace $NS)"
ns_bg "$NS" "$WORK/load.out" python3 "$top/contrib/dashboard-load.py" "$((seconds + 5))"
lpid=$BG_PID
sleep "$seconds"
bg_alive "$lpid" "the load generator" "$WORK/load.out"
# collectd stops first, so the picture ends with the load still running.
bg_stop "$cpid"
end=$(date +%s)
bg_stop "$lpid"
sleep 2 # carbon writes what it holds

GW_CARBONLINK=127.0.0.1:$QUERY_PORT ns_bg "$NS" "$WORK/gw.log" \
  bash "$top/contrib/graphite-web-local.sh" "$WORK/carbon/whisper" \
  "127.0.0.1:$WEB_PORT" "$WORK/gw"
gpid=$BG_PID
gw_up() {
  bg_alive "$gpid" graphite-web "$WORK/gw.log"
  in_ns curl -sf -o /dev/null "http://127.0.0.1:$WEB_PORT/metrics/find?query=*"
}
wait_for 120 gw_up || fail "graphite-web did not start: $(tail -n 20 "$WORK/gw.log")"
DASH_START=$start DASH_END=$end DASH_WIDTH=${DASH_WIDTH:-900} \
  in_ns bash "$top/contrib/dashboard.sh" "http://127.0.0.1:$WEB_PORT" \
  "$HOST" "$out" 80 443
