#!/bin/bash
# SPDX-License-Identifier: MIT
# Churn: in a private network namespace, tests/daemon/churn opens and
# closes thousands of connections per second on some ports while other
# ports hold a static set, and two collectd daemons read at Interval 1 for
# CHURN_SECONDS: one with port blocks (the kernel filter), one with
# AllPortsSummary too (no filter, every socket dumped).
#
#   static (churn hold): 7001 v4, 50 established
#                        7002 v4, 100 established + 20 half-closed
#                        7004 v6, 30 established + 5 half-closed
#                        7003 configured, nothing there
#   churn (churn run):   5001 5002 5003 aborted closes, CHURN_RATE conn/s
#                        each; 5004 graceful closes, CHURN_GRATE conn/s
#                        (FIN_WAIT*, CLOSE_WAIT, LAST_ACK, TIME_WAIT);
#                        batches of CHURN_BATCH connections held open
#                        CHURN_DWELL ms each
#
# Asserts: no "failed" line in either log, both daemons alive until
# SIGTERM and exit cleanly, at least CHURN_SECONDS - 3 reads each, and in
# every read (csv):
#   - the static ports: every state of N-local and N-remote exact;
#   - LISTEN of every port exact (churn listeners never move), and "all"
#     LISTEN exact (7);
#   - churn ports, what the generator can produce (see churn.c): for 5001
#     to 5003 all states together at most BATCH (CHURN_BATCH, 64) on each
#     side besides the listener; for 5004 ESTABLISHED + SYN_SENT + SYN_RECV
#     at most BATCH a side and the closing states at most G (the graceful
#     closes made in the whole run) a side;
#   - "all": every state at least the static set's count, and the excess
#     at most what all churn ports can hold (4 * 2 * BATCH + 2 * G).
# A sock_diag dump is not a snapshot (README, "Counts while sockets
# move"): the kernel resumes each 32 KiB batch by bucket and position in
# the bucket, so a socket inserted or removed ahead of that position while
# our recvmsg runs shifts the chain and the next socket is seen twice or
# missed. CHURN_SLACK (default 2) sockets are therefore allowed above the
# churn bounds; the maximum seen and how many reads went above the bound
# itself are printed (observed here: +1, in at most a few reads in 1,000
# per port). The static ports are asserted exact: they share hash chains with
# churning sockets only by collision (the host's table has 262,144 buckets
# here; 0 deviations in 20,000 back-to-back reads of 30,000 sockets). With
# CHURN_EHASH=128 the collisions are forced and static counts do move (by
# one, in about 2% of reads): the README's "counts of ports whose sockets
# do not change are exact" holds only while they do not share a chain.
# The rate the generator reached is measured and printed; below
# CHURN_MIN_RATE (default 5000) connections per second the test fails.
#
# Environment: BUILDDIR, SRCDIR, PLUGIN_SO (as the other daemon tests),
# CHURN_SECONDS (60), CHURN_RATE (2000 per abort port), CHURN_GRATE (500),
# CHURN_BATCH (64), CHURN_DWELL (16), CHURN_MIN_RATE (5000), CHURN_SLACK (2),
# CHURN_EHASH (a private established hash of that many buckets, e.g. 128,
# so that static and churning sockets share hash chains; default: the
# host's table, as a namespace normally has),
# CHURN_EXPECT_EXTRA (self-check: added to the static ESTABLISHED
# expectations; 1 must fail), KEEP_WORK=1 (keep the work directory).
# Exit: 0 pass, 1 fail, 77 skip (not root, collectd missing).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
daemon_setup churn
SECS=${CHURN_SECONDS:-60}
RATE=${CHURN_RATE:-2000}
GRATE=${CHURN_GRATE:-500}
BATCH=${CHURN_BATCH:-64}
# What one read can see of a churning port: a dump is not a snapshot, and
# one that outlasts a batch's life (CHURN_DWELL ms) sees the closing batch
# in buckets it walked early and its successor in buckets it walks late.
# Two generations is the reach of a dump shorter than two dwell times
# (dumps here take ~1 ms, more when another namespace fills the shared
# established hash); the static ports stay exact regardless.
REACH=$((2 * BATCH))
MIN_RATE=${CHURN_MIN_RATE:-5000}
SLACK=${CHURN_SLACK:-2}
DWELL=${CHURN_DWELL:-16}
EHASH=${CHURN_EHASH:-}
EXTRA=${CHURN_EXPECT_EXTRA:-0}
read -r -a STATES <<<"$TCP_STATES"

# A namespace made while tcp_child_ehash_entries is set gets a private
# established hash of that size (Linux 6.1+); small means many sockets per
# bucket, so static and churning sockets share chains.
ns_new ns churn "$EHASH"
if [ -n "$EHASH" ]; then
  echo "private established hash: $(ip netns exec "$ns" sysctl -n net.ipv4.tcp_ehash_entries) buckets"
fi
# Client ports stay above every fixed port of the test.
ip netns exec "$ns" sysctl -q -w net.ipv4.ip_local_port_range="20000 60999" ||
  fail "cannot set the port range"

# The static set, then the churn; each reads its stdin from a pipe this
# script holds, so they end with it whatever happens.
HOLD=(7001:50 7002:100:20 6/7004:30:5)
churn_start hold_fd "$ns" "$WORK/hold.out" hold "${HOLD[@]}"
grep -q '^ready 413$' "$WORK/hold.out" || fail "static set: $(cat "$WORK/hold.out")"

ports=()
for p in 7001 7002 7003 7004 5001 5002 5003 5004; do
  ports+=("LocalPort \"$p\"" "RemotePort \"$p\"")
done
for d in filter summary; do mkdir -p "$WORK/$d"; done
conf_write "$WORK/filter/collectd.conf" -w csv -- 'ListeningPorts true' "${ports[@]}"
conf_write "$WORK/summary/collectd.conf" -w csv -- 'ListeningPorts true' 'AllPortsSummary true' "${ports[@]}"

run_fd= # set by churn_start, as rcs by bg_term
rcs=()
churn_start run_fd "$ns" "$WORK/run.out" run -k "$BATCH" -r "$RATE" \
  -g "$GRATE" -d "$DWELL" 5001 5002 5003 5004:g
grep -q '^ready 4$' "$WORK/run.out" || fail "churn: $(cat "$WORK/run.out")"
sleep 1

pids=()
for d in filter summary; do
  ns_bg "$ns" "$WORK/$d/out.txt" "$COLLECTD" -f -C "$WORK/$d/collectd.conf"
  pids+=("$BG_PID")
done
echo "churning for ${SECS}s ..."
sleep "$SECS"
for i in 0 1; do
  kill -0 "${pids[$i]}" 2>/dev/null || fail "collectd ($i) died during the churn: $(tail -5 "$WORK"/*/out.txt)"
done
bg_term rcs "${pids[@]}"
# Stop the churn: EOF on its stdin; it prints its counts.
fd_close "$run_fd"
for _ in $(seq 100); do grep -q '^total' "$WORK/run.out" && break; sleep 0.1; done
total_line=$(grep '^total' "$WORK/run.out" || true)
[ -n "$total_line" ] || fail "churn gave no report: $(cat "$WORK/run.out")"
read -r _ conns _ G _ csecs _ rate <<<"$total_line"
sed 's/^/  churn: /' "$WORK/run.out" | grep -v ready
echo "connection rate: $rate connections/s ($conns opened and closed in ${csecs}s, $G graceful)"
[ "${rcs[0]}" = 0 ] && [ "${rcs[1]}" = 0 ] ||
  fail "collectd exit status ${rcs[*]} after SIGTERM"
rate_ok=$(awk -v r="$rate" -v m="$MIN_RATE" 'BEGIN { print (r >= m) ? 1 : 0 }')
[ "$rate_ok" = 1 ] || fail "the generator reached $rate connections/s, below $MIN_RATE"

# series DIR INSTANCE STATE: one value a line, one line a read.
series() { csv_values "$1" "tcpconns-$2/tcp_connections-$3"; }
# table DIR INSTANCE: one line per read, the 11 states in kernel order.
# A read cut short by the daemon's shutdown may have written only some of
# its states: rows are kept up to the shortest state file.
table() {
  local files=() s min='' n
  mkdir -p "$WORK/tab"
  for s in "${STATES[@]}"; do
    series "$1" "$2" "$s" >"$WORK/tab/$s"
    files+=("$WORK/tab/$s")
    n=$(wc -l <"$WORK/tab/$s")
    if [ -z "$min" ] || [ "$n" -lt "$min" ]; then min=$n; fi
  done
  for s in "${files[@]}"; do
    [ "$(wc -l <"$s")" -le $((min + 1)) ] ||
      fail "$(basename "$1"): $2: $(basename "$s") has $(wc -l <"$s") reads, another state $min"
  done
  paste -d' ' "${files[@]}" | head -n "$min"
}
# state_col NAME: the column of a state in table's output (1-based).
state_col() {
  local i
  for i in "${!STATES[@]}"; do
    if [ "${STATES[$i]}" = "$1" ]; then echo $((i + 1)); fi
  done
}

# expect_exact DIR INSTANCE STATE=VALUE...: every read, every state (the
# ones not named: 0).
expect_exact() {
  local dir=$1 inst=$2 spec want=() i bad rows
  shift 2
  for i in "${!STATES[@]}"; do want[i]=0; done
  for spec in "$@"; do
    i=$(state_col "${spec%=*}")
    want[i - 1]=${spec#*=}
  done
  rows=$(table "$dir" "$inst" | wc -l)
  [ "$rows" -ge $((SECS - 3)) ] || fail "$(basename "$dir"): $inst: $rows reads in ${SECS}s"
  bad=$(table "$dir" "$inst" | awk -v want="${want[*]}" '
    BEGIN { n = split(want, w, " ") }
    { for (i = 1; i <= n; i++) if ($i + 0 != w[i]) { print NR ": " $0; break } }' | head -3)
  [ -z "$bad" ] || fail "$(basename "$dir"): $inst: expected [${want[*]}] in every read, got (read: values):
$bad"
}

# bound DIR INSTANCE COLUMNS MAX LABEL: in every read, the sum of the
# listed state columns is at most MAX + SLACK; prints the largest sum.
bound() {
  local dir=$1 inst=$2 cols=$3 max=$4 label=$5 out
  out=$(table "$dir" "$inst" | awk -v cols="$cols" -v max="$max" -v slack="$SLACK" '
    BEGIN { n = split(cols, c, ",") }
    { s = 0; for (i = 1; i <= n; i++) s += $(c[i]); if (s > top) top = s
      if (s > max) above++
      if (s > max + slack) bad = bad NR ": " s "\n" }
    END { printf "%d|%d|%s", top, above, bad }')
  local top=${out%%|*} rest=${out#*|}
  local above=${rest%%|*} bad=${rest#*|}
  printf '  %-8s %-13s %-30s max %6d, bound %6d, reads above %d\n' "$(basename "$dir")" \
    "$inst" "$label" "$top" "$max" "$above"
  [ -z "$bad" ] || fail "$(basename "$dir"): $inst: $label above $max + $SLACK in reads:
$(printf '%s' "$bad" | head -5)"
}

for d in filter summary; do
  grep -qi 'failed' "$WORK/$d/collectd.log" &&
    fail "$d: the log has failures: $(grep -i failed "$WORK/$d/collectd.log" | head -5)"
  # Static ports: exact (7001: 50 established; 7002: 100 + 20 half-closed;
  # 7004: 30 + 5 over IPv6; 7003: nothing).
  while read -r inst values; do
    # shellcheck disable=SC2086 # values: STATE=N words
    expect_exact "$WORK/$d" "$inst" $values
  done < <(churn_held "$EXTRA" "${HOLD[@]}")
  expect_exact "$WORK/$d" 7003-local
  expect_exact "$WORK/$d" 7003-remote
  # Churn ports: the listener exact, the rest within the generator's reach.
  all_but_listen=1,2,3,4,5,6,7,8,9,11
  for p in 5001 5002 5003; do
    bound "$WORK/$d" $p-local 10 1 "LISTEN (exactly 1)"
    bad=$(table "$WORK/$d" $p-local | awk '$10 != 1 { print NR ": " $0 }' | head -5)
    [ -z "$bad" ] || fail "$d: $p-local LISTEN is not 1 in every read (read: the 11 states):
$bad"
    bound "$WORK/$d" $p-local $all_but_listen "$REACH" "all states but LISTEN"
    bound "$WORK/$d" $p-remote 1,2,3,4,5,6,7,8,9,10,11 "$REACH" "all states"
  done
  bad=$(table "$WORK/$d" 5004-local | awk '$10 != 1 { print NR ": " $0 }' | head -5)
  [ -z "$bad" ] || fail "$d: 5004-local LISTEN is not 1 in every read (read: the 11 states):
$bad"
  bound "$WORK/$d" 5004-local 1,2,3 "$REACH" "ESTABLISHED+SYN_SENT+SYN_RECV"
  bound "$WORK/$d" 5004-remote 1,2,3 "$REACH" "ESTABLISHED+SYN_SENT+SYN_RECV"
  bound "$WORK/$d" 5004-local 4,5,6,8,9,11 "$G" "closing states"
  bound "$WORK/$d" 5004-remote 4,5,6,8,9,11 "$G" "closing states"
done

# "all": the static set is a floor in every state; the churn adds at most
# what its four ports can hold. Static: 3 + 4 listeners, 2 * 180
# established, 25 half-closed pairs.
static_all="360 0 0 0 25 0 0 25 0 7 0"
bad=$(table "$WORK/summary" all | awk -v st="$static_all" -v max=$((4 * 2 * REACH + 2 * G)) -v slack="$SLACK" '
  BEGIN { split(st, s, " ") }
  { ex = 0
    for (i = 1; i <= 11; i++) { if ($i + 0 < s[i]) { print NR ": below the static set: " $0; next }; ex += $i - s[i] }
    if ($10 != 7) { print NR ": LISTEN " $10 ", expected 7"; next }
    if (ex > max + slack) print NR ": " ex " churn sockets, at most " max }' | head -5)
[ -z "$bad" ] || fail "summary: all:
$bad"
echo "  summary  all           static floor in every state, LISTEN 7, churn excess <= $((4 * 2 * REACH + 2 * G))"
reads=$(table "$WORK/filter" 7001-local | wc -l)
echo "ok - $reads reads per daemon at $rate connections/s: no failed read, static ports exact, churn ports within bounds"
echo "1 passed, 0 failed"
