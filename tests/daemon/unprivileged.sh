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
# counts; 1 must fail), KEEP_WORK=1.
# Exit: 0 pass, 1 fail, 77 skip (not root, collectd missing, no setpriv
# and util-linux not installable).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
daemon_setup unpriv
need_cmd setpriv util-linux
USR=${UNPRIV_USER:-nobody}
GRP=${UNPRIV_GROUP:-nogroup}
READS=${UNPRIV_READS:-4}
EXTRA=${UNPRIV_EXPECT_EXTRA:-0}
read -r -a STATES <<<"$TCP_STATES"
uid=$(id -u "$USR") || fail "no user $USR"
[ "$uid" != 0 ] || fail "UNPRIV_USER=$USR is root"
getent group "$GRP" >/dev/null || fail "no group $GRP"

ns_new ns unpriv
ip netns exec "$ns" sysctl -q -w net.ipv4.ip_local_port_range="20000 60999" ||
  fail "cannot set the port range"
HOLD=(7001:40 7002:25:10 6/7004:15:3)
churn_start hold_fd "$ns" "$WORK/hold.out" hold "${HOLD[@]}"
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
  conf_write "$WORK/$(basename "$dir").conf" -d "$dir" -w csv -- "$@"
  chmod 644 "$WORK/$(basename "$dir").conf"
}
ports=()
for p in 7001 7002 7003 7004; do ports+=("LocalPort \"$p\"" "RemotePort \"$p\""); done
conf filter 'ListeningPorts true' "${ports[@]}"
conf summary 'ListeningPorts true' 'AllPortsSummary true' "${ports[@]}"
names=(filter summary)
pids=()
for d in "${names[@]}"; do
  ns_bg "$ns" "$WORK/$d.out" setpriv --reuid="$USR" --regid="$GRP" --clear-groups \
    --inh-caps=-all --ambient-caps=-all --bounding-set=-all --no-new-privs \
    "$COLLECTD" -f -C "$WORK/$d.conf"
  pids+=("$BG_PID")
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
series() { csv_values "$WORK/$1" "tcpconns-$2/tcp_connections-$3"; }
for _ in $(seq 60); do
  n=$(series summary all LISTEN | wc -l)
  m=$(series filter 7001-local LISTEN | wc -l)
  [ "$n" -ge "$READS" ] && [ "$m" -ge "$READS" ] && break
  sleep 0.5
done
for i in "${!names[@]}"; do
  kill -0 "${pids[$i]}" 2>/dev/null || fail "${names[$i]}: collectd died: $(tail -5 "$WORK/${names[$i]}.out")"
done
rcs=() # set by bg_term
bg_term rcs "${pids[@]}"
for rc in "${rcs[@]}"; do [ "$rc" = 0 ] || fail "collectd exited $rc after SIGTERM"; done

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
  # 7001: 40 established; 7002: 25 + 10 half-closed; 7004: 15 + 3 over
  # IPv6; 7003: nothing.
  while read -r inst values; do
    # shellcheck disable=SC2086 # values: STATE=N words
    expect "$d" "$inst" $values
  done < <(churn_held "$EXTRA" "${HOLD[@]}")
  expect "$d" 7003-local
  expect "$d" 7003-remote
  echo "ok - $d: $(series "$d" 7001-local LISTEN | wc -l) reads as $USR without capabilities, every value exact ($(grep -o 'reading from sock_diag[^:]*' "$log"))"
done
expect summary all LISTEN=3 ESTABLISHED=$((160 + 6 * EXTRA)) FIN_WAIT2=13 CLOSE_WAIT=13
echo "ok - summary: \"all\" exact in every read"
echo "2 passed, 0 failed"
