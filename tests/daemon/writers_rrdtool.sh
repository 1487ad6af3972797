#!/bin/bash
# SPDX-License-Identifier: MIT
# writers_rrdtool.sh: with collectd's rrdtool writer, tcpconns_diag writes the
# same RRD files as upstream tcpconns, holding the same values.
#
# In a private network namespace holding sockset's known set of sockets plus
# listeners on 80 and 443 with a few connections, Debian's collectd runs twice
# at the same time, once with upstream `tcpconns` and once with
# `tcpconns_diag` under the same option block, each with the rrdtool plugin
# (Interval 1) writing to its own DataDir. Then:
#   - the two DataDirs hold the same RRD files (same relative names, e.g.
#     h/tcpconns-80-local/tcp_connections-ESTABLISHED.rrd), of the same
#     structure (step, data source, RRAs: `rrdtool info`);
#   - each file holds the same last value for both (`rrdtool lastupdate`), and
#     that value is also the last one `rrdtool fetch` gives back;
#   - every value is the one `ss` counts in the namespace (so two equally
#     wrong outputs cannot pass);
#   - contrib/dashboard.sh draws a PNG from tcpconns_diag's files.
# Any difference fails the test with the differing files printed.
#
# Environment: see tests/lib.sh (BUILDDIR, SRCDIR, PLUGIN_SO, KEEP_WORK, ...), and
#   RRD_DIAG_EXTRA  self-check only: a line added to the tcpconns_diag block;
#                   with e.g. "LocalPort 9999" the test must fail
#
# Exit: 0 pass, 1 fail, 77 skip (not root, or a package cannot be installed).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

RUN_READS=4 # reads each daemon makes before the comparison

daemon_setup writers tcpconns rrdtool
need_lib rrdtool librrd8
need_cmd nft nftables
need_cmd ss iproute2
need_cmd rrdtool
need_cmd python3 # contrib/dashboard.sh joins the panels with it

BLOCK='ListeningPorts true
LocalPort "80"
LocalPort "443"
RemotePort "443"
RemotePort "8080"
AllPortsSummary true'

sockset_start "listen 80" "connect 80" "connect 80" "connect 80" \
  "listen 443" "connect 443" "connect 443"
sockset_settle
oracle "$WORK/oracle.before"

declare -A PID
for plugin in tcpconns tcpconns_diag; do
  daemon_start "$WORK/$plugin" "$plugin" "$BLOCK" "${RRD_DIAG_EXTRA:-}" -w rrdtool
  PID[$plugin]=$BG_PID
done

# Until both have written RUN_READS updates to a file every read updates.
probe=h/tcpconns-all/tcp_connections-ESTABLISHED.rrd
updates() { # dir: the number of updates in probe (its last_update - first)
  [ -f "$1/rrd/$probe" ] || { echo 0; return; }
  { rrdtool lastupdate "$1/rrd/$probe" 2>/dev/null || true; } | awk -F: 'NF == 2 { print $1 }'
}
t0=$(date +%s)
enough() {
  local p t
  for p in tcpconns tcpconns_diag; do
    bg_alive "${PID[$p]}" "collectd with $p" "$WORK/$p/stdout" "$WORK/$p/collectd.log"
    t=$(updates "$WORK/$p")
    [ "${t:-0}" -ge $((t0 + RUN_READS)) ] || return 1
  done
}
wait_for 30 enough || fail "no $RUN_READS reads in 30 s: $(tail -n 5 "$WORK"/*/collectd.log)"
for plugin in tcpconns tcpconns_diag; do bg_stop "${PID[$plugin]}"; done
oracle "$WORK/oracle.after"
cmp -s "$WORK/oracle.before" "$WORK/oracle.after" || {
  diff "$WORK/oracle.before" "$WORK/oracle.after" || true
  fail "the socket set changed during the run"
}


# --- the same files ----------------------------------------------------------
(cd "$WORK/tcpconns/rrd" && find . -type f | sed 's|^\./||' | sort) >"$WORK/files.up"
(cd "$WORK/tcpconns_diag/rrd" && find . -type f | sed 's|^\./||' | sort) >"$WORK/files.diag"
n_up=$(wc -l <"$WORK/files.up")
[ "$n_up" -ge 100 ] || problem "upstream wrote only $n_up RRD files"
if ! cmp -s "$WORK/files.up" "$WORK/files.diag"; then
  problem "the RRD file names differ (< upstream tcpconns, > tcpconns_diag):"
  diff "$WORK/files.up" "$WORK/files.diag" | grep '^[<>]' | head -40 | sed 's/^/    /' || true
fi
for f in h/tcpconns-80-local/tcp_connections-ESTABLISHED.rrd \
  h/tcpconns-443-remote/tcp_connections-ESTABLISHED.rrd \
  h/tcpconns-all/tcp_connections-TIME_WAIT.rrd; do
  grep -qxF "$f" "$WORK/files.diag" || problem "tcpconns_diag wrote no $f"
done

# --- the same structure and values -------------------------------------------
structure() { # rrd file: its definition, not its contents
  rrdtool info "$1" | grep -E '^(step|ds\[[^]]*\]\.(index|type|minimal_heartbeat|min|max)|rra\[[0-9]+\]\.(cf|rows|pdp_per_row|xff)) '
}
last_fetched() { # rrd file: the last value `rrdtool fetch` gives (not nan)
  # The minute before the file's own last update, not before now: on a
  # slow machine the comparison of 132 files can take longer than that.
  local t
  t=$(rrdtool last "$1" 2>/dev/null) || return 0
  rrdtool fetch "$1" AVERAGE -r 1 -s $((t - 60)) -e "$t" 2>/dev/null |
    awk -F': ' 'NF == 2 && $2 !~ /nan/ { v = $2 } END { print v }'
}
last_update() { # rrd file: the value of its last update
  rrdtool lastupdate "$1" | awk -F': ' 'NF == 2 { print $2 }'
}
# rrd_checks f up ours want: the same RRD structure, and `rrdtool fetch`
# gives back the value ss counts.
rrd_checks() {
  local f_ours
  if [ "$(structure "$2")" != "$(structure "$3")" ]; then
    problem "$1: different RRD structure:"
    diff <(structure "$2") <(structure "$3") | grep '^[<>]' | sed 's/^/    /' || true
  fi
  f_ours=$(last_fetched "$3") || true
  same_number "$f_ours" "$4" ||
    problem "$1: rrdtool fetch gives ${f_ours:-nothing} from tcpconns_diag's file, ss counts $4"
}
writer_compare "$WORK/files.up" "$WORK/tcpconns/rrd" "$WORK/tcpconns_diag/rrd" \
  "last update" last_update rrd_checks
log "compared $COMPARED RRD files (of $n_up from upstream, $(wc -l <"$WORK/files.diag") from tcpconns_diag)"

writer_fixture "$WORK/tcpconns_diag/rrd" rrd last_update "80-local ESTABLISHED 3" \
  "80-local LISTEN 1" "443-local ESTABLISHED 2" "443-remote ESTABLISHED 2"

for plugin in tcpconns tcpconns_diag; do
  check_log "$WORK/$plugin" || problem "$plugin logged errors"
done

# --- the dashboard -----------------------------------------------------------
png=$WORK/dashboard.png
if DASH_START=-2min bash "$SRCDIR/contrib/dashboard.sh" "$WORK/tcpconns_diag/rrd" h "$png" \
  >"$WORK/dashboard.out" 2>&1; then
  # PNG signature, then the IHDR's width and height.
  read -r sig w h < <(python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read(24)
print(d[:8].hex(), *struct.unpack(">II", d[16:24]))' "$png") || true
  [ "$sig" = 89504e470d0a1a0a ] || problem "contrib/dashboard.sh wrote no PNG"
  [ "${h:-0}" -ge 300 ] && [ "${w:-0}" -ge 400 ] ||
    problem "contrib/dashboard.sh: a ${w}x${h} picture, want two panels"
else
  problem "contrib/dashboard.sh failed: $(cat "$WORK/dashboard.out")"
fi

problems_end
log "ok - same $n_up RRD files, same values as ss counts; dashboard ${w}x${h}"
log "1 passed, 0 failed"
