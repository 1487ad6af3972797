#!/bin/bash
# SPDX-License-Identifier: MIT
# collectd running as an unprivileged user, with no capabilities at all
# (setpriv: uid nobody, gid nogroup, no supplementary groups, empty
# inheritable, ambient and bounding sets, no_new_privs), inside a private
# network namespace holding a known socket set, still counts exactly with
# the plugin, and through sock_diag (not the /proc fallback): one daemon
# with the kernel filter (ports), one without (AllPortsSummary).
#
#   the set (tests/daemon/churn hold): 7001 v4, 40 established
#                                      7002 v4, 25 established + 10 half-closed
#                                      7004 v6, 15 established + 3 half-closed
#                                      7003 configured, nothing there
#
# Passes if both daemons run as uid 65534 with CapEff/CapPrm/CapBnd all
# zero, log that they read from sock_diag, have no "failed" line in their
# log, and every read (at least UNPRIV_READS, default 4) has every state
# of every instance exact.
#
# Environment: BUILDDIR, SRCDIR, PLUGIN_SO (as the other daemon tests),
# UNPRIV_USER / UNPRIV_GROUP (nobody / nogroup), UNPRIV_READS (4),
# UNPRIV_EXPECT_EXTRA (self-check: added to the expected ESTABLISHED
# counts; 1 must fail), UNPRIV_KEEP=1.
# Exit: 0 pass, 1 fail, 77 skip (not root, collectd missing, no setpriv
# and util-linux not installable).
. "$(dirname "$0")/glue_lib.sh"
export LC_ALL=C
: "${SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
USR=${UNPRIV_USER:-nobody}
GRP=${UNPRIV_GROUP:-nogroup}
READS=${UNPRIV_READS:-4}
EXTRA=${UNPRIV_EXPECT_EXTRA:-0}
STATES=(ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSED
  CLOSE_WAIT LAST_ACK LISTEN CLOSING)

install_pkg() { # package: install it with apt-get, or fail quietly
  command -v apt-get >/dev/null || return 1
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "$1" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 &&
      apt-get install -y -q "$1" >/dev/null 2>&1; }
}
command -v setpriv >/dev/null || install_pkg util-linux ||
  { echo "SKIP: setpriv (util-linux) not installed and not installable"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: no setpriv"; exit 77; }
uid=$(id -u "$USR") || fail "no user $USR"
[ "$uid" != 0 ] || fail "UNPRIV_USER=$USR is root"
getent group "$GRP" >/dev/null || fail "no group $GRP"

ns=tcd-unpriv-$$
pids=()
hold_fd=
cleanup() {
  local p
  set +e # never stop half way: the namespace must go
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -n "$hold_fd" ] && eval "exec $hold_fd>&-"
  if [ -e "/run/netns/$ns" ]; then
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  fi
  wait 2>/dev/null
  if [ "${UNPRIV_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else cleanup_glue; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

CHURN=$BUILDDIR/tests/daemon/churn
if [ ! -x "$CHURN" ]; then
  CHURN=$WORK/churn
  ${CC:-cc} -std=c11 -Wall -Wextra -Werror -O2 -o "$CHURN" \
    "$SRCDIR/tests/daemon/churn.c" "$SRCDIR/tests/sockload.c" || fail "cannot build churn"
fi

ip netns add "$ns" || fail "cannot create a network namespace"
ip -n "$ns" link set lo up
ip netns exec "$ns" sysctl -q -w net.ipv4.ip_local_port_range="20000 60999" ||
  fail "cannot set the port range"
exec {hold_fd}> >(exec ip netns exec "$ns" "$CHURN" hold 7001:40 7002:25:10 \
  6/7004:15:3 >"$WORK/hold.out" 2>&1)
for _ in $(seq 100); do grep -q '^ready' "$WORK/hold.out" && break; sleep 0.1; done
grep -q '^ready 189$' "$WORK/hold.out" || fail "socket set: $(cat "$WORK/hold.out")"

# The daemon's files: the work dir is only traversable, the plugins and
# configs readable, and each daemon's own dir belongs to the user.
chmod 711 "$WORK"
chmod 755 "$WORK/plugins"
chmod 644 "$WORK"/plugins/*
conf() { # NAME BLOCK-LINES...
  local dir=$WORK/$1
  shift
  mkdir -p "$dir"
  chown "$USR:$GRP" "$dir"
  {
    cat <<CONF
Hostname "h"
FQDNLookup false
Interval 1
BaseDir "$dir"
PIDFile "$dir/collectd.pid"
PluginDir "$WORK/plugins"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "$dir/collectd.log"
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "$dir/csv"
</Plugin>
LoadPlugin tcpconns_diag
<Plugin tcpconns_diag>
CONF
    for line in "$@"; do printf '  %s\n' "$line"; done
    echo "</Plugin>"
  } >"$WORK/$(basename "$dir").conf"
  chmod 644 "$WORK/$(basename "$dir").conf"
}
ports=()
for p in 7001 7002 7003 7004; do ports+=("LocalPort \"$p\"" "RemotePort \"$p\""); done
conf filter 'ListeningPorts true' "${ports[@]}"
conf summary 'ListeningPorts true' 'AllPortsSummary true' "${ports[@]}"
names=(filter summary)
for d in "${names[@]}"; do
  ip netns exec "$ns" setpriv --reuid="$USR" --regid="$GRP" --clear-groups \
    --inh-caps=-all --ambient-caps=-all --bounding-set=-all --no-new-privs \
    collectd -f -C "$WORK/$d.conf" >"$WORK/$d.out" 2>&1 &
  pids+=($!)
done

# The daemons' credentials, once they run.
sleep 0.5
for i in "${!names[@]}"; do
  st=/proc/${pids[$i]}/status
  [ -f "$st" ] || fail "${names[$i]}: collectd did not start: $(cat "$WORK/${names[$i]}.out")"
  grep -q '^Name:.*collectd' "$st" || fail "${names[$i]}: pid ${pids[$i]} is not collectd"
  creds=$(awk '/^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):/ { $1 = $1; printf "%s ", $0 }' "$st")
  echo "${names[$i]}: $creds"
  awk -v u="$uid" '
    /^Uid:/ { for (i = 2; i <= 5; i++) if ($i != u) bad = 1 }
    /^(CapInh|CapPrm|CapEff|CapBnd|CapAmb):/ { if ($2 !~ /^0+$/) bad = 1 }
    /^Groups:/ { if (NF > 1) bad = 1 }
    END { exit bad }' "$st" || fail "${names[$i]}: not unprivileged: $creds"
done

# series NAME INSTANCE STATE: one value a line, one line a read.
series() {
  cat "$WORK/$1/csv/h/tcpconns-$2/tcp_connections-$3-"* 2>/dev/null |
    grep -v '^epoch' | cut -d, -f2 || true
}
for _ in $(seq 60); do
  n=$(series summary all LISTEN | wc -l)
  m=$(series filter 7001-local LISTEN | wc -l)
  [ "$n" -ge "$READS" ] && [ "$m" -ge "$READS" ] && break
  sleep 0.5
done
for i in "${!names[@]}"; do
  kill -0 "${pids[$i]}" 2>/dev/null || fail "${names[$i]}: collectd died: $(tail -5 "$WORK/${names[$i]}.out")"
done
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || fail "collectd exited $? after SIGTERM"; done
pids=()

# expect NAME INSTANCE STATE=VALUE...: every read, every state (those not
# named: 0).
expect() {
  local name=$1 inst=$2 spec s want bad rows
  shift 2
  rows=$(series "$name" "$inst" LISTEN | wc -l)
  [ "$rows" -ge "$READS" ] || fail "$name: $inst: $rows reads, expected $READS"
  for s in "${STATES[@]}"; do
    want=0
    for spec in "$@"; do [ "${spec%=*}" = "$s" ] && want=${spec#*=}; done
    bad=$(series "$name" "$inst" "$s" | awk -v w="$want" '$1 + 0 != w { print NR ": " $1 }' | head -3)
    [ -z "$bad" ] || fail "$name: $inst $s: expected $want in every read, got (read: value) $bad"
  done
}
for d in "${names[@]}"; do
  log=$WORK/$d/collectd.log
  grep -q 'tcpconns_diag plugin: reading from sock_diag' "$log" ||
    fail "$d: not reading from sock_diag: $(grep tcpconns_diag "$log" | head -3)"
  ! grep -qi failed "$log" || fail "$d: failures in the log: $(grep -i failed "$log" | head -3)"
  expect "$d" 7001-local LISTEN=1 ESTABLISHED=$((40 + EXTRA))
  expect "$d" 7001-remote ESTABLISHED=$((40 + EXTRA))
  expect "$d" 7002-local LISTEN=1 ESTABLISHED=$((25 + EXTRA)) CLOSE_WAIT=10
  expect "$d" 7002-remote ESTABLISHED=$((25 + EXTRA)) FIN_WAIT2=10
  expect "$d" 7004-local LISTEN=1 ESTABLISHED=$((15 + EXTRA)) CLOSE_WAIT=3
  expect "$d" 7004-remote ESTABLISHED=$((15 + EXTRA)) FIN_WAIT2=3
  expect "$d" 7003-local
  expect "$d" 7003-remote
  echo "ok - $d: $(series "$d" 7001-local LISTEN | wc -l) reads as $USR without capabilities, every value exact ($(grep -o 'reading from sock_diag[^:]*' "$log"))"
done
expect summary all LISTEN=3 ESTABLISHED=$((160 + 6 * EXTRA)) FIN_WAIT2=13 CLOSE_WAIT=13
echo "ok - summary: \"all\" exact in every read"
echo "2 passed, 0 failed"
