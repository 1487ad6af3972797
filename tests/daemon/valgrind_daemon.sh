#!/bin/bash
# SPDX-License-Identifier: MIT
# The real daemon (collectd -f, Interval 1) with the plugin under
# valgrind --leak-check=full, for several reads, in a private network
# namespace holding a known socket set; stopped with SIGTERM (so the
# plugin's shutdown runs). Three runs: the default block (listening
# ports); AllPortsSummary + ListeningPorts + LocalPort + RemotePort; and
# the options beyond upstream (a port range, States, ReportAcceptQueue,
# ReportSelf, a <Namespace> block whose namespace disappears and comes back
# during the run).
#
# Passes if, for both runs: valgrind reports no error (invalid access,
# uninitialised value, bad free...), no block left at exit whose
# allocation stack has a frame of the plugin (the module in this test's
# PluginDir, or a function of one of the plugin's sources, src/*.c: named
# by file, so that renamed functions still count; but not module_register,
# whose registrations collectd allocates and keeps to the end)
# -- definitely or indirectly lost, and also possibly lost or still
# reachable: the plugin keeps its state in a static struct, so memory its
# shutdown forgets to free is "still reachable", never "definitely lost"
# (collectd's own blocks are counted and printed but do not count), the
# daemon read at least VG_READS times and every read's values are exact.
#
# Environment: BUILDDIR, PLUGIN_SO (as the other daemon tests), VG_READS
# (default 6), VG_EXPECT_EXTRA (self-check: added to every expected
# ESTABLISHED count, so e.g. 1 must fail), KEEP_WORK=1 (keep the work dir).
# Exit: 0 pass, 1 fail, 77 skip (not root; collectd or valgrind missing
# and not installable).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
daemon_setup vg
need_cmd valgrind
need_cmd python3
show_on_fail "$WORK/collectd.log"
READS=${VG_READS:-6}
EXTRA=${VG_EXPECT_EXTRA:-0}
# The plugin's source files, as valgrind names them in a frame:
# "by 0x...: function (file.c:LINE)"; an alternation for awk.
PLUGIN_SOURCES=$(cd "$SRCDIR/src" && ls -- *.c | sed 's/[.]/[.]/' | paste -sd'|')
[ -n "$PLUGIN_SOURCES" ] || fail "no sources in $SRCDIR/src"

ns_new ns vg

# The set: 127.0.0.1:61234 listening with 3 established connections (3
# server sockets with local port 61234, 3 clients with remote port 61234),
# [::1]:61235 listening (v6only) with 1 connection; 127.0.0.1:61236
# listening 1.5 s out of every 3 s (not checked: it only makes the reads
# rebuild the filter and free a slot).
ns_bg "$ns" "$WORK/holder.out" python3 -c '
import socket, sys, time
keep = []
l = socket.socket(); l.bind(("127.0.0.1", 61234)); l.listen(16); keep.append(l)
for _ in range(3):
    c = socket.create_connection(("127.0.0.1", 61234)); s, _ = l.accept()
    keep += [c, s]
l6 = socket.socket(socket.AF_INET6)
l6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
l6.bind(("::1", 61235)); l6.listen(16); keep.append(l6)
c = socket.create_connection(("::1", 61235)); s, _ = l6.accept(); keep += [c, s]
print("ready", flush=True)
# A listener that comes and goes, so the reads also rebuild the filter and
# drop a slot: more of the plugin runs under valgrind.
while True:
    time.sleep(1.5)
    d = socket.socket(); d.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    d.bind(("127.0.0.1", 61236)); d.listen(1)
    time.sleep(1.5)
    d.close()'
for _ in $(seq 50); do grep -q ready "$WORK/holder.out" && break; sleep 0.1; done
grep -q ready "$WORK/holder.out" || fail "socket holder: $(cat "$WORK/holder.out")"
# The other namespace: 8080 with 2 connections.
inner= # set by ns_new
ns_new inner vg-inner
ns_bg "$inner" "$WORK/holder2.out" python3 -c '
import socket, time
l = socket.socket(); l.bind(("127.0.0.1", 8080)); l.listen()
c = [socket.create_connection(("127.0.0.1", 8080)) for _ in range(2)]
s = [l.accept() for _ in range(2)]
print("ready", flush=True)
time.sleep(600)'
for _ in $(seq 50); do grep -q ready "$WORK/holder2.out" && break; sleep 0.1; done
grep -q ready "$WORK/holder2.out" || fail "socket holder: $(cat "$WORK/holder2.out")"

# values FILE: the values of a csv file, one a line (header skipped).
values() { grep -v '^epoch' "$1" | cut -d, -f2 || true; }

# expect NAME INSTANCE STATE VALUE[|VALUE]: every read wrote VALUE (one
# of them).
expect() {
  local run=$1 inst=$2 state=$3 want=$4 f bad
  f=$(ls "$WORK/csv/h/tcpconns-$inst/tcp_connections-$state-"* 2>/dev/null | head -1 || true)
  [ -n "$f" ] || fail "$run: no values for $inst $state"
  bad=$(values "$f" | awk -v w="$want" '
    BEGIN { n = split(w, ok, "|") }
    { for (i = 1; i <= n; i++) if ($1 + 0 == ok[i]) next; print }' | head -3)
  [ -z "$bad" ] || fail "$run: $inst $state: got $(values "$f" | tr '\n' ' '), expected $want in every read"
}

# vg_run NAME BLOCK-LINES...: collectd under valgrind until READS reads
# are written, then SIGTERM, then the checks.
vg_run() {
  local run=$1 f rows rc errors leaks want=${RUN_READS:-$READS}
  shift
  rm -rf "$WORK/csv" "$WORK/collectd.log"
  conf_write "$WORK/$run.conf" -w csv -- "$@"
  ns_bg "$ns" "$WORK/$run.out" valgrind --leak-check=full \
    --show-leak-kinds=all --errors-for-leak-kinds=none \
    --error-exitcode=99 --num-callers=40 --track-fds=no \
    --log-file="$WORK/vg.$run.log" \
    "$COLLECTD" -f -C "$WORK/$run.conf"
  pid=$BG_PID
  # Reads: rows in one value file every read writes.
  f=
  for _ in $(seq 120); do
    f=$(ls "$WORK"/csv/h/tcpconns-61234-local/tcp_connections-LISTEN-* 2>/dev/null | head -1 || true)
    if [ -n "$f" ]; then
      rows=$(values "$f" | wc -l || true)
      [ "$rows" -ge "$want" ] && break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -TERM "$pid" 2>/dev/null ||
    fail "$run: collectd ended before SIGTERM: $(tail -5 "$WORK/$run.out")"
  rc=0
  wait "$pid" || rc=$?
  [ -f "$WORK/vg.$run.log" ] || fail "$run: no valgrind log ($(tail -5 "$WORK/$run.out"))"
  grep -q 'ERROR SUMMARY' "$WORK/vg.$run.log" ||
    fail "$run: valgrind did not finish: $(tail -5 "$WORK/vg.$run.log")"
  rows=0
  [ -n "$f" ] && rows=$(values "$f" | wc -l || true)
  [ "$rows" -ge "$want" ] || fail "$run: $rows reads in 60 s, expected $want"
  grep -q "read-function of plugin .tcpconns_diag' failed" "$WORK/collectd.log" &&
    fail "$run: a read failed"
  errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$WORK/vg.$run.log" | tail -1)
  # Leak records: blank-line separated blocks starting with "... are
  # definitely/indirectly/possibly lost" or "are still reachable"; ours if
  # a frame names the plugin, unless collectd made it for its own tables
  # of registered callbacks (cf_register_complex, plugin_register_*: the
  # plugin's module_register() calls them; collectd keeps them to exit).
  leaks=$(awk -v so="$WORK/plugins/tcpconns_diag.so" -v srcs="$PLUGIN_SOURCES" '
    /^==[0-9]+== *$/ { if (rec != "" && ours && !collectd) print rec; rec = ""; ours = 0; collectd = 0; inrec = 0; next }
    /are (definitely|indirectly|possibly) lost|are still reachable/ { inrec = 1 }
    inrec {
      rec = rec "\n" $0
      if (index($0, so) || $0 ~ "(at|by) 0x[0-9A-F]+: [^ ]+ \\((" srcs "):[0-9]+\\)") ours = 1
      if ($0 ~ /(at|by) 0x[0-9A-F]+: (cf_register_complex|plugin_register_[a-z_]+) /) collectd = 1
    }
    END { if (rec != "" && ours && !collectd) print rec }' "$WORK/vg.$run.log")
  lost=$(grep -cE 'are (definitely|indirectly) lost' "$WORK/vg.$run.log" || true)
  left=$(grep -cE 'are (possibly lost|still reachable)' "$WORK/vg.$run.log" || true)
  echo "$run: $rows reads, valgrind exit $rc, $errors errors; blocks left at exit:" \
    "$lost lost + $left reachable/possibly lost record(s), $( [ -n "$leaks" ] && echo "SOME" || echo "none") from the plugin"
  [ "$errors" = 0 ] && [ "$rc" != 99 ] ||
    fail "$run: valgrind reports $errors error(s):
$(grep -A12 -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and)' "$WORK/vg.$run.log" | head -60 | sed 's/^/  /')"
  [ -z "$leaks" ] || fail "$run: the plugin leaves memory behind:$(printf '%s\n' "$leaks" | head -60 | sed 's/^/  /')"
}

vg_run default
expect default 61234-local LISTEN 1
expect default 61234-local ESTABLISHED $((3 + EXTRA))
expect default 61235-local LISTEN 1
expect default 61235-local ESTABLISHED $((1 + EXTRA))
echo "ok - default block: exact values in every read, no valgrind error, no plugin leak"

vg_run ports 'AllPortsSummary true' 'ListeningPorts true' 'LocalPort "61234"' \
  'RemotePort "61234"' 'LocalPort "61299"'
expect ports all LISTEN '2|3' # 3 while 61236 listens
expect ports all ESTABLISHED $((8 + EXTRA))
expect ports 61234-local ESTABLISHED $((3 + EXTRA))
expect ports 61234-remote ESTABLISHED $((3 + EXTRA))
expect ports 61235-local LISTEN 1
expect ports 61299-local ESTABLISHED $((0 + EXTRA))
echo "ok - AllPortsSummary + ports block: exact values in every read, no valgrind error, no plugin leak"

# The options beyond upstream. While it runs, the other namespace goes
# away (the plugin logs it, closes its socket) and a new one comes back
# under the same name (picked up again).
(
  sleep 4
  ip netns del "$inner"
  sleep 3
  ip netns add "$inner"
) &
mover=$!
bg_track "$mover"
RUN_READS=$((READS + 5)) vg_run features 'LocalPort "61230-61239"' 'LocalPort "61234"' \
  'States "ESTABLISHED" "LISTEN"' 'ReportAcceptQueue true' 'ReportSelf true' \
  '<Namespace "inner">' "  Path \"/var/run/netns/$inner\"" '  LocalPort "8080"' \
  '</Namespace>'
wait "$mover" 2>/dev/null || true
expect features 61234-local ESTABLISHED $((3 + EXTRA))
expect features 61234-local LISTEN 1
expect features 61230-61239-local ESTABLISHED $((4 + EXTRA))
expect features 61230-61239-local LISTEN '2|3'
for id in tcpconns-61234-local/queue_length-accept tcpconns-self/count-sockets \
  tcpconns-inner-8080-local/tcp_connections-ESTABLISHED; do
  ls "$WORK/csv/h/$id"-* >/dev/null 2>&1 || fail "features: no values for $id"
done
ls "$WORK"/csv/h/tcpconns-61234-local/tcp_connections-TIME_WAIT-* >/dev/null 2>&1 &&
  fail "features: TIME_WAIT dispatched although States leaves it out"
grep -q "is gone" "$WORK/collectd.log" || fail "features: the namespace's removal was not seen"
grep -q "is back" "$WORK/collectd.log" || fail "features: the namespace's return was not seen"
echo "ok - range, States, accept queue, ReportSelf, a namespace gone and back: no valgrind error, no plugin leak"
echo "3 passed, 0 failed"
