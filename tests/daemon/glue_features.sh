#!/bin/bash
# SPDX-License-Identifier: MIT
# The options beyond upstream, through the real daemon on real sockets in
# private namespaces: States, a port range, ReportAcceptQueue, ReportSelf,
# and <Namespace> blocks (values named after the namespace; a namespace
# that disappears is reported once, its socket closed, and picked up
# again when it comes back).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
daemon_setup glue
need_cmd python3
show_on_fail "$WORK/collectd.log"

top='' inner='' # set by ns_new
ns_new top feat
ns_new inner inner

# hold NETNS PY: runs a python socket holder in NETNS until the test ends;
# it prints "ready" to $WORK/hold.N once its sockets are there.
holders=0
hold() {
  holders=$((holders + 1))
  ns_bg "$1" "$WORK/hold.$holders" python3 -c "
import socket, time
$2
print('ready', flush=True)
time.sleep(120)"
}
# 62500: a listener (backlog 5) that never accepts, 3 connections waiting.
hold "$top" '
l = socket.socket(); l.bind(("127.0.0.1", 62500)); l.listen(5)
c = [socket.create_connection(("127.0.0.1", 62500)) for _ in range(3)]'
# 62050 (inside the range 62000-62100): one accepted connection.
hold "$top" '
l = socket.socket(); l.bind(("127.0.0.1", 62050)); l.listen()
c = socket.create_connection(("127.0.0.1", 62050)); s = l.accept()'
# Inside the other namespace: 8080 with two accepted connections.
hold "$inner" '
l = socket.socket(); l.bind(("127.0.0.1", 8080)); l.listen()
c = [socket.create_connection(("127.0.0.1", 8080)) for _ in range(2)]
s = [l.accept() for _ in range(2)]'
holders_ready() {
  local i
  for ((i = 1; i <= holders; i++)); do grep -q '^ready' "$WORK/hold.$i" || return 1; done
}
wait_for 30 holders_ready || fail "socket holders: $(cat "$WORK"/hold.*)"

conf_write "$WORK/c.conf" -w csv -- \
  'LocalPort "62500"' 'LocalPort "62000-62100"' \
  'States "ESTABLISHED" "LISTEN"' 'ReportAcceptQueue true' 'ReportSelf true' \
  '<Namespace "inner">' "  Path \"/var/run/netns/$inner\"" \
  '  LocalPort "8080"' '</Namespace>'
ns_bg "$top" "$WORK/out.txt" "$COLLECTD" -f -C "$WORK/c.conf"
cpid=$BG_PID
sleep 3.5

csv="$WORK/csv/h"
last() { # identifier -> last value (integer part)
  local f
  f=$(ls "$csv/$1"-* 2>/dev/null | head -1 || true)
  [ -n "$f" ] || { echo missing; return; }
  tail -1 "$f" | cut -d, -f2 | cut -d. -f1
}
expect() { # identifier value
  local got
  got=$(last "$1")
  [ "$got" = "$2" ] || fail "$1 = $got, expected $2"
  echo "ok - $1 = $2"
}
expect tcpconns-62500-local/tcp_connections-ESTABLISHED 3
expect tcpconns-62500-local/tcp_connections-LISTEN 1
expect tcpconns-62500-local/queue_length-accept 3
expect tcpconns-62500-local/queue_length-backlog 5
expect tcpconns-62000-62100-local/tcp_connections-ESTABLISHED 1
expect tcpconns-62000-62100-local/tcp_connections-LISTEN 1
expect tcpconns-inner-8080-local/tcp_connections-ESTABLISHED 2
expect tcpconns-inner-8080-local/tcp_connections-CLOSE_WAIT 0
# 2 listeners + 3 + 1 server-side sockets: the clients stay in the kernel.
expect tcpconns-self/count-sockets 6
# States: only the two asked for are dispatched.
n=$(find "$csv/tcpconns-62500-local/" -name 'tcp_connections*' | wc -l)
[ "$n" = 2 ] || fail "62500-local has $n state files, expected 2"
echo "ok - only ESTABLISHED and LISTEN dispatched"
[ "$(last tcpconns-self/duration-read)" != missing ] || fail "no self/duration-read"

# The namespace goes away: logged once, its socket closed, no values.
socket_fds() { # sockets the daemon holds
  local n=0
  for fd in /proc/"$cpid"/fd/*; do
    case $(readlink "$fd" 2>/dev/null) in socket:*) n=$((n + 1)) ;; esac
  done
  echo "$n"
}
socks_before=$(socket_fds)
ip netns del "$inner"
sleep 2.5
# The socket would keep the dead namespace alive: it must be closed.
socks_after=$(socket_fds)
[ "$socks_after" = $((socks_before - 1)) ] ||
  fail "daemon held $socks_before sockets, then $socks_after after the namespace went"
grep -q "<Namespace \"inner\">: /var/run/netns/$inner is gone" "$WORK/collectd.log" ||
  fail "namespace removal not logged"
gone=$(grep -c 'is gone' "$WORK/collectd.log")
[ "$gone" = 1 ] || fail "removal logged $gone times"
before=$(wc -l <"$(ls "$csv"/tcpconns-inner-8080-local/tcp_connections-ESTABLISHED-*)")
sleep 2
after=$(wc -l <"$(ls "$csv"/tcpconns-inner-8080-local/tcp_connections-ESTABLISHED-*)")
[ "$before" = "$after" ] || fail "values for a namespace that is gone"
echo "ok - a namespace that disappears is logged once and not reported"

# It comes back (a new, empty one under the same name): picked up.
ip netns add "$inner"
sleep 2.5
grep -q "<Namespace \"inner\">: /var/run/netns/$inner is back" "$WORK/collectd.log" ||
  fail "namespace return not logged"
expect tcpconns-inner-8080-local/tcp_connections-ESTABLISHED 0
kill "$cpid" || fail "collectd died: $(tail -n 5 "$WORK/out.txt")"
wait "$cpid" 2>/dev/null || true
if grep -q 'tcpconns_diag.*\(ERROR\|failed\)' "$WORK/collectd.log"; then
  fail "errors in the log"
fi
echo "1 passed, 0 failed"
