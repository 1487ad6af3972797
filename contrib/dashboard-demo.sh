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
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-240}
out=${2:-$top/contrib/dashboard-example.png}
[ "$(id -u)" = 0 ] || { echo "$0: run as root (network namespace)" >&2; exit 1; }

[ -n "${DEMO_NO_INSTALL:-}" ] || bash "$top/tests/deps.sh"
for p in rrdtool librrd8; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$p"
done
plugin=${PLUGIN_SO:-$top/build-try/.libs/tcpconns_diag.so}
if [ ! -f "$plugin" ]; then
  (cd "$top" && autoreconf -fi >/dev/null 2>&1)
  mkdir -p "$top/build-try"
  (cd "$top/build-try" && "$top/configure" -q && make -s -j"$(nproc)")
fi

run=$(mktemp -d /tmp/tcpconns-demo.XXXXXX)
ns=tcd-demo-$$
cpid=
lpid=
cleanup() {
  [ -n "$lpid" ] && kill -TERM "$lpid" 2>/dev/null
  [ -n "$cpid" ] && kill -TERM "$cpid" 2>/dev/null
  wait 2>/dev/null || true
  if [ -e "/run/netns/$ns" ]; then
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  fi
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" sysctl -q -w net.core.somaxconn=4096
ip netns exec "$ns" nft -f - <<'EOF'
table inet demo {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp sport 443 tcp flags & (syn | ack) == (syn | ack) numgen random mod 50 == 0 drop
  }
}
EOF

mkdir -p "$run/plugins"
cp /usr/lib/collectd/{logfile,rrdtool}.so "$run/plugins/"
cp "$plugin" "$run/plugins/tcpconns_diag.so"
host=web1
cat >"$run/collectd.conf" <<EOF
Hostname "$host"
FQDNLookup false
Interval 1
BaseDir "$run"
PIDFile "$run/collectd.pid"
PluginDir "$run/plugins"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "$run/collectd.log"
</Plugin>
LoadPlugin rrdtool
<Plugin rrdtool>
  DataDir "$run/rrd"
</Plugin>
LoadPlugin tcpconns_diag
<Plugin tcpconns_diag>
  LocalPort "80"
  LocalPort "443"
</Plugin>
EOF

start=$(date +%s)
ip netns exec "$ns" collectd -f -C "$run/collectd.conf" >"$run/collectd.out" 2>&1 &
cpid=$!
sleep 3 # a few reads of the idle ports first
echo "load on ports 80 and 443 for $seconds s (namespace $ns)"
ip netns exec "$ns" python3 "$top/contrib/dashboard-load.py" "$((seconds + 5))" &
lpid=$!
sleep "$seconds"
kill -0 "$lpid" || { echo "$0: the load generator failed" >&2; exit 1; }
# collectd stops first, so the picture ends with the load still running.
kill -TERM "$cpid"
wait "$cpid" || true
cpid=
end=$(date +%s)
wait "$lpid" || { echo "$0: the load generator failed" >&2; exit 1; }
lpid=

if [ -n "${DEMO_KEEP:-}" ]; then
  mkdir -p "$DEMO_KEEP"
  cp -r "$run/rrd/." "$DEMO_KEEP/"
fi
DASH_START=$start DASH_END=$end DASH_WIDTH=${DASH_WIDTH:-900} \
  bash "$top/contrib/dashboard.sh" "$run/rrd" "$host" "$out" 80 443
