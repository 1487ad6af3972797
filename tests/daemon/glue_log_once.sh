#!/bin/bash
# SPDX-License-Identifier: MIT
# A netlink failure on consecutive reads is logged once, the reads fail (so
# collectd backs off), and the first read after the fault gives values
# again. The fault is real: strace makes the kernel's sendmsg fail.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
daemon_setup glue
need_cmd strace
need_cmd python3
show_on_fail "$WORK/collectd.log"

ns_new ns glue
ns_bg "$ns" "$WORK/holder.out" python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 61234)); s.listen()
print("ready", flush=True)
time.sleep(60)'
wait_for 30 grep -q '^ready' "$WORK/holder.out" || fail "socket holder: $(cat "$WORK/holder.out")"

conf_write "$WORK/c.conf" -w csv # default block: listening ports
# libmnl sends with sendto(2). Read 1 sends 3 requests (probe, listeners,
# connections); the 4th and 5th (reads 2 and 3) fail; read 4 (after collectd's 2 s + 4 s back-off)
# works.
ns_bg "$ns" "$WORK/out.txt" strace -f -qq -o /dev/null -e trace=sendto \
  -e inject=sendto:error=ENOBUFS:when=4..5 \
  "$COLLECTD" -f -C "$WORK/c.conf"
pid=$BG_PID
for _ in $(seq 1 30); do
  grep -q 'reading works again' "$WORK/collectd.log" 2>/dev/null && break
  sleep 0.5
done
sleep 1.5
# Stop collectd itself (strace's child; -f writes no PID file); strace
# exits with its tracee.
pkill -TERM -P "$pid" collectd || fail "collectd is not running: $(tail -n 5 "$WORK/out.txt")"
wait "$pid" 2>/dev/null || true

errors=$(grep -c 'tcpconns_diag plugin: sock_diag dump failed: No buffer space available' "$WORK/collectd.log" || true)
[ "$errors" = 1 ] || fail "error logged $errors times, expected once"
backoffs=$(grep -c "read-function of plugin \`tcpconns_diag' failed" "$WORK/collectd.log" || true)
[ "$backoffs" -ge 2 ] || fail "collectd saw $backoffs failed reads, expected 2"
grep -q 'tcpconns_diag plugin: reading works again' "$WORK/collectd.log" ||
  fail "no recovery logged"
file=$(ls "$WORK"/csv/h/tcpconns-61234-local/tcp_connections-LISTEN-* 2>/dev/null | head -1 || true)
[ -n "$file" ] || fail "no values for 61234-local"
rows=$(grep -c ',1.000000$' "$file" || true)
[ "$rows" -ge 2 ] || fail "expected LISTEN=1 before and after the fault, got $rows rows: $(cat "$file")"
echo "ok - one error line for $backoffs failed reads, values before and after"
echo "1 passed, 0 failed"
