#!/bin/bash
# SPDX-License-Identifier: MIT
# graphite_web.sh: Debian's graphite-web, over the carbon collectd's
# write_graphite feeds with tcpconns_diag's values, serves ss's counts and
# draws the per-port dashboard.
#
# In the socket-set namespace (tests/daemon/sockset's known set, plus
# listeners on 80 and 443 with connections), on 127.0.0.1: a carbon-cache
# of Debian's graphite-carbon (its files under the work directory), Debian's
# collectd with tcpconns_diag (Interval 1, AllPortsSummary and
# ReportAcceptQueue on) and write_graphite, and graphite-web started by
# contrib/graphite-web-local.sh (Django's server, no Apache) over that
# carbon's whisper files and cache. Then, through graphite-web's HTTP API:
#   - /render?format=json: the last value of every state of every
#     configured block is what ss counts;
#   - contrib/dashboard.sh draws ports 80 and 443 through
#     /render?format=png: a PNG of two 900x340 panels, with the ESTABLISHED
#     colour in the stack;
#   - every target of the Graphite Grafana dashboard
#     (contrib/grafana/tcpconns-graphite.json, $host = h, $port = 80 and
#     443) returns data, its per-port panel returns ss's counts, and its
#     variable queries (/metrics/find, then the variable's regex) list h,
#     80 and 443.
#
# Environment: see tests/lib.sh (BUILDDIR, SRCDIR, PLUGIN_SO, KEEP_WORK, ...), and
#   GW_EXTRA  self-check only: a line added to the tcpconns_diag block (not
#             to the expectation); with e.g. 'States "LISTEN"' the test
#             must fail
#
# Exit: 0 pass, 1 fail, 77 skip (not root, or a package cannot be installed).
. "$(dirname "$0")/../lib.sh"

LINE_PORT=2003   # carbon: plain text protocol
PICKLE_PORT=2004 # carbon: pickle protocol
QUERY_PORT=7002  # carbon: cache queries (graphite-web's carbonlink)
WEB_PORT=18080   # graphite-web
GW_PYTHON=${GW_PYTHON:-/usr/bin/python3}

need_root "network namespaces, nftables"
need_collectd write_graphite
need_carbon
"$GW_PYTHON" -c 'import graphite.settings, cairo' 2>/dev/null ||
  install_pkg graphite-web || skip "graphite-web cannot be installed"
"$GW_PYTHON" -c 'import graphite.settings, cairo' 2>/dev/null ||
  skip "$GW_PYTHON cannot import graphite-web and cairo"
need_cmd nft nftables
need_cmd ss iproute2
need_cmd curl
need_cmd jq
need_cmd python3
work_dir gweb
plugin_dir logfile write_graphite

DASHBOARD=$SRCDIR/contrib/grafana/tcpconns-graphite.json
BLOCK=('LocalPort "80"' 'LocalPort "443"' 'RemotePort "443"' 'LocalPort "8080"'
  'RemotePort "8080"' 'LocalPort "8443"' 'LocalPort "9090"' 'LocalPort "7777"'
  'LocalPort "7778"' 'LocalPort "9999"')
INSTANCES=()
for b in "${BLOCK[@]}"; do
  set -- $b
  p=${2//\"/}
  case $1 in
  LocalPort) INSTANCES+=("$p-local") ;;
  RemotePort) INSTANCES+=("$p-remote") ;;
  esac
done

sockset_start "listen 80" "connect 80" "connect 80" "connect 80" \
  "listen 443" "connect 443" "connect 443"
sockset_settle
show_on_fail "$WORK/collectd.log" "$WORK/carbon/stdout" "$WORK/gw.log"

start_carbon "$WORK/carbon" $LINE_PORT $PICKLE_PORT $QUERY_PORT
CARBON_PID=$BG_PID
conf_write "$WORK/collectd.conf" -w graphite:$LINE_PORT -- "${BLOCK[@]}" \
  'AllPortsSummary true' 'ReportAcceptQueue true' ${GW_EXTRA:+"$GW_EXTRA"}
ns_bg "$NS" "$WORK/collectd.out" "$COLLECTD" -f -C "$WORK/collectd.conf"
CD_PID=$BG_PID
GW_CARBONLINK=127.0.0.1:$QUERY_PORT GW_PYTHON=$GW_PYTHON \
  ns_bg "$NS" "$WORK/gw.log" bash "$SRCDIR/contrib/graphite-web-local.sh" \
  "$WORK/carbon/whisper" "127.0.0.1:$WEB_PORT" "$WORK/gw"
GW_PID=$BG_PID

alive() {
  bg_alive "$CD_PID" collectd "$WORK/collectd.log" "$WORK/collectd.out"
  bg_alive "$CARBON_PID" carbon-cache "$WORK/carbon/stdout"
  bg_alive "$GW_PID" graphite-web "$WORK/gw.log"
}
# gw PATH CURL-ARGS...: graphite-web's answer (HTTP 200), on stdout.
gw() {
  local path=$1
  shift
  in_ns curl -sf -G "$@" "http://127.0.0.1:$WEB_PORT$path"
}
# render TARGET [FROM]: "NAME LAST" per series, LAST its last non-null
# value in the FROM (default -10s) window (empty if none).
render() {
  gw /render --data-urlencode "target=$1" --data-urlencode "from=${2:--10s}" \
    --data-urlencode format=json |
    jq -r '.[] | .target + " " + ([.datapoints[] | select(.[0] != null) | .[0]] | last | tostring)'
}
# Until every block and state has a point in the last seconds.
N_SERIES=$((${#INSTANCES[@]} * 11))
ready() {
  local n
  alive
  n=$(render 'h.tcpconns-*.tcp_connections-*' 2>/dev/null | grep -vc ' null$' || true)
  [ "${n:-0}" -ge "$N_SERIES" ]
}
wait_for 90 ready || fail "graphite-web does not serve $N_SERIES series with recent points in 90 s:
$(render 'h.tcpconns-*.tcp_connections-*' 2>&1 | head -5)"
log "graphite-web serves every series"

# wants ORACLE: "INSTANCE STATE COUNT" for every configured block and state.
wants() {
  local inst state
  for inst in "${INSTANCES[@]}"; do
    for state in $TCP_STATES; do echo "$inst $state $(expected "$1" "$inst" "$state")"; done
  done
}
DASH_STATES=$(jq -r '.panels[] | select(.title | test("connections by state")) | .targets[0].target' "$DASHBOARD")
subst() { # text port: the dashboard's variables replaced
  local t=${1//\$host/h}
  printf '%s' "${t//\$port/$2}"
}
# snapshot: ss's counts, then (3 s later: a value reaches graphite-web a
# read and a flush after the sockets change) what graphite-web serves,
# then ss's counts again; fails if ss's counts of the blocks moved (the
# set's TIME_WAIT and FIN_WAIT2 sockets expire about 60 s after it was
# built).
snapshot() {
  local port
  oracle "$WORK/oracle"
  wants "$WORK/oracle" >"$WORK/wants.before"
  sleep 3
  render 'h.tcpconns-*.tcp_connections-*' >"$WORK/series"
  for port in 80 443; do render "$(subst "$DASH_STATES" "$port")" >"$WORK/dash.$port"; done
  oracle "$WORK/oracle.after"
  wants "$WORK/oracle.after" >"$WORK/wants.after"
  cmp -s "$WORK/wants.before" "$WORK/wants.after" || {
    log "the socket set changed meanwhile: $(diff "$WORK/wants.before" "$WORK/wants.after" | grep '^[<>]' | tr '\n' ' ')"
    return 1
  }
}
hold_still snapshot

declare -A W GOT
read_map W "$WORK/wants.before"
load() { read_map GOT "$1"; } # FILE: GOT[name]=value

# --- every series ---------------------------------------------------------------
load "$WORK/series"
compared=0
for inst in "${INSTANCES[@]}"; do
  for state in $TCP_STATES; do
    got=${GOT[h.tcpconns-$inst.tcp_connections-$state]:-}
    same_number "$got" "${W[$inst $state]}" ||
      problem "h.tcpconns-$inst.tcp_connections-$state: graphite-web's last value is ${got:-missing}, ss counts ${W[$inst $state]}"
    compared=$((compared + 1))
  done
done
for k in "80-local ESTABLISHED 3" "443-local ESTABLISHED 2" "443-remote ESTABLISHED 2" \
  "9090-local SYN_RECV 2"; do
  set -- $k
  [ "${W[$1 $2]}" = "$3" ] || problem "fixture: ss counts ${W[$1 $2]} for $1 $2, want $3"
done
log "ok - /render?format=json: $compared series, the last value of each is ss's count"

# --- the picture ------------------------------------------------------------------
png=$WORK/dashboard.png
DASH_START=-1min in_ns bash "$SRCDIR/contrib/dashboard.sh" \
  "http://127.0.0.1:$WEB_PORT" h "$png" 80 443 >"$WORK/dash.out" 2>&1 ||
  problem "contrib/dashboard.sh failed: $(cat "$WORK/dash.out")"
if [ -s "$png" ]; then
  # Size, and pixels of ESTABLISHED's colour (#2ca02c) in each panel.
  info=$("$GW_PYTHON" - "$png" <<'PY'
import sys
import cairo
s = cairo.ImageSurface.create_from_png(sys.argv[1])
w, h, stride = s.get_width(), s.get_height(), s.get_stride()
data = bytes(s.get_data())
counts = [0, 0]
for y in range(h):
    row = data[y * stride:y * stride + 4 * w]
    # ARGB32 in memory order B, G, R, A on little-endian hosts.
    counts[0 if y < h // 2 else 1] += row.count(b"\x2c\xa0\x2c\xff")
print(w, h, counts[0], counts[1])
PY
  ) || problem "cannot read $png"
  read -r pw ph top bottom <<<"$info"
  [ "$pw" = 900 ] && [ "$ph" = 680 ] || problem "the picture is ${pw}x$ph, want 900x680"
  # (The legend's swatch is about 100 pixels; the stack far more.)
  [ "${top:-0}" -gt 2000 ] && [ "${bottom:-0}" -gt 2000 ] ||
    problem "ESTABLISHED's colour fills $top pixels of the port 80 panel and $bottom of the 443 one"
  log "ok - contrib/dashboard.sh through graphite-web: a ${pw}x$ph PNG, ESTABLISHED drawn in both panels ($top, $bottom pixels)"
fi

# --- the Grafana dashboard (Graphite variant) ---------------------------------------
n_target=0
while IFS= read -r target; do
  for port in $(dashboard_ports "$target"); do
    t=$(subst "$target" "$port")
    res=$(render "$t" -60s) || { problem "dashboard target fails: $t"; continue; }
    grep -qv ' null$' <<<"$res" || problem "dashboard target returns no data: $t"
    n_target=$((n_target + 1))
  done
done < <(jq -r '.panels[] | .targets[]? | .target' "$DASHBOARD")
[ "$n_target" -ge 7 ] || problem "only $n_target dashboard targets run"
dashboard_panel_check ""
var_values() { gw /metrics/find --data-urlencode "query=$(subst "$1" "")" | jq -r '.[].text'; }
dashboard_vars_check "$DASHBOARD" query "host=h" "port=80 443 8080"
log "ok - $n_target targets of $(basename "$DASHBOARD") return data, its port panel is ss's counts, its variables list h, 80, 443"

check_log "$WORK" || problem "collectd logged errors"
problems_end
log "1 passed, 0 failed"
