#!/bin/bash
# SPDX-License-Identifier: MIT
# prometheus.sh: a real Prometheus gets the counts `ss` sees, both ways the
# README describes:
#   - collectd (Debian's) with tcpconns_diag and collectd's own
#     write_prometheus plugin, scraped with honor_labels: true;
#   - tcpconns-diag --format prometheus --output FILE (no collectd) read by
#     node_exporter's textfile collector (Debian's
#     prometheus-node-exporter), scraped too.
# Everything runs in the socket-set namespace (tests/daemon/sockset's known
# set, plus listeners on 80 and 443 with connections, plus a listener on
# 8000 whose accept queue is full), on 127.0.0.1, with Debian's
# `prometheus` started by the test (its storage under the work directory,
# scraping every second). Then, through Prometheus's HTTP API:
#   - every series of every configured block, collectd's
#     collectd_tcpconns_tcp_connections{tcpconns,type} and the CLI's
#     tcpconns_connections{port,direction,state}, equals what ss counts, a
#     port range included, and so do the README's example queries (a
#     port's states summed by state);
#   - the accept queue and backlog of 8000 (both paths) equal ss's Recv-Q
#     and Send-Q of the listener;
#   - the rules of contrib/prometheus/tcpconns-rules.yml, loaded into this
#     Prometheus, all evaluate without error, and TCPAcceptQueueNearlyFull
#     is active for port 8000 (both groups) and for nothing else;
#   - every query of the Prometheus Grafana dashboard
#     (contrib/grafana/tcpconns-prometheus.json: panel targets with $port =
#     80 and 443, and the variable queries) returns data, and its per-port
#     panel returns ss's counts.
# Also: promtool check rules and promtool test rules on the contrib files,
# promtool check config on the test's configuration, promtool check metrics
# on the CLI's output; --output replaces its file atomically (a new inode
# each read, readers never see a partial file, mode 0666 less the umask, no
# temporary file left, left alone when a run fails); --netns NAME adds a
# netns label, escaped (a name with a quote and a backslash); the command
# line of contrib/systemd/tcpconns-diag-textfile.service runs without any
# capability and writes a file promtool accepts; systemd-analyze verify
# finds nothing wrong in the units (when systemd-analyze is there).
# The set's TIME_WAIT and orphaned FIN_WAIT2 sockets expire about 60 s
# after it is built: the comparisons use a snapshot taken while ss's counts
# stay put (retried otherwise).
#
# Environment: see tests/lib.sh (BUILDDIR, SRCDIR, PLUGIN_SO, KEEP_WORK, ...), and
#   CLI          the program under test (default: $BUILDDIR/tcpconns-diag)
#   PROM_EXTRA   self-check only: a line added to the tcpconns_diag block
#                (not to the expectation); with e.g. 'LocalPort "9998"' ...
#   CLI_EXTRA    ... or flags added to the CLI (e.g. "--local-port 9998"):
#                the test must fail
#
# Exit: 0 pass, 1 fail, 77 skip (not root, or a package cannot be installed).
. "$(dirname "$0")/../lib.sh"

PROM_PORT=19090 # Prometheus (its usual 9090 is a port of the socket set)
WP_PORT=19103   # write_prometheus
NE_PORT=19100   # node_exporter
CLI=${CLI:-$BUILDDIR/tcpconns-diag}

# install_stopped PKG SERVICE...: installs PKG if missing (else skips),
# then stops the system SERVICEs its postinst may have started on the host.
install_stopped() {
  local pkg=$1 s
  shift
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' && return 0
  install_pkg "$pkg" || skip "$pkg cannot be installed"
  for s in "$@"; do
    systemctl stop "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
  done
}

need_root "network namespaces, nftables"
need_collectd write_prometheus
# write_prometheus.so needs libmicrohttpd and libprotobuf-c, which
# collectd-core only suggests.
if ldd "$UPSTREAM_PLUGIN_DIR/write_prometheus.so" | grep -q 'not found'; then
  install_pkg libmicrohttpd12 libprotobuf-c1 ||
    skip "libmicrohttpd12 and libprotobuf-c1 (for write_prometheus) cannot be installed"
fi
missing=$(ldd "$UPSTREAM_PLUGIN_DIR/write_prometheus.so" | grep 'not found' || true)
[ -z "$missing" ] || skip "write_prometheus.so: $missing"
install_stopped prometheus prometheus
install_stopped prometheus-node-exporter prometheus-node-exporter
need_cmd prometheus
need_cmd promtool prometheus
need_cmd prometheus-node-exporter
need_cmd nft nftables
need_cmd ss iproute2
need_cmd curl
need_cmd jq
need_cmd python3
need_cmd setpriv util-linux
[ -x "$CLI" ] || fail "no CLI at $CLI (build it first)"
work_dir prom
plugin_dir logfile write_prometheus

RULES=$SRCDIR/contrib/prometheus/tcpconns-rules.yml
DASHBOARD=$SRCDIR/contrib/grafana/tcpconns-prometheus.json
UNIT=$SRCDIR/contrib/systemd/tcpconns-diag-textfile.service

# --- the contrib files alone -------------------------------------------------
promtool check rules "$RULES" >"$WORK/check_rules.out" 2>&1 ||
  fail "promtool check rules $RULES: $(cat "$WORK/check_rules.out")"
log "ok - promtool check rules: $(grep -o 'SUCCESS.*' "$WORK/check_rules.out")"
promtool test rules "$SRCDIR/contrib/prometheus/tcpconns-rules.test.yml" \
  >"$WORK/test_rules.out" 2>&1 ||
  fail "promtool test rules: $(cat "$WORK/test_rules.out")"
log "ok - promtool test rules contrib/prometheus/tcpconns-rules.test.yml"

# --- the socket set, collectd, the CLI, node_exporter, Prometheus -------------
BLOCK=('LocalPort "80"' 'LocalPort "443"' 'RemotePort "443"' 'LocalPort "8080"'
  'RemotePort "8080"' 'LocalPort "8443"' 'LocalPort "9090"' 'RemotePort "9090"'
  'LocalPort "7777"' 'RemotePort "7777"' 'LocalPort "7778"' 'LocalPort "45000"'
  'RemotePort "45000"' 'LocalPort "65535"' 'LocalPort "9999"' 'LocalPort "8000"'
  'LocalPort "8000-8099"')
CLI_FLAGS=()
INSTANCES=()
for b in "${BLOCK[@]}"; do
  set -- $b
  p=${2//\"/}
  case $1 in
  LocalPort) CLI_FLAGS+=(--local-port "$p") INSTANCES+=("$p-local") ;;
  RemotePort) CLI_FLAGS+=(--remote-port "$p") INSTANCES+=("$p-remote") ;;
  esac
done

sockset_start "listen 80" "connect 80" "connect 80" "connect 80" \
  "listen 443" "connect 443" "connect 443"
# glibc's getaddrinfo(AI_ADDRCONFIG), which write_prometheus uses, finds no
# address in a namespace with only 127.0.0.1: give lo another one.
in_ns ip addr add 192.0.2.1/32 dev lo
# 8000: backlog 4, four connections never accepted: a full accept queue.
ns_bg "$NS" "$WORK/hold.out" python3 -c '
import socket, time
l = socket.socket(); l.bind(("127.0.0.1", 8000)); l.listen(4)
c = [socket.create_connection(("127.0.0.1", 8000)) for _ in range(4)]
print("ready", flush=True)
time.sleep(600)'
wait_for 10 grep -q ready "$WORK/hold.out" || fail "the 8000 holder: $(cat "$WORK/hold.out")"
sockset_settle
queue_ss=$(in_ns ss -Hltn 'sport = :8000' | awk '{ print $2, $3 }')

conf_write "$WORK/collectd.conf" -e "LoadPlugin write_prometheus
<Plugin write_prometheus>
  Host \"127.0.0.1\"
  Port \"$WP_PORT\"
</Plugin>" -- "${BLOCK[@]}" 'AllPortsSummary true' 'ReportAcceptQueue true' \
  ${PROM_EXTRA:+"$PROM_EXTRA"}
show_on_fail "$WORK/collectd.log" "$WORK/prometheus.log" "$WORK/node_exporter.log" "$WORK/cli.log"
ns_bg "$NS" "$WORK/collectd.out" "$COLLECTD" -f -C "$WORK/collectd.conf"
CD_PID=$BG_PID

mkdir -p "$WORK/textfile"
# shellcheck disable=SC2086 # CLI_EXTRA: words
ns_bg "$NS" "$WORK/cli.log" "$CLI" --format prometheus --all "${CLI_FLAGS[@]}" \
  ${CLI_EXTRA:-} --watch 1 --output "$WORK/textfile/tcpconns.prom"
CLI_PID=$BG_PID
ns_bg "$NS" "$WORK/node_exporter.log" prometheus-node-exporter \
  --collector.disable-defaults --collector.textfile \
  --collector.textfile.directory="$WORK/textfile" \
  --web.listen-address="127.0.0.1:$NE_PORT"
NE_PID=$BG_PID

mkdir -p "$WORK/prom"
cat >"$WORK/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: collectd
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:$WP_PORT']
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:$NE_PORT']
EOF
promtool check config "$WORK/prom/prometheus.yml" >"$WORK/check_config.out" 2>&1 ||
  fail "promtool check config: $(cat "$WORK/check_config.out")"
ns_bg "$NS" "$WORK/prometheus.log" prometheus \
  --config.file="$WORK/prom/prometheus.yml" \
  --storage.tsdb.path="$WORK/prom/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT"
PROM_PID=$BG_PID

# prom_get PATH [CURL-ARGS...]: Prometheus's JSON answer (status success).
prom_get() {
  local path=$1 out
  shift
  out=$(in_ns curl -sS -G "$@" "http://127.0.0.1:$PROM_PORT$path" 2>&1) || {
    log "  $path: $out" >&2
    return 1
  }
  [ "$(jq -r .status <<<"$out" 2>/dev/null)" = success ] || {
    log "  $path $*: $out" >&2
    return 1
  }
  printf '%s\n' "$out"
}
# query PROMQL: the instant vector, one line per series: its labels as
# "name=value" sorted and joined by commas, a blank, the value.
query() {
  prom_get /api/v1/query --data-urlencode "query=$1" | jq -r '
    .data.result[] | (.metric | del(.__name__) | to_entries | sort_by(.key)
      | map("\(.key)=\(.value)") | join(",")) + " " + .value[1]'
}
count_of() { # PROMQL: its value (a scalar-like one-series vector), or 0
  query "$1" | awk '{ v = $NF } END { print v + 0 }'
}

alive() {
  bg_alive "$CD_PID" collectd "$WORK/collectd.log" "$WORK/collectd.out"
  bg_alive "$CLI_PID" tcpconns-diag "$WORK/cli.log"
  bg_alive "$NE_PID" node_exporter "$WORK/node_exporter.log"
  bg_alive "$PROM_PID" prometheus "$WORK/prometheus.log"
}
N_SERIES=$((${#INSTANCES[@]} * 11))
ready() {
  alive
  [ "$(count_of 'count(collectd_tcpconns_tcp_connections{tcpconns!="all"})' 2>/dev/null)" = "$N_SERIES" ] &&
    [ "$(count_of 'count(tcpconns_connections)' 2>/dev/null)" = "$N_SERIES" ] &&
    [ "$(count_of 'count(ALERTS{alertname="TCPAcceptQueueNearlyFull"})' 2>/dev/null)" -ge 2 ]
}
wait_for 60 ready || fail "Prometheus has not got every series and alert in 60 s:
  collectd: $(count_of 'count(collectd_tcpconns_tcp_connections{tcpconns!="all"})') of $N_SERIES series
  textfile: $(count_of 'count(tcpconns_connections)') of $N_SERIES series
  targets: $(prom_get /api/v1/targets | jq -c '[.data.activeTargets[] | [.labels.job, .health, .lastError]]')
  alerts: $(query 'ALERTS')"
log "Prometheus has $N_SERIES series from each path"

# wants ORACLE: "INSTANCE STATE COUNT" for every configured block and state,
# what ss counts (a range: the counts of its ports summed).
wants() {
  printf '%s\n' "${INSTANCES[@]}" | awk -v states="$TCP_STATES" -v oracle="$1" '
    BEGIN {
      while ((getline line < oracle) > 0) {
        split(line, f, " ")
        count[f[1] " " f[2]] = f[3]
      }
      nstates = split(states, st, " ")
    }
    {
      n = split($1, part, "-")
      for (i = 1; i <= nstates; i++) {
        v = 0
        if (n == 3) { # LOW-HIGH-side
          for (k in count) {
            split(k, ks, " ")
            split(ks[1], kp, "-")
            if (kp[2] == part[3] && ks[2] == st[i] && kp[1] + 0 >= part[1] + 0 && kp[1] + 0 <= part[2] + 0)
              v += count[k]
          }
        } else {
          v = count[$1 " " st[i]] + 0
        }
        print $1, st[i], v
      }
    }'
}

# snapshot: ss's counts, then (3 s later: a value reaches Prometheus a read
# and a scrape after the sockets change) everything the checks below ask
# Prometheus, then ss's counts again; fails if ss's counts of the blocks
# moved meanwhile (the set's TIME_WAIT and orphaned FIN_WAIT2 sockets
# expire about 60 s after it was built).
DASH_STATES=$(jq -r '.panels[] | select(.title | test("connections by state")) | .targets[0].expr' "$DASHBOARD")
snapshot() {
  local port
  oracle "$WORK/oracle"
  wants "$WORK/oracle" >"$WORK/wants.before"
  sleep 3
  query 'collectd_tcpconns_tcp_connections{tcpconns!="all"}' >"$WORK/collectd.series"
  query 'tcpconns_connections' >"$WORK/textfile.series"
  for port in 80 443 8000-8099; do
    query "sum by (type) (collectd_tcpconns_tcp_connections{tcpconns=\"$port-local\"})" >"$WORK/sum.collectd.$port"
    query "sum by (state) (tcpconns_connections{port=\"$port\",direction=\"local\"})" >"$WORK/sum.textfile.$port"
  done
  for port in 80 443; do
    query "$(subst "$DASH_STATES" "$port")" >"$WORK/dash.$port"
  done
  oracle "$WORK/oracle.after"
  wants "$WORK/oracle.after" >"$WORK/wants.after"
  cmp -s "$WORK/wants.before" "$WORK/wants.after" || {
    log "the socket set changed while Prometheus was asked: $(diff "$WORK/wants.before" "$WORK/wants.after" | grep '^[<>]' | tr '\n' ' ')"
    return 1
  }
}
subst() { # text port: the dashboard's variables replaced
  local t=${1//\$instance/h}
  printf '%s' "${t//\$port/$2}"
}
hold_still snapshot

# --- every series, both paths ------------------------------------------------
declare -A W GOT
read_map W "$WORK/wants.before"
load() { read_map GOT "$1"; } # FILE: GOT[labels]=value
compared=0
load "$WORK/collectd.series"
for inst in "${INSTANCES[@]}"; do
  for state in $TCP_STATES; do
    w=${W[$inst $state]}
    got=${GOT[instance=h,job=collectd,tcpconns=$inst,type=$state]:-}
    same_number "$got" "$w" || problem "collectd_tcpconns_tcp_connections{tcpconns=\"$inst\",type=\"$state\"} is ${got:-missing}, ss counts $w"
    compared=$((compared + 1))
  done
done
load "$WORK/textfile.series"
for inst in "${INSTANCES[@]}"; do
  port=${inst%-*} dir=${inst##*-}
  for state in $TCP_STATES; do
    w=${W[$inst $state]}
    got=${GOT[direction=$dir,instance=127.0.0.1:$NE_PORT,job=node,port=$port,state=${state,,}]:-}
    same_number "$got" "$w" || problem "tcpconns_connections{port=\"$port\",direction=\"$dir\",state=\"${state,,}\"} is ${got:-missing}, ss counts $w"
    compared=$((compared + 1))
  done
done
log "ok - compared $compared series with ss ($((compared / 2)) through write_prometheus, as many through the textfile)"

# The fixture: the values that matter are not all zero.
for k in "80-local ESTABLISHED 3" "443-local ESTABLISHED 2" "443-remote ESTABLISHED 2" \
  "9090-local SYN_RECV 2" "8000-local ESTABLISHED 4" "8000-local LISTEN 1" \
  "8000-8099-local LISTEN 3"; do
  set -- $k
  [ "${W[$1 $2]}" = "$3" ] || problem "fixture: ss counts ${W[$1 $2]} for $1 $2, want $3"
done

# --- the README's example queries ---------------------------------------------
for port in 80 443 8000-8099; do
  load "$WORK/sum.collectd.$port"
  for state in $TCP_STATES; do
    got=${GOT[type=$state]:-}
    same_number "$got" "${W[$port-local $state]}" || problem "sum by (type) (... {tcpconns=\"$port-local\"}): $state is ${got:-missing}, ss counts ${W[$port-local $state]}"
  done
  load "$WORK/sum.textfile.$port"
  for state in $TCP_STATES; do
    got=${GOT[state=${state,,}]:-}
    same_number "$got" "${W[$port-local $state]}" || problem "sum by (state) (tcpconns_connections{port=\"$port\"}): ${state,,} is ${got:-missing}, ss counts ${W[$port-local $state]}"
  done
done
log "ok - a port's states (80, 443, 8000-8099) summed by state, both paths, are ss's"

# --- accept queues --------------------------------------------------------------
read -r q_ss b_ss <<<"$queue_ss"
[ "$q_ss" = 4 ] && [ "$b_ss" = 4 ] || problem "fixture: ss shows 8000's Recv-Q $q_ss, Send-Q $b_ss; want 4 and 4"
got=$(query 'collectd_tcpconns_queue_length{tcpconns="8000-local"}' | awk '{ print $1, $2 }' | sort)
exp="instance=h,job=collectd,tcpconns=8000-local,type=accept $q_ss
instance=h,job=collectd,tcpconns=8000-local,type=backlog $b_ss"
[ "$got" = "$exp" ] || problem "collectd_tcpconns_queue_length for 8000-local: $got; ss: accept $q_ss, backlog $b_ss"
got="$(count_of 'tcpconns_accept_queue{port="8000"}') $(count_of 'tcpconns_accept_backlog{port="8000"}')"
[ "$got" = "$q_ss $b_ss" ] || problem "tcpconns_accept_queue and _backlog for 8000: $got; ss: $q_ss $b_ss"
log "ok - accept queue and backlog of 8000 ($q_ss, $b_ss) through both paths"

# --- the rules -------------------------------------------------------------------
prom_get /api/v1/rules >"$WORK/rules.json" || problem "no /api/v1/rules"
n_rules=$(jq '[.data.groups[].rules[]] | length' "$WORK/rules.json")
bad=$(jq -r '.data.groups[].rules[] | select(.health != "ok") | "\(.name): \(.health) \(.lastError)"' "$WORK/rules.json")
[ "$n_rules" -ge 7 ] || problem "Prometheus loaded $n_rules rules from $RULES"
[ -z "$bad" ] || problem "rules that do not evaluate: $bad"
active=$(query 'ALERTS{alertname="TCPAcceptQueueNearlyFull"}' |
  sed -E 's/(^|,)alertstate=[a-z]+//; s/^,//' | awk '{ print $1 }' | sort)
exp="alertname=TCPAcceptQueueNearlyFull,instance=127.0.0.1:$NE_PORT,job=node,port=8000,severity=warning,source=textfile
alertname=TCPAcceptQueueNearlyFull,instance=h,job=collectd,severity=warning,source=collectd,tcpconns=8000-local"
[ "$active" = "$exp" ] || problem "active TCPAcceptQueueNearlyFull alerts:
$active
want:
$exp"
log "ok - $n_rules rules evaluate; TCPAcceptQueueNearlyFull active for port 8000 only, both groups"

# --- the Grafana dashboard (Prometheus variant) ----------------------------------
n_expr=0
while IFS= read -r expr; do
  for port in $(dashboard_ports "$expr"); do
    e=$(subst "$expr" "$port")
    res=$(query "$e") || { problem "dashboard query fails: $e"; continue; }
    [ -n "$res" ] || problem "dashboard query returns no data: $e"
    n_expr=$((n_expr + 1))
  done
done < <(jq -r '.panels[] | .targets[]? | .expr' "$DASHBOARD")
[ "$n_expr" -ge 7 ] || problem "only $n_expr dashboard queries run"
# The per-port panel (from the snapshot) is ss's counts.
dashboard_panel_check "type="
# The variables: label_values(METRIC{...}, LABEL), through the API Grafana
# uses for them.
var_values() {
  local def
  def=$(subst "$1" "")
  [[ $def =~ ^label_values\((.*),\ *([a-z_]+)\)$ ]] || return 1
  prom_get "/api/v1/label/${BASH_REMATCH[2]}/values" \
    --data-urlencode "match[]=${BASH_REMATCH[1]}" | jq -r '.data[]'
}
dashboard_vars_check "$DASHBOARD" definition "instance=h" "port=80 443 8000 8000-8099"
log "ok - $n_expr queries of $(basename "$DASHBOARD") return data, its port panel is ss's counts, its variables list h, 80, 443"

# --- the CLI's file ----------------------------------------------------------------
f=$WORK/textfile/tcpconns.prom
promtool check metrics <"$f" >"$WORK/check_metrics.out" 2>&1 ||
  problem "promtool check metrics on the CLI's file: $(cat "$WORK/check_metrics.out")"
[ -z "$(find "$WORK/textfile" -mindepth 1 ! -name tcpconns.prom)" ] ||
  problem "files left in the textfile directory: $(ls -A "$WORK/textfile")"
[ "$(stat -c %a "$f")" = 644 ] || problem "the file's mode is $(stat -c %a "$f") (umask $(umask)), want 644"
log "ok - promtool check metrics accepts the CLI's output; mode 644; no temporary file left"

# --netns NAME labels every series, escaped as the format wants (a
# namespace name may hold a quote or a backslash).
qns="tcd-q\"\\-$$"
if ip netns add "$qns" 2>/dev/null; then
  on_exit "ns_del $(printf %q "$qns")"
  "$CLI" --netns "$qns" --format prometheus --all >"$WORK/qns.prom" 2>"$WORK/qns.err" ||
    problem "tcpconns-diag --netns '$qns': $(cat "$WORK/qns.err")"
  promtool check metrics <"$WORK/qns.prom" >"$WORK/qns.check" 2>&1 ||
    problem "promtool check metrics with a quoted namespace label: $(cat "$WORK/qns.check")"
  grep -qF "tcpconns_all_connections{state=\"listen\",netns=\"tcd-q\\\"\\\\-$$\"} 0" "$WORK/qns.prom" ||
    problem "no escaped netns label in: $(grep all_connections "$WORK/qns.prom" | head -2)"
  log "ok - --netns adds an escaped netns label: $(grep -m1 'all_connections{state="listen"' "$WORK/qns.prom")"
else
  log "# no namespace named with a quote here: its escaping is not tested"
fi

# Atomic replacement: a reader never sees a partial file, each read is a
# new file (rename), and a failed run leaves the file alone.
mkdir -p "$WORK/atomic"
a=$WORK/atomic/t.prom
ns_bg "$NS" "$WORK/atomic.log" "$CLI" --format prometheus --all "${CLI_FLAGS[@]}" \
  --watch 0.1 --output "$a"
ATOMIC_PID=$BG_PID
wait_for 5 test -s "$a" || fail "tcpconns-diag --watch 0.1 --output wrote nothing: $(cat "$WORK/atomic.log")"
# Reads for 3 s at least, and until the file's inode has changed 5 times
# (a new file renamed over it; 30 s at most: the machine may be slow).
reads=0
partial=0
changes=0
inode=$(stat -c %i "$a")
start=$SECONDS
while [ $((SECONDS - start)) -lt 3 ] || { [ $changes -lt 5 ] && [ $((SECONDS - start)) -lt 30 ]; }; do
  c=$(<"$a")
  reads=$((reads + 1))
  [[ $c == '# HELP tcpconns_connections '* && $c == *$'\n'"tcpconns_read_duration_seconds "* ]] ||
    partial=$((partial + 1))
  if [ $((reads % 10)) = 0 ]; then
    i=$(stat -c %i "$a")
    [ "$i" = "$inode" ] || changes=$((changes + 1))
    inode=$i
  fi
done
bg_stop "$ATOMIC_PID"
[ "$partial" = 0 ] || problem "$partial of $reads reads saw a partial file"
[ "$changes" -ge 5 ] || problem "the file's inode changed $changes times in $((SECONDS - start)) s of --watch 0.1: the file is not replaced"
[ -z "$(find "$WORK/atomic" -mindepth 1 ! -name t.prom)" ] || problem "left behind: $(ls -A "$WORK/atomic")"
(umask 027 && in_ns "$CLI" --format prometheus --output "$WORK/atomic/u.prom") ||
  problem "tcpconns-diag --output failed under umask 027"
[ "$(stat -c %a "$WORK/atomic/u.prom" 2>/dev/null)" = 640 ] ||
  problem "under umask 027 the file's mode is $(stat -c %a "$WORK/atomic/u.prom" 2>/dev/null), want 640"
sum_before=$(md5sum <"$a")
rc=0
"$CLI" --netns "no-such-ns-$$" --format prometheus --output "$a" 2>/dev/null || rc=$?
[ "$rc" = 1 ] || problem "a run into a missing namespace exits $rc, want 1"
[ "$(md5sum <"$a")" = "$sum_before" ] || problem "a failed run changed the file"
rc=0
"$CLI" --format prometheus --output "$WORK/no-such-dir/t.prom" 2>"$WORK/nodir.err" || rc=$?
[ "$rc" = 1 ] && grep -q 'no-such-dir' "$WORK/nodir.err" ||
  problem "--output into a missing directory: exit $rc, $(cat "$WORK/nodir.err")"
log "ok - --output: $reads reads, none partial, the file replaced (a new inode $changes times); umask respected; a failed run leaves the file"

# --- the systemd example -------------------------------------------------------------
exec_start=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$UNIT" | sed 's/^ExecStart=//; s/\\$//' | tr -s ' \n' ' ')
[[ $exec_start == /usr/bin/tcpconns-diag* ]] || problem "unexpected ExecStart in $UNIT: $exec_start"
mkdir -p "$WORK/unit"
cmd=${exec_start/\/usr\/bin\/tcpconns-diag/$CLI}
cmd=${cmd//\/var\/lib\/prometheus\/node-exporter/$WORK/unit}
# As the unit runs it: root without a single capability, no new privileges.
# shellcheck disable=SC2086 # the unit's words
if ! (umask 022 && in_ns setpriv --bounding-set=-all --inh-caps=-all --no-new-privs $cmd) >"$WORK/unit.out" 2>&1; then
  problem "the unit's command without capabilities failed: $cmd: $(cat "$WORK/unit.out")"
else
  uf=$WORK/unit/tcpconns.prom
  promtool check metrics <"$uf" >"$WORK/unit.check" 2>&1 || problem "promtool check metrics on the unit's file: $(cat "$WORK/unit.check")"
  for port in 80 443; do
    w=${W[$port-local ESTABLISHED]}
    got=$(awk -v k="tcpconns_connections{port=\"$port\",direction=\"local\",state=\"established\"}" '$1 == k { print $2 }' "$uf")
    same_number "$got" "$w" || problem "the unit's file: port $port established is ${got:-missing}, ss counts $w"
  done
  [ "$(stat -c %a "$uf")" = 644 ] || problem "the unit's file has mode $(stat -c %a "$uf")"
  log "ok - the unit's ExecStart runs without capabilities and writes ss's counts"
fi
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$WORK/units"
  for u in "$UNIT" "${UNIT%.service}.timer"; do
    sed "s|/usr/bin/tcpconns-diag|$CLI|" "$u" >"$WORK/units/$(basename "$u")"
  done
  (cd "$WORK/units" && systemd-analyze verify ./tcpconns-diag-textfile.service \
    ./tcpconns-diag-textfile.timer) >"$WORK/verify.out" 2>&1 || true
  # Only lines about our units, less the man page (not installed here).
  bad=$(grep '^tcpconns-diag-textfile\.' "$WORK/verify.out" | grep -v "Command 'man " || true)
  [ -z "$bad" ] || problem "systemd-analyze verify: $bad"
  log "ok - systemd-analyze verify finds nothing in the units"
fi

# --- collectd's log --------------------------------------------------------------
# write_prometheus of collectd 5.12 logs one line at error level at start
# about libmicrohttpd's option order; it is harmless and not this plugin's.
errors=$(grep '\[error\]' "$WORK/collectd.log" | grep -v 'MHD_OPTION_EXTERNAL_LOGGER' || true)
[ -z "$errors" ] || problem "collectd logged errors: $errors"

problems_end
log "1 passed, 0 failed"
