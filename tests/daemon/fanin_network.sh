#!/bin/bash
# SPDX-License-Identifier: MIT
# fanin_network.sh: the usual fan-in. An edge host runs tcpconns_diag and
# ships its values with collectd's network plugin to a central collectd,
# which writes them to csv and to Graphite; the values arrive unchanged,
# under the same identifiers, with the edge's host name.
#
# In a private network namespace holding sockset's known set of sockets, on
# the namespace's 127.0.0.1:
#   - a carbon-cache (Debian's graphite-carbon, its own configuration and
#     storage under the work directory);
#   - the central collectd (Hostname "central"): network plugin listening
#     (SecurityLevel Sign, with an AuthFile), csv, write_graphite to carbon;
#   - the edge collectd (Hostname "edge", Interval 1): tcpconns_diag, its own
#     csv (what the edge read), network plugin sending to the central one
#     (signed as user "edge").
# Then:
#   - the central csv holds the edge's identifiers (every one of them) under
#     the host "edge" and no tcpconns values under any other host;
#   - every value the central collectd wrote is the value the edge read with
#     the same timestamp (the edge's csv), for at least 3 reads of each;
#   - carbon holds edge.tcpconns-8080-local.tcp_connections-ESTABLISHED as
#     edge/tcpconns-8080-local/tcp_connections-ESTABLISHED.wsp, and every
#     whisper file's points (whisper-fetch) are the edge's values at those
#     seconds;
#   - the values of the configured ports are the ones `ss` counts.
#
# Environment: see tests/lib.sh (BUILDDIR, SRCDIR, PLUGIN_SO, KEEP_WORK, ...), and
#   FANIN_CENTRAL_EXTRA  self-check only: configuration text appended to the
#                central collectd.conf (e.g. a filter chain that renames a
#                plugin instance); the test must then fail
#
# Exit: 0 pass, 1 fail, 77 skip (not root, or a package cannot be installed).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

RUN_READS=5 # reads of the edge that must reach carbon
NET_PORT=25826
CARBON_PORT=2003

daemon_setup fanin network write_graphite match_regex target_set target_scale
need_lib network libgcrypt20
need_cmd nft nftables
need_cmd ss iproute2
need_carbon

BLOCK='ListeningPorts true
LocalPort "8080"
RemotePort "8080"
LocalPort "8443"
RemotePort "9090"
LocalPort "9999"
AllPortsSummary true'
# The blocks whose values must be what ss counts (no port of carbon or of
# the network plugin, whose sockets come and go with the daemons).
STABLE="8080-local 8080-remote 8443-local 9090-remote 9999-local 7777-local 7778-local 50000-local 65535-local"

sockset_start
sockset_settle
oracle "$WORK/oracle.before"
start_carbon "$WORK/carbon" $CARBON_PORT $((CARBON_PORT + 1)) $((CARBON_PORT + 2))
CARBON_PID=$BG_PID

central=$WORK/central
edge=$WORK/edge
mkdir -p "$central" "$edge"
echo "edge: s3cr3t-fan-in" >"$central/passwd"
conf_write "$central/collectd.conf" -H central -e "LoadPlugin network
<Plugin network>
  <Listen \"127.0.0.1\" \"$NET_PORT\">
    SecurityLevel Sign
    AuthFile \"$central/passwd\"
  </Listen>
</Plugin>" -w csv -w "graphite:$CARBON_PORT" -e "${FANIN_CENTRAL_EXTRA:-}" -p ''
mapfile -t lines <<<"$BLOCK"
conf_write "$edge/collectd.conf" -H edge -w csv -e "<LoadPlugin network>
  FlushInterval 1
</LoadPlugin>
<Plugin network>
  <Server \"127.0.0.1\" \"$NET_PORT\">
    SecurityLevel Sign
    Username \"edge\"
    Password \"s3cr3t-fan-in\"
  </Server>
</Plugin>" -- "${lines[@]}"

ns_bg "$NS" "$central/stdout" "$COLLECTD" -f -C "$central/collectd.conf"
CENTRAL_PID=$BG_PID
net_listens() { in_ns ss -ulnH "sport = :$NET_PORT" | grep . >/dev/null; }
wait_for 20 net_listens || fail "the central collectd does not listen: $(tail -n 20 "$central/collectd.log")"
T0=$(date +%s)
ns_bg "$NS" "$edge/stdout" "$COLLECTD" -f -C "$edge/collectd.conf"
EDGE_PID=$BG_PID

probe=edge/tcpconns-8080-local/tcp_connections-ESTABLISHED.wsp
enough() {
  local n
  bg_alive "$EDGE_PID" "the edge collectd" "$edge/stdout" "$edge/collectd.log"
  bg_alive "$CENTRAL_PID" "the central collectd" "$central/stdout" "$central/collectd.log"
  [ -f "$WORK/carbon/whisper/$probe" ] || return 1
  n=$({ whisper-fetch --from="$T0" "$WORK/carbon/whisper/$probe" 2>/dev/null || true; } | grep -vc None || true)
  [ "${n:-0}" -ge $RUN_READS ]
}
wait_for 30 enough || fail "carbon got no $RUN_READS points of $probe in 30 s:
$(tail -n 5 "$edge/collectd.log" "$central/collectd.log" "$WORK/carbon/stdout")"
bg_stop "$EDGE_PID"
sleep 1.5 # the central collectd's last flush to carbon
bg_stop "$CENTRAL_PID"
bg_stop "$CARBON_PID" # carbon writes its cache out when it stops
oracle "$WORK/oracle.after"


csv_rows "$edge/csv" >"$WORK/edge.rows"
csv_rows "$central/csv" >"$WORK/central.rows"
awk '{ print $1 }' "$WORK/edge.rows" | sort -u >"$WORK/edge.ids"
awk '{ print $1 }' "$WORK/central.rows" | sort -u >"$WORK/central.ids"

# --- identifiers and host name -----------------------------------------------
n_ids=$(wc -l <"$WORK/edge.ids")
[ "$n_ids" -ge 100 ] || problem "the edge wrote only $n_ids identifiers"
if grep -qv '^edge/tcpconns-' "$WORK/edge.ids"; then
  problem "the edge wrote other identifiers: $(grep -v '^edge/tcpconns-' "$WORK/edge.ids" | head -3)"
fi
if grep -v '^edge/' "$WORK/central.ids" | grep -q tcpconns; then
  problem "the central collectd wrote tcpconns values under another host:"
  grep -v '^edge/' "$WORK/central.ids" | head -10 | sed 's/^/    /' || true
fi
if ! cmp -s "$WORK/edge.ids" "$WORK/central.ids"; then
  problem "identifiers differ (< written by the edge, > by the central collectd):"
  diff "$WORK/edge.ids" "$WORK/central.ids" | grep '^[<>]' | head -20 | sed 's/^/    /' || true
fi

# --- the values, read by read ------------------------------------------------
# For each central row: the edge's row with the same identifier and time.
awk '
  FNR == NR { edge[$1 " " $2] = $3; next }
  {
    k = $1 " " $2
    if (!(k in edge)) print "  " $1 " at " $2 ": central has " $3 ", the edge read nothing then"
    else if (edge[k] + 0 != $3 + 0) print "  " $1 " at " $2 ": central has " $3 ", the edge read " edge[k]
    else ok[$1]++
  }
  END { for (id in ok) print "OK", id, ok[id] }' "$WORK/edge.rows" "$WORK/central.rows" >"$WORK/matched"
if grep -q '^  ' "$WORK/matched"; then
  problem "values changed on the way ($(grep -c '^  ' "$WORK/matched") rows):"
  grep '^  ' "$WORK/matched" | head -20 | sed 's/^/  /' || true
fi
few=$(awk '$1 == "OK" && $3 < 3 { print $2 }' "$WORK/matched" | head -5 || true)
[ -z "$few" ] || problem "fewer than 3 reads arrived unchanged for: $few"
matched=$(awk '$1 == "OK" { n += $3 } END { print n + 0 }' "$WORK/matched")

# --- Graphite ----------------------------------------------------------------
metric=edge.tcpconns-8080-local.tcp_connections-ESTABLISHED
grep -qF "[creates] new metric $metric matched schema" "$WORK/carbon/stdout" ||
  problem "carbon logged no new metric $metric"
(cd "$WORK/carbon/whisper" && find . -type f -name '*.wsp' | sed 's|^\./||; s|\.wsp$||' | sort) >"$WORK/wsp.ids"
if ! cmp -s "$WORK/edge.ids" "$WORK/wsp.ids"; then
  problem "whisper files differ from the edge's identifiers (< edge, > whisper):"
  diff "$WORK/edge.ids" "$WORK/wsp.ids" | grep '^[<>]' | head -20 | sed 's/^/    /' || true
fi
# write_graphite sends each value with its time rounded to the second; a
# second two reads round to is left out.
points=0
while read -r id; do
  f=$WORK/carbon/whisper/$id.wsp
  [ -f "$f" ] || continue
  out=$({ whisper-fetch --from="$T0" "$f" 2>/dev/null || true; } | awk -v id="$id" '
    FNR == NR {
      if ($1 != id) next
      s = int($2 + 0.5); n[s]++; v[s] = $3; next
    }
    $2 == "None" { next }
    !($1 in n) { print "  " id " at " $1 ": carbon has " $2 ", the edge read nothing then"; next }
    n[$1] > 1 { next }
    v[$1] + 0 != $2 + 0 { print "  " id " at " $1 ": carbon has " $2 ", the edge read " v[$1]; next }
    { ok++ }
    END { print "OK", ok + 0 }' "$WORK/edge.rows" -)
  grep '^  ' <<<"$out" | head -3 >>"$WORK/wsp.problems" || true
  k=$(awk '$1 == "OK" { print $2 }' <<<"$out")
  [ "${k:-0}" -ge 3 ] || echo "  $id: only ${k:-0} points in carbon match the edge" >>"$WORK/wsp.problems"
  points=$((points + ${k:-0}))
done <"$WORK/edge.ids"
if [ -s "$WORK/wsp.problems" ]; then
  problem "carbon's values differ from the edge's:"
  head -20 "$WORK/wsp.problems" | sed 's/^/  /'
fi

# --- the edge read what ss counts --------------------------------------------
for inst in $STABLE; do
  for state in $TCP_STATES; do
    want=$(expected "$WORK/oracle.before" "$inst" "$state")
    [ "$want" = "$(expected "$WORK/oracle.after" "$inst" "$state")" ] ||
      problem "$inst $state changed during the run"
    got=$(awk -v id="edge/tcpconns-$inst/tcp_connections-$state" \
      '$1 == id { v = $3 } END { print v }' "$WORK/central.rows")
    same_number "$got" "$want" ||
      problem "central: edge/tcpconns-$inst/tcp_connections-$state is ${got:-missing}, ss counts $want"
  done
done
for k in "8080-local ESTABLISHED" "8443-local ESTABLISHED" "9090-remote SYN_SENT"; do
  set -- $k
  [ "$(expected "$WORK/oracle.before" "$1" "$2")" -gt 0 ] || problem "fixture: no $1 $2 socket"
done

for d in "$edge" "$central"; do check_log "$d" || problem "errors in $d/collectd.log"; done

problems_end
log "ok - $n_ids identifiers of host edge, $matched csv values and $points whisper points arrived unchanged"
log "1 passed, 0 failed"
