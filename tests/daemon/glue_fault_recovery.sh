#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 9's scenario through the real daemon: a new listener appears while
# every second netlink recvmsg fails with ENOBUFS (the first buffer of a
# dump arrives, the rest fails), and it accepts 5 connections. The first
# read that succeeds after the faults must count them: a failed listener
# dump must not leave a kernel filter that leaves the new port out.
# The faults are real: strace makes the kernel's recvmsg fail.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
daemon_setup fault
need_cmd strace
need_cmd python3
show_on_fail "$WORK/collectd.log"
port=61300

ns_new ns fault
# Default block (listening ports); collectd's back-off capped at 2 s.
conf_write "$WORK/c.conf" -w csv -e 'MaxReadInterval 2'
# With no listener, read 1 makes 2 recvmsg calls (the probe's and the
# listener dump's NLMSG_DONE) and reads 2 to 5 one each: 6 calls. The
# listener opens before read 6, whose listener dump then takes call 7 (the
# new listener) and fails at call 8; calls 8, 10, ..., 18 fail, so most
# reads until then fail half way, after seeing the new port listen. Every
# read that succeeds, in the window or after it, must count right.
ns_bg "$ns" "$WORK/out.txt" strace -f -qq -o "$WORK/strace.txt" \
  -e trace=recvmsg -e inject=recvmsg:error=ENOBUFS:when=8..18+2 \
  "$COLLECTD" -f -C "$WORK/c.conf"
pid=$BG_PID
calls() { grep -c 'recvmsg(' "$WORK/strace.txt" 2>/dev/null || echo 0; }
six_calls() { [ "$(calls)" -ge 6 ]; }
wait_for 10 six_calls || fail "collectd made $(calls) recvmsg calls in 10 s"
[ "$(calls)" = 6 ] || fail "expected 6 recvmsg calls before the listener, saw $(calls)"
ns_bg "$ns" "$WORK/holder.out" python3 -c "
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen()
c = [socket.create_connection(('127.0.0.1', $port)) for _ in range(5)]
a = [s.accept() for _ in range(5)]
time.sleep(60)"
# The last fault is call 18; each read after it takes 4 calls (the
# listener and NLMSG_DONE, the connections and NLMSG_DONE): two of them.
past_faults() { [ "$(calls)" -ge 26 ]; }
wait_for 60 past_faults || fail "collectd made only $(calls) recvmsg calls"
grep -q 'reading works again' "$WORK/collectd.log" || fail "no recovery logged"
# Stop collectd itself (strace's child); strace exits with its tracee.
pkill -TERM -P "$pid" collectd || fail "collectd is not running"
wait "$pid" 2>/dev/null || true

failed=$(grep -c 'recvmsg(.*= -1 ENOBUFS' "$WORK/strace.txt" || true)
[ "$failed" = 6 ] || fail "$failed recvmsg calls failed, expected 6"
est=$(csv_values "$WORK" "tcpconns-$port-local/tcp_connections-ESTABLISHED" | tr '\n' ' ')
lis=$(csv_values "$WORK" "tcpconns-$port-local/tcp_connections-LISTEN" | tr '\n' ' ')
[ -n "$est" ] || fail "no values for $port-local"
for v in $est; do
  [ "$v" = 5.000000 ] || fail "$port-local ESTABLISHED after the faults: $est (ss counts 5); LISTEN: $lis"
done
log "ok - $failed recvmsg calls failed; every read after them counted $port-local ESTABLISHED=5 ($est)"
log "1 passed, 0 failed"
