#!/bin/bash
# SPDX-License-Identifier: MIT
# dashboard-demo.sh: a real run that makes the dashboard picture (as root).
#
#   contrib/dashboard-demo.sh [SECONDS [OUT.png]]
#
# In a private network namespace (lo only; removed at the end), it runs
# contrib/dashboard-load.py (web-like load on ports 80 and 443 of
# 127.0.0.1) for SECONDS (default 240), while Debian's collectd runs
# tcpconns_diag (LocalPort 80, LocalPort 443) with the rrdtool writer at
# Interval 1. Then contrib/dashboard.sh draws the run into OUT.png (default
# contrib/dashboard-example.png). An nftables rule in the namespace drops
# 2% of the SYN-ACKs from port 443, so some handshakes wait (SYN_RECV).
#
# Environment:
#   PLUGIN_SO   the module (default: build-try/.libs/tcpconns_diag.so, built
#               like contrib/try-foreground.sh does if missing)
#   DEMO_KEEP   a directory to keep the RRD files in (default: removed)
#   DEMO_NO_INSTALL=1  do not run tests/deps.sh first
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../tests/lib.sh"
seconds=${1:-240}
out=${2:-$SRCDIR/contrib/dashboard-example.png}
need_root "network namespace"

[ -n "${DEMO_NO_INSTALL:-}" ] || bash "$SRCDIR/tests/deps.sh"
need_collectd rrdtool
need_lib rrdtool librrd8
need_cmd rrdtool # for contrib/dashboard.sh
need_cmd nft nftables
if [ -z "${PLUGIN_SO:-}" ]; then
  PLUGIN_SO=$SRCDIR/build-try/.libs/tcpconns_diag.so
  build_plugin "$SRCDIR/build-try"
fi

work_dir demo
ns_new ns demo
ip netns exec "$ns" sysctl -q -w net.core.somaxconn=4096
ip netns exec "$ns" nft -f - <<'EOF'
table inet demo {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp sport 443 tcp flags & (syn | ack) == (syn | ack) numgen random mod 50 == 0 drop
  }
}
EOF

plugin_dir logfile rrdtool
host=web1
conf_write "$WORK/collectd.conf" -H "$host" -w rrdtool -- 'LocalPort "80"' 'LocalPort "443"'

start=$(date +%s)
ns_bg "$ns" "$WORK/collectd.out" "$COLLECTD" -f -C "$WORK/collectd.conf"
cpid=$BG_PID
sleep 3 # a few reads of the idle ports first
echo "load on ports 80 and 443 for $seconds s (namespace $ns)"
ip netns exec "$ns" python3 "$SRCDIR/contrib/dashboard-load.py" "$((seconds + 5))" &
lpid=$!
bg_track "$lpid"
sleep "$seconds"
kill -0 "$lpid" || fail "the load generator failed"
# collectd stops first, so the picture ends with the load still running.
kill -TERM "$cpid"
wait "$cpid" || true
end=$(date +%s)
wait "$lpid" || fail "the load generator failed"

if [ -n "${DEMO_KEEP:-}" ]; then
  mkdir -p "$DEMO_KEEP"
  cp -r "$WORK/rrd/." "$DEMO_KEEP/"
fi
DASH_START=$start DASH_END=$end DASH_WIDTH=${DASH_WIDTH:-900} \
  bash "$SRCDIR/contrib/dashboard.sh" "$WORK/rrd" "$host" "$out" 80 443
