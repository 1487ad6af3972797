#!/bin/bash
# SPDX-License-Identifier: MIT
# Soak: collectd with the plugin at Interval 1 for SOAK_SECONDS in a
# private network namespace holding SOAK_SOCKETS sockets (default 100k,
# held by tests/daemon/churn worker processes), with some churn on top
# (tests/daemon/churn run: aborted and graceful closes, TIME_WAIT) and a
# listener that comes and goes every 20 s (filter rebuilt, slot freed).
# Two daemons: "filter" (listening ports + LocalPort/RemotePort: the
# kernel filter keeps part of the sockets, plus a <Namespace> block for a
# second namespace holding 1,000 connections on 8080) and "summary" (the
# same ports plus AllPortsSummary: every socket crosses into user space in
# every read).
#
# Every SOAK_SAMPLE seconds (default 5) it samples each daemon's RSS
# (VmRSS), open descriptors and sockets (/proc/PID/fd, the least of three
# looks 50 ms apart: collectd's csv and logfile writers hold a file open
# for a moment on each write) and CPU time. Passes if, for both daemons:
# after the warm-up (SOAK_WARMUP, default a quarter of the run, at most
# 60 s) RSS stays within SOAK_RSS_KIB (default 1024 KiB, i.e. 1 MiB) from
# its lowest to its highest sample and the descriptor and socket counts
# never change; no "failed" line in the log; the daemon lives until
# SIGTERM and exits 0; it read at least once per 1.5 s; and the static
# ports' counts are exact in every read.
#
# Environment: BUILDDIR, SRCDIR, PLUGIN_SO (as the other daemon tests),
# SOAK_SECONDS (600), SOAK_SOCKETS (100000), SOAK_SAMPLE (5),
# SOAK_WARMUP, SOAK_RSS_KIB (1024), KEEP_WORK=1 (keep the work directory
# and the samples, as a failure does), SOAK_EXPECT_EXTRA (self-check: added
# to the expected static ESTABLISHED count; 1 must fail).
# Exit: 0 pass, 1 fail, 77 skip (not root, collectd missing).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
daemon_setup soak
SECS=${SOAK_SECONDS:-600}
N=${SOAK_SOCKETS:-100000}
SAMPLE=${SOAK_SAMPLE:-5}
WARMUP=${SOAK_WARMUP:-$((SECS / 4 < 60 ? SECS / 4 : 60))}
RSS_KIB=${SOAK_RSS_KIB:-1024}
EXTRA=${SOAK_EXPECT_EXTRA:-0}

ns_new ns soak
inner='' run_fd='' rcs=() # set by ns_new, churn_start, bg_term
ns_new inner soak-inner
for n in "$ns" "$inner"; do
  ip netns exec "$n" sysctl -q -w net.ipv4.ip_local_port_range="20000 60999" \
    net.core.somaxconn=4096 || fail "cannot set sysctls"
done

# The static set: N sockets in all, two per connection plus 4 listeners:
# 40% of the connections on 80, 30% on 443, 20% over IPv6 on 8443, 10% on
# 9100 (a tenth of those half-closed).
c=$(((N - 4) / 2))
c80=$((c * 4 / 10)); c443=$((c * 3 / 10)); c8443=$((c * 2 / 10))
c9100=$((c - c80 - c443 - c8443)); h9100=$((c9100 / 10)); e9100=$((c9100 - h9100))
held=$((4 + 2 * c))
t0=$(date +%s.%N)
churn_start hold_fd "$ns" "$WORK/hold.out" hold 80:$c80 443:$c443 6/8443:$c8443 9100:$e9100:$h9100
grep -q "^ready $held\$" "$WORK/hold.out" || fail "static set: $(cat "$WORK/hold.out"), expected $held"
echo "static set: $held sockets in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
# Churn on top: 500 aborted + 100 graceful connections a second.
churn_start inner_fd "$inner" "$WORK/inner.out" hold 8080:1000
churn_start run_fd "$ns" "$WORK/run.out" run -k 32 -r 500 -g 100 -d 20 5001 5004:g

block=('ListeningPorts true' 'LocalPort "80"' 'RemotePort "80"' 'LocalPort "8443"'
  'RemotePort "8443"' 'LocalPort "9100"' 'RemotePort "9100"' 'RemotePort "5004"')
mkdir -p "$WORK/filter" "$WORK/summary"
conf_write "$WORK/filter/collectd.conf" -w csv -- "${block[@]}" '<Namespace "inner">' \
  "  Path \"/var/run/netns/$inner\"" '  LocalPort "8080"' '</Namespace>'
conf_write "$WORK/summary/collectd.conf" -w csv -- "${block[@]}" 'AllPortsSummary true'
names=(filter summary)
pids=()
for d in "${names[@]}"; do
  ns_bg "$ns" "$WORK/$d/out.txt" "$COLLECTD" -f -C "$WORK/$d/collectd.conf"
  pids+=("$BG_PID")
done

# The listener that comes and goes: 20 s on, 20 s off (it ends at EOF on
# its stdin, a pipe from this script).
dyn=
toggle_listener() {
  if [ -n "$dyn" ]; then
    fd_close "$dyn"
    dyn=
  else
    exec {dyn}> >(exec ip netns exec "$ns" "$CHURN" hold 9200:3 >/dev/null 2>&1)
  fi
}

clk() { awk '{ print $1 }' /proc/uptime; }
hz=$(getconf CLK_TCK)
# fds PID: "descriptors sockets", each the least of three looks 50 ms
# apart: collectd's csv and logfile writers open a file for a moment on
# every write, which is not what this test is after; a descriptor the
# plugin leaks stays.
fds() {
  local k n s fd nmin='' smin=''
  for k in 1 2 3; do
    n=0 s=0
    for fd in /proc/"$1"/fd/*; do
      n=$((n + 1))
      case $(readlink "$fd" 2>/dev/null) in socket:*) s=$((s + 1)) ;; esac
    done
    if [ -z "$nmin" ] || [ "$n" -lt "$nmin" ]; then nmin=$n; fi
    if [ -z "$smin" ] || [ "$s" -lt "$smin" ]; then smin=$s; fi
    [ "$k" = 3 ] || sleep 0.05
  done
  echo "$nmin $smin"
}
# sample: one line per daemon: t name rss_kib fds cpu_s sockets
sample() {
  local now i pid rss nfd nsock cpu
  now=$(clk)
  for i in "${!names[@]}"; do
    pid=${pids[$i]}
    [ -d "/proc/$pid" ] || fail "${names[$i]}: collectd died: $(tail -5 "$WORK/${names[$i]}/out.txt")"
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    read -r nfd nsock <<<"$(fds "$pid")"
    cpu=$(awk -v hz="$hz" '{ print ($14 + $15) / hz }' "/proc/$pid/stat")
    printf '%s %s %s %s %s %s\n' "$(awk -v a="$now" -v b="$start" 'BEGIN { printf "%.1f", a - b }')" \
      "${names[$i]}" "$rss" "$nfd" "$cpu" "$nsock" >>"$WORK/samples"
  done
}

start=$(clk)
echo "soaking ${SECS}s: $held static sockets + churn, samples every ${SAMPLE}s, warm-up ${WARMUP}s"
next_toggle=20
next_report=60
: >"$WORK/samples"
while :; do
  el=$(awk -v a="$(clk)" -v b="$start" 'BEGIN { printf "%d", a - b }')
  [ "$el" -ge "$SECS" ] && break
  sample
  if [ "$el" -ge "$next_toggle" ]; then
    toggle_listener
    next_toggle=$((next_toggle + 20))
  fi
  if [ "$el" -ge "$next_report" ]; then
    tail -2 "$WORK/samples" | awk '{ printf "  t=%5ss %-7s RSS %6d KiB, %d fds (%d sockets), CPU %.1f s\n", $1, $2, $3, $4, $6, $5 }'
    next_report=$((next_report + 60))
  fi
  sleep "$SAMPLE"
done
sample
if [ -n "$dyn" ]; then toggle_listener; fi

bg_term rcs "${pids[@]}"

# series DIR INSTANCE STATE: one value a line, one line a read.
series() { csv_values "$1" "tcpconns-$2/tcp_connections-$3"; }
# expect_exact DIR INSTANCE STATE=VALUE...: every read, every named state.
expect_exact() {
  local dir=$1 inst=$2 spec state want bad
  shift 2
  for spec in "$@"; do
    state=${spec%=*} want=${spec#*=}
    bad=$(series "$dir" "$inst" "$state" | awk -v w="$want" '$1 + 0 != w { print NR ": " $1 }' | head -3)
    [ -z "$bad" ] || fail "$(basename "$dir"): $inst $state: expected $want in every read, got (read: value) $bad"
  done
}

status=0
echo "== figures (after a ${WARMUP}s warm-up; $(wc -l <"$WORK/samples") samples)"
for i in "${!names[@]}"; do
  d=${names[$i]}
  out=$(awk -v n="$d" -v w="$WARMUP" -v secs="$SECS" '
    $2 == n && $1 >= w {
      k++
      if (k == 1) { r0 = $3; f0 = $4; c0 = $5; t0 = $1; rmin = rmax = $3; fmin = fmax = $4; smin = smax = $6 }
      if ($3 < rmin) rmin = $3; if ($3 > rmax) rmax = $3
      if ($4 < fmin) fmin = $4; if ($4 > fmax) fmax = $4
      if ($6 < smin) smin = $6; if ($6 > smax) smax = $6
      r1 = $3; c1 = $5; t1 = $1
    }
    END {
      printf "%d %d %d %d %d %d %d %.2f %d %d", rmin, rmax, r0, r1, fmin, fmax, k,
        (t1 > t0 ? (c1 - c0) / (t1 - t0) * 100 : 0), smin, smax
    }' "$WORK/samples")
  read -r rmin rmax r0 r1 fmin fmax k cpu smin smax <<<"$out"
  [ "$k" -ge 2 ] || fail "$d: only $k samples after the warm-up"
  reads=$(series "$WORK/$d" 80-local LISTEN | wc -l)
  printf '%-7s RSS %d -> %d KiB (min %d, max %d, spread %d KiB); fds %d..%d (sockets %d..%d); CPU %.2f%% of one core; %d reads in %ds; exit %s\n' \
    "$d" "$r0" "$r1" "$rmin" "$rmax" $((rmax - rmin)) "$fmin" "$fmax" "$smin" "$smax" "$cpu" "$reads" "$SECS" "${rcs[$i]}"
  if [ $((rmax - rmin)) -gt "$RSS_KIB" ]; then
    echo "FAIL: $d: RSS moved by $((rmax - rmin)) KiB after the warm-up (limit $RSS_KIB KiB)"
    status=1
  fi
  if [ "$fmin" != "$fmax" ] || [ "$smin" != "$smax" ]; then
    echo "FAIL: $d: descriptors moved between $fmin and $fmax (sockets $smin and $smax)"
    status=1
  fi
  [ "${rcs[$i]}" = 0 ] || { echo "FAIL: $d: exit status ${rcs[$i]} after SIGTERM"; status=1; }
  if grep -qi failed "$WORK/$d/collectd.log"; then
    echo "FAIL: $d: the log has failures: $(grep -i failed "$WORK/$d/collectd.log" | head -3)"
    status=1
  fi
  [ "$reads" -ge $((SECS * 2 / 3)) ] || { echo "FAIL: $d: $reads reads in ${SECS}s"; status=1; }
  expect_exact "$WORK/$d" 80-local LISTEN=1 ESTABLISHED=$((c80 + EXTRA))
  expect_exact "$WORK/$d" 80-remote ESTABLISHED=$((c80 + EXTRA))
  expect_exact "$WORK/$d" 8443-local LISTEN=1 ESTABLISHED=$((c8443 + EXTRA))
  expect_exact "$WORK/$d" 9100-local LISTEN=1 ESTABLISHED=$((e9100 + EXTRA)) CLOSE_WAIT=$h9100
  expect_exact "$WORK/$d" 9100-remote ESTABLISHED=$((e9100 + EXTRA)) FIN_WAIT2=$h9100
  expect_exact "$WORK/$d" 443-local LISTEN=1 ESTABLISHED=$((c443 + EXTRA))
done
expect_exact "$WORK/filter" inner-8080-local LISTEN=1 ESTABLISHED=$((1000 + EXTRA))
fd_close "$run_fd" # the churn prints its counts at EOF
for _ in $(seq 50); do grep -q '^total' "$WORK/run.out" && break; sleep 0.1; done
echo "churn: $(grep '^total' "$WORK/run.out" || echo '(no report)')"
[ "$status" = 0 ] || fail "soak failed (the samples are in the work directory)"
echo "ok - ${SECS}s at Interval 1 with $held sockets: RSS and descriptors flat, static counts exact"
echo "1 passed, 0 failed"
