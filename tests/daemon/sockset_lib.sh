# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# sockset_lib.sh: shared by the writer and fan-in daemon tests
# (writers_rrdtool.sh, writers_graphite.sh, fanin_network.sh). Source it.
#
# It checks the prerequisites (root, collectd-core, nftables, iproute2),
# makes a scratch directory $WORK with a PluginDir of copied modules
# ($PLUGIN_DIR: collectd refuses symlinked plugins), a private network
# namespace $NS holding tests/daemon/sockset's known set of TCP sockets (the
# same namespace set-up as equivalence.sh), and cleans all of it up on every
# exit: the daemons and servers started with start_bg, sockset, the
# namespace, the work directory (kept when the test fails, or with
# KEEP_WORK=1).
#
# Environment (as for equivalence.sh):
#   BUILDDIR    the build directory (default: .); tests/daemon/sockset is there
#   SRCDIR      the source tree (default: two levels above this file)
#   PLUGIN_SO   the plugin under test (default: $BUILDDIR/.libs/tcpconns_diag.so)
#   COLLECTD    the daemon (default: collectd on PATH, else /usr/sbin/collectd)
#   UPSTREAM_PLUGIN_DIR  Debian's modules (default: /usr/lib/collectd)
#   KEEP_WORK=1 keep the work directory even when the test passes
set -u
export LC_ALL=C

BUILDDIR=${BUILDDIR:-.}
SRCDIR=${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PLUGIN_SO=${PLUGIN_SO:-$BUILDDIR/.libs/tcpconns_diag.so}
UPSTREAM_PLUGIN_DIR=${UPSTREAM_PLUGIN_DIR:-/usr/lib/collectd}
TYPESDB=/usr/share/collectd/types.db

log() { printf '%s\n' "$*"; }
skip() { log "SKIP: $*"; exit 77; }
fail() { log "FAIL: $*"; exit 1; }

# The eleven state names, in upstream's order (the type instances).
STATES="ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSED CLOSE_WAIT LAST_ACK LISTEN CLOSING"

install_pkg() { # packages...: install them with apt-get, or fail quietly
  command -v apt-get >/dev/null || return 1
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 &&
      apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; }
}

# need_modules name...: Debian modules that must be in UPSTREAM_PLUGIN_DIR
# and load (their libraries installed); installs collectd-core if missing.
need_modules() {
  local so
  for so in "$@"; do
    [ -f "$UPSTREAM_PLUGIN_DIR/$so.so" ] && continue
    install_pkg collectd-core || skip "collectd-core cannot be installed"
    [ -f "$UPSTREAM_PLUGIN_DIR/$so.so" ] || skip "no $UPSTREAM_PLUGIN_DIR/$so.so"
  done
}

# need_lib module package: the module's shared library dependency
# (collectd-core only recommends them).
need_lib() {
  if ldd "$UPSTREAM_PLUGIN_DIR/$1.so" 2>/dev/null | grep -q 'not found'; then
    install_pkg "$2" || skip "$2 (needed by $1.so) cannot be installed"
    ! ldd "$UPSTREAM_PLUGIN_DIR/$1.so" | grep -q 'not found' ||
      skip "$1.so: $(ldd "$UPSTREAM_PLUGIN_DIR/$1.so" | grep 'not found' | head -1)"
  fi
}

# need_cmd command package: a command, installed from package if missing.
need_cmd() {
  command -v "$1" >/dev/null && return 0
  install_pkg "$2" || skip "$2 (for $1) cannot be installed"
  command -v "$1" >/dev/null || skip "no $1 after installing $2"
}

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables)"
COLLECTD=${COLLECTD:-$(command -v collectd || echo /usr/sbin/collectd)}
if [ ! -x "$COLLECTD" ]; then
  install_pkg collectd-core || skip "collectd-core cannot be installed"
  COLLECTD=$(command -v collectd || echo /usr/sbin/collectd)
fi
need_modules csv logfile
[ -f "$TYPESDB" ] || skip "no $TYPESDB"
need_cmd nft nftables
need_cmd ip iproute2
need_cmd ss iproute2
[ -f "$PLUGIN_SO" ] || fail "no plugin at $PLUGIN_SO (build it first)"

WORK=$(mktemp -d /tmp/tcpconns-daemon.XXXXXX)
NS=tcd-$$-${RANDOM}
PLUGIN_DIR=$WORK/plugins
mkdir -p "$PLUGIN_DIR"
cp "$PLUGIN_SO" "$PLUGIN_DIR/tcpconns_diag.so"
BG_PIDS=()
SS_PID=
SOCKSET=
RESULT=1

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  local pid
  for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${BG_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  [ -n "$SS_PID" ] && kill -TERM "$SS_PID" 2>/dev/null
  if [ -e "/run/netns/$NS" ]; then
    # Anything still in our private namespace was started by this script.
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
  fi
  wait 2>/dev/null
  case "$SOCKSET" in /tmp/sockset.*) rm -f "$SOCKSET" ;; esac
  if [ "$RESULT" = 0 ] && [ -z "${KEEP_WORK:-}" ]; then
    rm -rf "$WORK"
  else
    log "work directory kept: $WORK"
  fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 1' INT TERM HUP

# copy_modules name...: Debian's modules into the PluginDir.
copy_modules() {
  local so
  for so in "$@"; do cp "$UPSTREAM_PLUGIN_DIR/$so.so" "$PLUGIN_DIR/"; done
}

in_ns() { ip netns exec "$NS" "$@"; }

# start_bg logfile command...: runs command in the namespace, in the
# background, stdout and stderr to logfile; its PID in $BG_PID. `ip netns
# exec` execs the command, so the PID is the command's own.
start_bg() {
  local out=$1
  shift
  ip netns exec "$NS" "$@" >"$out" 2>&1 &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
}

# stop_bg pid: SIGTERM, then wait up to 10 s (SIGKILL after).
stop_bg() {
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}

# collectd_conf dir hostname interval: the common head of a collectd.conf
# (logfile at info, with severity) to stdout; the caller appends the rest.
collectd_conf() {
  cat <<EOF
Hostname "$2"
FQDNLookup false
Interval $3
BaseDir "$1"
PIDFile "$1/collectd.pid"
PluginDir "$PLUGIN_DIR"
TypesDB "$TYPESDB"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "$1/collectd.log"
  Timestamp true
  PrintSeverity true
</Plugin>
EOF
}

# wait_for seconds command...: until the command succeeds.
wait_for() {
  local n=$(($1 * 10))
  shift
  while [ $n -gt 0 ]; do
    "$@" && return 0
    sleep 0.1
    n=$((n - 1))
  done
  return 1
}

# check_log dir: a daemon's log has no error line.
check_log() {
  if grep -q '\[error\]' "$1/collectd.log" 2>/dev/null; then
    log "errors in $1/collectd.log:"
    grep '\[error\]' "$1/collectd.log" | sed 's/^/    /' | head -20
    return 1
  fi
  return 0
}

# --- the socket set ----------------------------------------------------------

# setup_sockset [command...]: the namespace, its nftables rules, sockset
# running in it with its static set, then each command sent to sockset
# ("listen 80", "connect 80", ...); returns once the set has settled.
setup_sockset() {
  local line s before
  SOCKSET=$BUILDDIR/tests/daemon/sockset
  if [ ! -x "$SOCKSET" ]; then # not built by make: build it here
    SOCKSET=$(mktemp /tmp/sockset.XXXXXX)
    ${CC:-cc} -std=c11 -D_GNU_SOURCE -o "$SOCKSET" "$SRCDIR/tests/daemon/sockset.c" ||
      fail "cannot build sockset"
  fi
  ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
  ip -n "$NS" link set lo up || fail "cannot bring lo up in $NS"
  # As in equivalence.sh (see sockset.c): SYN_SENT/SYN_RECV and the FIN
  # states held by dropped segments; ephemeral ports below the fixed ones.
  in_ns sysctl -q -w net.ipv4.tcp_syn_retries=10 net.ipv4.tcp_synack_retries=10 \
    net.ipv4.ip_local_port_range="20000 29999" ||
    fail "cannot set sysctls in $NS"
  in_ns nft -f - <<'EOF' || fail "cannot install the nftables rules"
table inet sockset {
  chain in {
    type filter hook input priority 0; policy accept;
    tcp sport 9090 tcp flags & (syn | ack) == (syn | ack) drop
    tcp dport 7777 tcp flags & fin == fin drop
    tcp sport 7778 tcp flags & fin == fin drop
  }
}
EOF
  coproc SOCKSET_CO { exec ip netns exec "$NS" "$SOCKSET" 2>"$WORK/sockset.err"; }
  SS_PID=$SOCKSET_CO_PID
  exec {SS_IN}>&"${SOCKSET_CO[1]}" {SS_OUT}<&"${SOCKSET_CO[0]}"
  if ! read -r -t 20 -u "$SS_OUT" line || [ "$line" != ready ]; then
    fail "sockset did not get ready: $(cat "$WORK/sockset.err")"
  fi
  for c in "$@"; do sockset_cmd "$c"; done
  before=$(ss_table)
  for _ in $(seq 20); do
    sleep 0.3
    s=$(ss_table)
    [ "$s" = "$before" ] && break
    before=$s
  done
  [ "$s" = "$before" ] || fail "the socket set does not settle"
}

sockset_cmd() { # command: send it to sockset, expect "ok"
  local reply
  printf '%s\n' "$1" >&"$SS_IN"
  read -r -t 10 -u "$SS_OUT" reply || fail "sockset: no reply to '$1'"
  [ "$reply" = ok ] || fail "sockset: '$1': $reply"
}

# ss_table: the namespace's TCP sockets as "STATE LOCAL PEER", sorted.
ss_table() {
  in_ns ss -tanH | awk '{ print $1, $4, $5 }' | sort
}

# oracle FILE: writes the values tcpconns must report in this namespace now,
# from `ss`, one line each: "INSTANCE STATE COUNT" for every port (N-local,
# N-remote) and for "all", zeros left out. A test reads an expected value
# with `expected FILE INSTANCE STATE` (0 when absent).
oracle() {
  in_ns ss -tanH | awk '
    BEGIN {
      split("ESTAB:ESTABLISHED SYN-SENT:SYN_SENT SYN-RECV:SYN_RECV " \
        "FIN-WAIT-1:FIN_WAIT1 FIN-WAIT-2:FIN_WAIT2 TIME-WAIT:TIME_WAIT " \
        "UNCONN:CLOSED CLOSE-WAIT:CLOSE_WAIT LAST-ACK:LAST_ACK LISTEN:LISTEN " \
        "CLOSING:CLOSING", m, " ")
      for (i in m) { split(m[i], kv, ":"); name[kv[1]] = kv[2] }
    }
    function port(a) { sub(/^.*:/, "", a); return a }
    {
      st = ($1 in name) ? name[$1] : "UNKNOWN_" $1
      c[port($4) "-local " st]++
      if (port($5) != "*") c[port($5) "-remote " st]++
      c["all " st]++
    }
    END { for (k in c) print k, c[k] }' | sort >"$1"
}

expected() { # file instance state
  awk -v i="$2" -v s="$3" '$1 == i && $2 == s { v = $3 } END { print v + 0 }' "$1"
}

# same_number a b: the two numbers are equal (as numbers: 3, 3.0, 3e+00).
same_number() {
  awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[-+0-9.eE]+$/ && b ~ /^[-+0-9.eE]+$/ && a + 0 == b + 0) }'
}

# --- carbon (graphite-carbon) ------------------------------------------------

# need_carbon: carbon-cache and whisper-fetch, installed if missing.
need_carbon() {
  command -v carbon-cache >/dev/null && command -v whisper-fetch >/dev/null && return 0
  install_pkg graphite-carbon python3-whisper ||
    skip "graphite-carbon cannot be installed"
  command -v carbon-cache >/dev/null && command -v whisper-fetch >/dev/null ||
    skip "no carbon-cache or whisper-fetch after installing graphite-carbon"
}

# start_carbon dir line-port pickle-port query-port: a carbon-cache in the
# namespace on 127.0.0.1 with its own configuration, whisper files and logs
# under dir (never the system's), keeping every metric at 1 s resolution;
# returns once it listens. Its PID in $BG_PID; its whisper tree is
# dir/whisper.
start_carbon() {
  local dir=$1
  mkdir -p "$dir/conf" "$dir/whisper" "$dir/log" "$dir/run"
  cat >"$dir/conf/carbon.conf" <<CONF
[cache]
STORAGE_DIR = $dir/
LOCAL_DATA_DIR = $dir/whisper/
WHITELISTS_DIR = $dir/lists/
CONF_DIR = $dir/conf/
LOG_DIR = $dir/log/
PID_DIR = $dir/run/
DATABASE = whisper
ENABLE_LOGROTATION = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 10000
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = $2
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = $3
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = $4
LOG_CREATES = True
LOG_UPDATES = False
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = True
CARBON_METRIC_INTERVAL = 0
# Else carbon posts every new metric name to graphite-web's tag API at
# GRAPHITE_URL (default http://127.0.0.1:80): a connection to port 80 here.
ENABLE_TAGS = False
CONF
  cat >"$dir/conf/storage-schemas.conf" <<CONF
[everything]
pattern = .*
retentions = 1s:1h
CONF
  cat >"$dir/conf/storage-aggregation.conf" <<CONF
[everything]
pattern = .*
xFilesFactor = 0
aggregationMethod = last
CONF
  start_bg "$dir/stdout" carbon-cache --config="$dir/conf/carbon.conf" \
    --pidfile="$dir/run/carbon.pid" --logdir="$dir/log" --nodaemon start
  carbon_listens() { in_ns ss -tlnH "sport = :$1" | grep -q LISTEN; }
  wait_for 20 carbon_listens "$2" ||
    fail "carbon-cache did not start: $(tail -n 20 "$dir/stdout")"
}

# wsp_last file since: the last value whisper-fetch reads from the file at
# or after the time since (epoch seconds), empty if none.
wsp_last() {
  whisper-fetch --from="$2" "$1" 2>/dev/null |
    awk '$2 != "None" { v = $2 } END { print v }'
}
