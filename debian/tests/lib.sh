# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2086  # $want: words on purpose
# Sourced by the autopkgtests: collectd's configuration for a run in a
# private network namespace, and checks on the values it wrote (csv).

STATES="ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSED CLOSE_WAIT LAST_ACK LISTEN CLOSING"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# write_conf WORK PLUGIN_CONF: WORK/collectd.conf, Interval 1, values as
# csv under WORK/csv/autopkgtest/, log in WORK/collectd.log, and
# PLUGIN_CONF (a collectd.conf.d snippet) included as Debian's
# collectd.conf includes /etc/collectd/collectd.conf.d.
write_conf() {
  local work=$1 plugin_conf=$2
  mkdir -p "$work/conf.d" "$work/csv"
  cp "$plugin_conf" "$work/conf.d/"
  cat >"$work/collectd.conf" <<CONF
Hostname "autopkgtest"
FQDNLookup false
Interval 1
BaseDir "$work"
PIDFile "$work/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel "info"
  File "$work/collectd.log"
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "$work/csv"
  StoreRates false
</Plugin>
<Include "$work/conf.d">
  Filter "*.conf"
</Include>
CONF
}

# expect_block WORK INSTANCE "STATE=N ..." [STATES]: every value of every
# read of tcpconns-INSTANCE, for each state of STATES (default all eleven),
# is N as given, 0 for the states not named.
expect_block() {
  local work=$1 inst=$2 want=$3 states=${4:-$STATES} s n vals
  for s in $states; do
    n=$(printf '%s\n' $want | sed -n "s/^$s=//p")
    n=${n:-0}
    vals=$(cat "$work"/csv/autopkgtest/tcpconns-"$inst"/tcp_connections-"$s"-* 2>/dev/null |
      grep -v '^epoch' | cut -d, -f2 | awk '{ printf "%d\n", $1 }' | sort -u | tr '\n' ' ')
    if [ "$vals" != "$n " ]; then
      fail "tcpconns-$inst $s: read ${vals:-nothing}, want $n in every read"
    fi
  done
  echo "tcpconns-$inst: $want (every read)"
}

# expect_instances WORK "tcpconns-A tcpconns-B ...": exactly these
# plugin instances were written.
expect_instances() {
  local work=$1 want=$2 got
  got=$(cd "$work/csv/autopkgtest" && ls -d tcpconns-* | sort | tr '\n' ' ')
  want=$(printf '%s\n' $want | sort | tr '\n' ' ')
  [ "$got" = "$want" ] || fail "instances written: $got, want: $want"
}
