#!/bin/bash
# SPDX-License-Identifier: MIT
# Run by the autopkgtests under "unshare --net": in this new network
# namespace (loopback only), holds the socket set of sockets.py, runs
# collectd with CONF until every tcp_connections value file under WORK/csv
# holds READS values, then runs "tcpconns-diag ARGS..." (if given) into
# WORK/cli.json, and stops everything.
#
# Usage: in-netns.sh WORK CONF READS [TCPCONNS-DIAG-ARGS...]
set -euo pipefail
work=$1 conf=$2 reads=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

ip link set lo up
rm -f "$work/ready"
python3 "$here/sockets.py" "$work/ready" &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.1; done
[ -f "$work/ready" ] || { echo "sockets.py did not get ready"; exit 1; }

/usr/sbin/collectd -t -C "$conf" || { echo "collectd -t rejects $conf"; exit 1; }
/usr/sbin/collectd -f -C "$conf" >"$work/collectd.out" 2>&1 &
pids+=($!)
ok=
for _ in $(seq 600); do
  sleep 0.1
  kill -0 "${pids[1]}" 2>/dev/null || { echo "collectd exited"; cat "$work/collectd.out"; exit 1; }
  files=$(find "$work/csv" -type f -name 'tcp_connections-*' 2>/dev/null || true)
  [ -n "$files" ] || continue
  # every file: a header line and READS values
  least=$(for f in $files; do wc -l <"$f"; done | sort -n | head -1)
  [ "$least" -gt "$reads" ] && { ok=1; break; }
done
[ -n "$ok" ] || { echo "collectd wrote no $reads reads in 60 s"; cat "$work/collectd.out" "$work/collectd.log" 2>/dev/null; exit 1; }
kill "${pids[1]}"
wait "${pids[1]}" 2>/dev/null || true

if [ $# -gt 0 ]; then
  tcpconns-diag "$@" >"$work/cli.json"
fi
