#!/bin/bash
# SPDX-License-Identifier: MIT
# writers_graphite.sh: through collectd's write_graphite into a real carbon,
# tcpconns_diag's values land in the whisper files upstream tcpconns produces,
# with the right values.
#
# In a private network namespace holding sockset's known set of sockets plus
# listeners on 80 and 443 with a few connections, the test starts two
# carbon-caches of Debian's graphite-carbon on the namespace's 127.0.0.1, each
# with its own configuration and storage under the work directory (never the
# system's), and two collectd daemons (Interval 1) under the same option
# block: upstream `tcpconns` writing to the first carbon, `tcpconns_diag` to
# the second, both with write_graphite's defaults for the metric path
# (Hostname "h"). Then:
#   - carbon received h.tcpconns-80-local.tcp_connections-ESTABLISHED (its
#     log of new metrics) and wrote it to h/tcpconns-80-local/
#     tcp_connections-ESTABLISHED.wsp;
#   - both carbons hold the same whisper files (the same metric paths);
#   - every file holds the same last value for both (read back with
#     whisper-fetch), the one `ss` counts in the namespace.
# The block names ports only, not ListeningPorts or AllPortsSummary: carbon's
# own listeners and collectd's connections to it are in the namespace too.
#
# Environment: see tests/lib.sh (BUILDDIR, SRCDIR, PLUGIN_SO, KEEP_WORK, ...), and
#   GRAPHITE_DIAG_EXTRA  self-check only: a line added to the tcpconns_diag
#                block; with e.g. "LocalPort 9999" the test must fail
#
# Exit: 0 pass, 1 fail, 77 skip (not root, or a package cannot be installed).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

RUN_READS=4 # reads each daemon makes before the comparison

daemon_setup writers tcpconns write_graphite
need_cmd nft nftables
need_cmd ss iproute2
need_carbon

BLOCK='LocalPort "80"
LocalPort "443"
RemotePort "443"
LocalPort "8080"
RemotePort "8080"
LocalPort "8443"
LocalPort "9090"
RemotePort "9090"
LocalPort "7777"
RemotePort "7777"
LocalPort "7778"
LocalPort "45000"
RemotePort "45000"
LocalPort "65535"
LocalPort "9999"'

sockset_start "listen 80" "connect 80" "connect 80" "connect 80" \
  "listen 443" "connect 443" "connect 443"
sockset_settle
oracle "$WORK/oracle.before"

declare -A PID CARBON LINE_PORT
LINE_PORT[tcpconns]=2003
LINE_PORT[tcpconns_diag]=2103
for plugin in tcpconns tcpconns_diag; do
  p=${LINE_PORT[$plugin]}
  start_carbon "$WORK/carbon-$plugin" "$p" $((p + 1)) $((p + 2))
  CARBON[$plugin]=$BG_PID
done

T0=$(date +%s)
for plugin in tcpconns tcpconns_diag; do
  daemon_start "$WORK/$plugin" "$plugin" "$BLOCK" "${GRAPHITE_DIAG_EXTRA:-}" \
    -w "graphite:${LINE_PORT[$plugin]}"
  PID[$plugin]=$BG_PID
done

# Until both carbons have RUN_READS points of a metric every read sends.
probe=h/tcpconns-80-local/tcp_connections-ESTABLISHED.wsp
points() { # carbon dir: points of the probe metric since T0
  [ -f "$1/whisper/$probe" ] || { echo 0; return; }
  { whisper-fetch --from="$T0" "$1/whisper/$probe" 2>/dev/null || true; } | grep -vc None || true
}
enough() {
  local p n
  for p in tcpconns tcpconns_diag; do
    bg_alive "${PID[$p]}" "collectd with $p" "$WORK/$p/stdout" "$WORK/$p/collectd.log"
    bg_alive "${CARBON[$p]}" "carbon of $p" "$WORK/carbon-$p/stdout"
    n=$(points "$WORK/carbon-$p")
    [ "${n:-0}" -ge $RUN_READS ] || return 1
  done
}
wait_for 30 enough || fail "carbon got no $RUN_READS points in 30 s:
$(tail -n 5 "$WORK"/*/collectd.log "$WORK"/carbon-*/stdout)"
for plugin in tcpconns tcpconns_diag; do bg_stop "${PID[$plugin]}"; done
oracle "$WORK/oracle.after"
# Only the blocks configured: collectd's connections to carbon are gone now.
ports_only() { # oracle file: its lines for the blocks of BLOCK
  grep -E "^($(echo "$BLOCK" | awk '{ gsub(/"/, "", $2); printf "%s%s-%s", (NR > 1 ? "|" : ""), $2, ($1 == "LocalPort" ? "local" : "remote") }')) " "$1" || true
}
ports_only "$WORK/oracle.before" >"$WORK/oracle.before.ports"
ports_only "$WORK/oracle.after" >"$WORK/oracle.after.ports"
cmp -s "$WORK/oracle.before.ports" "$WORK/oracle.after.ports" || {
  diff "$WORK/oracle.before.ports" "$WORK/oracle.after.ports" || true
  fail "the socket set changed during the run"
}
# Carbon writes its cache out when it stops.
for plugin in tcpconns tcpconns_diag; do bg_stop "${CARBON[$plugin]}"; done


# --- the metric path and the whisper files -----------------------------------
metric=h.tcpconns-80-local.tcp_connections-ESTABLISHED
for plugin in tcpconns tcpconns_diag; do
  # --nodaemon: carbon logs to stdout.
  grep -qF "[creates] new metric $metric matched schema" "$WORK/carbon-$plugin/stdout" ||
    problem "$plugin: carbon logged no new metric $metric: $(grep -F '[creates] new metric' "$WORK/carbon-$plugin/stdout" | head -3)"
done
for plugin in tcpconns tcpconns_diag; do
  (cd "$WORK/carbon-$plugin/whisper" && find . -type f -name '*.wsp' | sed 's|^\./||' | sort) \
    >"$WORK/files.$plugin"
done
n_up=$(wc -l <"$WORK/files.tcpconns")
# 15 LocalPort/RemotePort lines name 15 blocks of 11 states.
[ "$n_up" = 165 ] || problem "upstream's carbon holds $n_up whisper files, want 165"
if ! cmp -s "$WORK/files.tcpconns" "$WORK/files.tcpconns_diag"; then
  problem "the whisper files differ (< upstream tcpconns, > tcpconns_diag):"
  diff "$WORK/files.tcpconns" "$WORK/files.tcpconns_diag" | grep '^[<>]' | head -40 | sed 's/^/    /' || true
fi
grep -qxF "${metric//.//}.wsp" "$WORK/files.tcpconns_diag" ||
  problem "tcpconns_diag's carbon has no ${metric//.//}.wsp"

# --- the values --------------------------------------------------------------
last_point() { wsp_last "$1" "$T0"; } # whisper file: its last value
writer_compare "$WORK/files.tcpconns" "$WORK/carbon-tcpconns/whisper" \
  "$WORK/carbon-tcpconns_diag/whisper" "whisper-fetch's last value" last_point
log "compared $COMPARED whisper files (of $n_up from upstream, $(wc -l <"$WORK/files.tcpconns_diag") from tcpconns_diag)"

writer_fixture "$WORK/carbon-tcpconns_diag/whisper" wsp last_point "80-local ESTABLISHED 3" \
  "443-local ESTABLISHED 2" "443-remote ESTABLISHED 2" "9090-local SYN_RECV 2" \
  "8080-local TIME_WAIT 1"

for plugin in tcpconns tcpconns_diag; do
  check_log "$WORK/$plugin" || problem "$plugin logged errors"
done

problems_end
log "ok - same $n_up whisper files (e.g. ${metric//.//}.wsp), same values as ss counts"
log "1 passed, 0 failed"
