# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# tests/lib.sh: the one shell library of the project's scripts (tests/,
# bench/, contrib/). Source it first:
#
#   . "$(dirname "$0")/../lib.sh"          # from tests/daemon/X.sh
#
# Sourcing it sets the rules every script lives by, and does nothing else
# (it checks, creates and starts nothing; call what you need):
#   - set -Eeuo pipefail and LC_ALL=C. A command that fails outside a
#     condition ends the script; so does a pipeline whose first part fails
#     (`grep -c` with no match, `find` of a missing dir): write `|| true`
#     where that is fine.
#   - Exit status: 0 pass, 1 fail, 77 skip (skip, fail below).
#   - At exit, whatever the reason: the background processes of ns_bg are
#     stopped (SIGTERM, then SIGKILL after 5 s), then the on_exit hooks run,
#     last registered first, then the work directory of work_dir is removed,
#     unless the script failed (any status but 0, 77 or an interruption):
#     then it is kept and its path printed, with the last lines of the files
#     given to show_on_fail. KEEP_WORK=1 keeps it in every case.
#   - SIGINT, SIGTERM, SIGHUP end the script as an interruption (130, 143,
#     129): cleaned up, the work directory removed.
#
# A daemon test, in short (see tests/daemon/writers_rrdtool.sh):
#   . "$(dirname "$0")/../lib.sh"
#   daemon_setup mytest tcpconns     # root, collectd, its modules, WORK, PLUGIN_DIR
#   sockset_start "listen 80"        # namespace $NS with the known socket set
#   sockset_settle
#   oracle "$WORK/oracle.before"     # what ss counts there
#   daemon_start "$WORK/ours" tcpconns_diag 'LocalPort "80"' "" -w csv
#   ... wait_for, compare, `fail "what differs"` ...
# fail and skip end the script, except inside $(...), where they end only
# that subshell (the message is still printed).
#
# Environment (all optional):
#   BUILDDIR    the build directory (default: .); test helpers built by make
#               are in tests/daemon/ there
#   SRCDIR      the source tree (default: the one this file is in)
#   PLUGIN_SO   the plugin under test (default: $BUILDDIR/.libs/tcpconns_diag.so)
#   COLLECTD    the daemon (default: collectd on PATH, else /usr/sbin/collectd)
#   UPSTREAM_PLUGIN_DIR  Debian's collectd modules (default: /usr/lib/collectd)
#   KEEP_WORK=1 keep the work directory even when the script passes
#   CC          compiler for helpers make did not build (default: cc)
#
# API, one line each (details above each function):
#   log TEXT...               a line on stdout
#   problem TEXT...           log "  TEXT" and go on; problems_end fails later
#   problems_end              fail "see above" if problem was called
#   skip REASON               "SKIP: REASON", exit 77
#   fail REASON               "FAIL: REASON" on stderr, exit 1
#   on_exit COMMAND           run COMMAND (a string, eval'd) at exit; LIFO
#   show_on_fail FILE...      at a failed exit, print the last 30 lines of each
#   need_root [WHY]           skip unless root
#   install_pkg PKG...        apt-get install, quiet; returns 1 if impossible
#   need_cmd CMD [PKG...]     CMD on PATH, else install PKGs (default CMD), else skip
#   work_dir [TAG]            WORK=/tmp/tcd-TAG.XXXXXX, removed at exit (above)
#   wait_for SECS CMD...      until CMD succeeds (tried every 0.1 s); 1 on timeout
#   fd_close FD               close descriptor FD of this shell
#   helper_prog VAR NAME      VAR=path of tests/daemon/NAME (built if make did not)
#   build_plugin DIR          build the source tree out of tree in DIR
#   ns_new VAR TAG [EHASH]    new namespace tcd-TAG-PID-N, lo up, in VAR; deleted at exit
#   ns_del NAME               kill what runs in namespace NAME, delete it (if there)
#   in_ns CMD...              CMD in namespace $NS
#   ns_bg NS OUT CMD...       CMD in namespace NS in the background, output to OUT;
#                             its PID in BG_PID; stopped at exit
#   bg_track PID              stop PID at exit too (a child started otherwise)
#   bg_stop PID [SECS]        SIGTERM, wait up to SECS (10), SIGKILL, reap
#   bg_alive PID WHAT FILE... fail "WHAT died" with the tails of FILEs unless PID runs
#   bg_term RCS PID...        SIGTERM to each, wait for each; exit statuses in array RCS
#  collectd:
#   daemon_setup TAG [MODULE...]  root, collectd, WORK and PLUGIN_DIR at once
#   need_collectd [MODULE...] COLLECTD, TYPESDB, the plugin under test, Debian's
#                             csv, logfile and MODULEs (installs collectd-core, else skip)
#   need_lib MODULE PKG       MODULE's shared libraries (installs PKG, else skip)
#   plugin_dir [MODULE...]    PLUGIN_DIR=$WORK/plugins: copies of the plugin under
#                             test and of Debian's MODULEs (collectd refuses symlinks)
#   conf_write FILE [OPT...] [-- LINE...]  a collectd.conf (options below)
#   daemon_start DIR PLUGIN BLOCK EXTRA [OPT...]  collectd in $NS with PLUGIN's
#                             BLOCK (+ EXTRA unless upstream's), DIR its home
#   check_log DIR             DIR/collectd.log has no [error] line (prints them)
#   csv_rows DIR              "identifier time value" for every row of a csv DataDir
#   csv_values DIR IDENT      the values of DIR/csv/h/IDENT-*, one a line
#   hold_still FN             FN until it succeeds, 5 tries (a still snapshot)
#   read_map ARRAY FILE       ARRAY[KEY]=VALUE from "KEY... VALUE" lines
#   dashboard_ports TEXT      the ports a Grafana target is run for
#   grafana_var_values REGEX  stdin's values through a Grafana variable's regex
#   missing_values VALUES WANT...  the WANTs not among VALUES
#   dashboard_panel_check KEY the per-port panel's snapshot equals ss's counts
#   dashboard_vars_check DASH FIELD NAME=WANT...  each Grafana variable lists WANT
#  the socket set (tests/daemon/sockset in its own namespace):
#   sockset_start [CMD...]    namespace $NS with the set, then sockset CMDs
#   sockset_cmd CMD           one command to sockset ("listen 80", ...); fail unless ok
#   sockset_settle [SNAP...]  wait until SNAP's output (default ss_table) stops
#                             changing; it is then in SOCKSET_TABLE
#   sockset_every_state TABLE fail unless TABLE has every state but CLOSED
#   ss_table                  $NS's TCP sockets, "STATE LOCAL PEER", sorted
#   oracle FILE               what tcpconns must report in $NS now, from ss
#   expected FILE INST STATE  one value of an oracle file (0 if absent)
#   same_number A B           A and B are the same number (3, 3.0, 3e+00)
#   writer_compare LIST UP OURS LABEL VALUE-CMD [CHECK-CMD]  what two
#                             daemons' writers stored: the same values, ss's
#   writer_fixture DIR EXT VALUE-CMD "INST STATE N"...  values that must be N
#  tests/daemon/churn:
#   churn_start VAR NS OUT ARGS...  churn ARGS in NS, stdin a pipe from this
#                             shell (its descriptor in VAR: fd_close ends it)
#   churn_held EXTRA SPEC...  the values tcpconns reports for `churn hold SPEC...`
#  carbon (graphite-carbon):
#   need_carbon               carbon-cache and whisper-fetch, installed if missing
#   start_carbon DIR LINE PICKLE QUERY  a carbon-cache in $NS, storage under DIR
#   wsp_last FILE SINCE       the last value of a whisper file since SINCE
#  the benchmark (bench/):
#   bench_load VAR N LOADGEN  N sockets of bench/loadgen in a new namespace (VAR)
#                             with a private established hash, held until exit
#  constants:
#   TCP_STATES                the eleven state names, in upstream's order
#   SS_STATE_ARGS             ss arguments naming the eleven states (not `-a`,
#                             which also asks for bound-inactive sockets)

set -Eeuo pipefail
export LC_ALL=C

BUILDDIR=${BUILDDIR:-.}
SRCDIR=${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
PLUGIN_SO=${PLUGIN_SO:-$BUILDDIR/.libs/tcpconns_diag.so}
UPSTREAM_PLUGIN_DIR=${UPSTREAM_PLUGIN_DIR:-/usr/lib/collectd}
TYPESDB=/usr/share/collectd/types.db
# shellcheck disable=SC2034 # constants for the scripts
TCP_STATES="ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSED CLOSE_WAIT LAST_ACK LISTEN CLOSING"
# shellcheck disable=SC2034
SS_STATE_ARGS=(state established state syn-sent state syn-recv state fin-wait-1
  state fin-wait-2 state time-wait state closed state close-wait
  state last-ack state listening state closing)

# --- exit, skip, fail --------------------------------------------------------

_LIB_HOOKS=()
_LIB_BG=()
_LIB_SHOW=()
_LIB_WORK=
_LIB_FAILED=
_LIB_ERR=

log() { printf '%s\n' "$*"; }

# problem TEXT...: a check that failed, told at once; the script goes on to
# its other checks and ends with problems_end.
_LIB_PROBLEMS=0
problem() {
  log "  $*"
  _LIB_PROBLEMS=1
}
problems_end() { [ "$_LIB_PROBLEMS" = 0 ] || fail "see above"; }
skip() {
  log "SKIP: $*"
  exit 77
}
fail() {
  _LIB_FAILED=1
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

# on_exit COMMAND: COMMAND runs at exit (eval'd, errors ignored), before the
# hooks registered earlier. A COMMAND registered again runs once, as if
# registered only now.
on_exit() {
  local h keep=()
  for h in "${_LIB_HOOKS[@]}"; do [ "$h" = "$1" ] || keep+=("$h"); done
  _LIB_HOOKS=("${keep[@]}" "$1")
}

# show_on_fail FILE...: at a failed exit, the last 30 lines of each FILE that
# exists are printed (e.g. a daemon's log, for a CI log without /tmp).
show_on_fail() { _LIB_SHOW+=("$@"); }

# shellcheck disable=SC2317 # run by the traps
_lib_exit() {
  local rc=$? failed=0 i f
  set +eE
  trap - ERR
  case $rc in 0 | 77 | 129 | 130 | 143) ;; *) failed=1 ;; esac
  if [ $failed = 1 ] && [ -z "$_LIB_FAILED" ]; then
    printf 'FAIL: exit status %s%s\n' "$rc" "${_LIB_ERR:+ ($_LIB_ERR)}" >&2
  fi
  for i in "${_LIB_BG[@]}"; do _lib_child "$i" && kill -TERM "$i" 2>/dev/null; done
  for i in "${_LIB_BG[@]}"; do bg_stop "$i" 5; done
  for ((i = ${#_LIB_HOOKS[@]} - 1; i >= 0; i--)); do eval "${_LIB_HOOKS[i]}"; done
  if [ $failed = 1 ]; then
    for f in "${_LIB_SHOW[@]}"; do
      [ -f "$f" ] || continue
      log "last lines of $f:"
      tail -n 30 "$f" | sed 's/^/  log: /'
    done
  fi
  if [ -n "$_LIB_WORK" ]; then
    if [ $failed = 1 ] || [ "${KEEP_WORK:-0}" = 1 ]; then
      log "work directory kept: $_LIB_WORK"
    else
      rm -rf "$_LIB_WORK"
    fi
  fi
  exit "$rc"
}
# The command that ended the script under set -e, for the exit message.
trap '_LIB_ERR="line $LINENO: $BASH_COMMAND: status $?"' ERR
trap _lib_exit EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "interrupted"; exit 143' TERM
trap 'log "interrupted"; exit 129' HUP

# --- prerequisites -----------------------------------------------------------

need_root() { [ "$(id -u)" = 0 ] || skip "needs root${1:+ ($1)}"; }

# install_pkg PKG...: installs the packages with apt-get (waiting up to 10
# minutes for the dpkg lock; apt-get update first if that fails), quietly.
# Returns 1 if not root, no apt-get, or the install fails.
install_pkg() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
  "${apt[@]}" install -y --no-install-recommends "$@" >/dev/null 2>&1 ||
    { "${apt[@]}" update >/dev/null 2>&1 &&
      "${apt[@]}" install -y --no-install-recommends "$@" >/dev/null 2>&1; }
}

# need_cmd CMD [PKG...]: CMD on PATH; if missing, PKGs (default: CMD) are
# installed; skips if that is not possible.
need_cmd() {
  local cmd=$1
  shift
  [ $# -gt 0 ] || set -- "$cmd"
  command -v "$cmd" >/dev/null && return 0
  install_pkg "$@" || skip "$* (for $cmd) cannot be installed"
  command -v "$cmd" >/dev/null || skip "no $cmd after installing $*"
}

# --- scratch directory, helpers ----------------------------------------------

# work_dir [TAG]: a new scratch directory in WORK (see the exit rules above).
work_dir() {
  _LIB_WORK=$(mktemp -d "/tmp/tcd-${1:-test}.XXXXXX")
  WORK=$_LIB_WORK
}

# wait_for SECS CMD...: runs CMD every 0.1 s until it succeeds (0), for at
# most SECS seconds of wall time however long one try takes (1); at least
# one try.
wait_for() {
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.1
  done
}

fd_close() { eval "exec $1>&-"; }

# helper_prog VAR NAME: VAR is set to the test helper tests/daemon/NAME as
# make built it in BUILDDIR, or, without one, as built here into WORK from
# SRCDIR (churn with tests/sockload.c).
helper_prog() {
  local bin=$BUILDDIR/tests/daemon/$2 srcs=("$SRCDIR/tests/daemon/$2.c")
  if [ ! -x "$bin" ]; then
    case $2 in churn) srcs+=("$SRCDIR/tests/sockload.c") ;; esac
    bin=$WORK/$2
    ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$bin" "${srcs[@]}" ||
      fail "cannot build $2"
  fi
  printf -v "$1" %s "$bin"
}

# build_plugin DIR: builds the source tree SRCDIR out of tree in DIR
# (autoreconf if configure is missing or older than configure.ac,
# configure if DIR has no Makefile yet, then make).
build_plugin() {
  if [ ! "$SRCDIR/configure" -nt "$SRCDIR/configure.ac" ]; then
    (cd "$SRCDIR" && autoreconf -fi >/dev/null 2>&1) || return 1
  fi
  mkdir -p "$1" &&
    { [ -f "$1/Makefile" ] || (cd "$1" && "$SRCDIR/configure" -q); } &&
    make -C "$1" -s -j"$(nproc)"
}

# --- network namespaces and background processes -----------------------------

# ns_new VAR TAG [EHASH]: a new network namespace named tcd-TAG-PID-N, in
# VAR, with lo up; deleted at exit (ns_del). Skips if namespaces cannot be
# made. With EHASH, the namespace gets a private established hash of that
# many buckets (net.ipv4.tcp_child_ehash_entries, Linux 6.1+; the host's
# setting is restored at once, and again at exit).
ns_new() {
  local name=tcd-$2-$$-$RANDOM old
  if [ -n "${3:-}" ]; then
    old=$(sysctl -n net.ipv4.tcp_child_ehash_entries 2>/dev/null) ||
      fail "no net.ipv4.tcp_child_ehash_entries (Linux < 6.1)"
    on_exit "sysctl -qw net.ipv4.tcp_child_ehash_entries=$old"
    sysctl -qw net.ipv4.tcp_child_ehash_entries="$3"
    if ! ip netns add "$name"; then
      sysctl -qw net.ipv4.tcp_child_ehash_entries="$old"
      skip "cannot create a network namespace"
    fi
    sysctl -qw net.ipv4.tcp_child_ehash_entries="$old"
  else
    ip netns add "$name" 2>/dev/null || skip "cannot create a network namespace"
  fi
  on_exit "ns_del $name"
  ip -n "$name" link set lo up || fail "cannot bring lo up in $name"
  printf -v "$1" %s "$name"
}

# ns_del NAME: everything still running in namespace NAME is killed (it was
# started by this script), then the namespace is deleted; nothing if absent.
ns_del() {
  local pid
  [ -e "/run/netns/$1" ] || return 0
  for pid in $(ip netns pids "$1" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  ip netns del "$1" 2>/dev/null || true
}

in_ns() { ip netns exec "$NS" "$@"; }

# ns_bg NS OUT CMD...: CMD in namespace NS, in the background, stdout and
# stderr to OUT; its PID in BG_PID (`ip netns exec` execs CMD: the PID is
# CMD's own). Stopped at exit if still running.
ns_bg() {
  local ns=$1 out=$2
  shift 2
  ip netns exec "$ns" "$@" >"$out" 2>&1 &
  BG_PID=$!
  bg_track "$BG_PID"
}

# _lib_child PID: PID is a child of this shell (not a PID reused since).
_lib_child() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "$(cut -d' ' -f2 <<<"$stat")" = "$$" ]
}

# bg_track PID: PID (a child of this shell started otherwise than with
# ns_bg) is stopped at exit too if still running.
bg_track() { _LIB_BG+=("$1"); }

# bg_stop PID [SECS]: SIGTERM, then up to SECS (default 10) for it to end,
# then SIGKILL; reaps it. Nothing if PID is not a child of this shell (any
# more). Returns 0.
bg_stop() {
  local n=$((${2:-10} * 10))
  _lib_child "$1" || return 0
  kill -TERM "$1" 2>/dev/null || true
  while [ $n -gt 0 ] && kill -0 "$1" 2>/dev/null; do
    sleep 0.1
    n=$((n - 1))
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# bg_alive PID WHAT FILE...: fails with "WHAT died" and the last lines of
# the FILEs unless PID is running.
bg_alive() {
  kill -0 "$1" 2>/dev/null ||
    fail "$2 died: $(tail -n 20 "${@:3}" 2>&1)"
}

# bg_term RCS PID...: SIGTERM to each PID, then waits for each; their exit
# statuses, in the order given, in the array named RCS.
bg_term() {
  local -n _rcs=$1
  local p rc
  shift
  _rcs=()
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do
    rc=0
    wait "$p" || rc=$?
    _rcs+=("$rc")
  done
}

# --- collectd ----------------------------------------------------------------

# daemon_setup TAG [MODULE...]: what a daemon test starts with: skips unless
# root (network namespaces); need_collectd MODULE...; a work directory
# (work_dir TAG); plugin_dir csv logfile MODULE...
daemon_setup() {
  local tag=$1
  shift
  need_root "network namespaces"
  need_collectd "$@"
  work_dir "$tag"
  plugin_dir csv logfile "$@"
}

# need_collectd [MODULE...]: Debian's collectd (COLLECTD), its types.db
# (TYPESDB) and its csv, logfile and MODULE modules in UPSTREAM_PLUGIN_DIR,
# installing collectd-core if one is missing (skips if that fails); and the
# plugin under test at PLUGIN_SO (fails if missing: build it first).
need_collectd() {
  local so
  COLLECTD=${COLLECTD:-$(command -v collectd || echo /usr/sbin/collectd)}
  if [ ! -x "$COLLECTD" ]; then
    install_pkg collectd-core || skip "collectd-core cannot be installed"
    COLLECTD=$(command -v collectd || echo /usr/sbin/collectd)
  fi
  for so in csv logfile "$@"; do
    [ ! -f "$UPSTREAM_PLUGIN_DIR/$so.so" ] || continue
    install_pkg collectd-core || skip "collectd-core cannot be installed"
    [ -f "$UPSTREAM_PLUGIN_DIR/$so.so" ] || skip "no $UPSTREAM_PLUGIN_DIR/$so.so"
  done
  [ -f "$TYPESDB" ] || skip "no $TYPESDB"
  [ -f "$PLUGIN_SO" ] || fail "no plugin at $PLUGIN_SO (build it first)"
}

# need_lib MODULE PKG: the shared libraries of Debian's MODULE.so
# (collectd-core only recommends them), installing PKG if one is missing.
need_lib() {
  local so=$UPSTREAM_PLUGIN_DIR/$1.so missing
  missing=$(ldd "$so" 2>/dev/null | grep 'not found' || true)
  [ -n "$missing" ] || return 0
  install_pkg "$2" || skip "$2 (needed by $1.so) cannot be installed"
  missing=$(ldd "$so" 2>/dev/null | grep 'not found' || true)
  [ -z "$missing" ] || skip "$1.so: $(head -n 1 <<<"$missing")"
}

# plugin_dir [MODULE...]: PLUGIN_DIR=$WORK/plugins holding a copy of the
# plugin under test (tcpconns_diag.so) and of each of Debian's MODULEs.
plugin_dir() {
  local so
  PLUGIN_DIR=$WORK/plugins
  mkdir -p "$PLUGIN_DIR"
  cp "$PLUGIN_SO" "$PLUGIN_DIR/tcpconns_diag.so"
  for so in "$@"; do cp "$UPSTREAM_PLUGIN_DIR/$so.so" "$PLUGIN_DIR/"; done
}

# conf_write FILE [OPTION...] [-- LINE...]: writes a collectd.conf: the
# global options (Hostname, FQDNLookup false, Interval, BaseDir, PIDFile,
# PluginDir $PLUGIN_DIR, TypesDB), the logfile plugin (LogLevel info, with
# timestamps and severities), then what the -w and -e options ask for, in
# their order, then the block of the plugin (default tcpconns_diag) with
# each LINE in it, indented.
#   -d DIR        BaseDir, PIDFile and default outputs under DIR
#                 (default: FILE's directory)
#   -H HOST       Hostname (default h; '' for none: the host's name)
#   -i SECONDS    Interval (default 1)
#   -L LOG        the logfile's File (default DIR/collectd.log; STDOUT; or
#                 none: no logfile plugin)
#   -w csv[:DIR]  the csv writer into DIR (default DIR/csv; stdout)
#   -w rrdtool[:DIR]  the rrdtool writer into DIR (default DIR/rrd)
#   -w graphite:PORT  write_graphite to carbon on 127.0.0.1:PORT, flushed
#                 every second
#   -e TEXT       TEXT as it is (other plugins, filter chains, ...)
#   -p MODULE     the plugin of the block (default tcpconns_diag; '' for
#                 no block)
conf_write() {
  local file=$1 dir host=h interval=1 logto='' plugin=tcpconns_diag parts=()
  local opt OPTARG OPTIND=2 i kind arg line
  dir=$(dirname "$file")
  while getopts 'd:H:i:L:w:e:p:' opt; do
    case $opt in
    d) dir=$OPTARG ;;
    H) host=$OPTARG ;;
    i) interval=$OPTARG ;;
    L) logto=$OPTARG ;;
    w | e) parts+=("$opt" "$OPTARG") ;;
    p) plugin=$OPTARG ;;
    *) fail "conf_write: bad option" ;;
    esac
  done
  shift $((OPTIND - 1))
  {
    if [ -n "$host" ]; then printf 'Hostname "%s"\n' "$host"; fi
    cat <<EOF
FQDNLookup false
Interval $interval
BaseDir "$dir"
PIDFile "$dir/collectd.pid"
PluginDir "$PLUGIN_DIR"
TypesDB "$TYPESDB"
EOF
    if [ "$logto" != none ]; then
      [ "$logto" = STDOUT ] || logto="\"${logto:-$dir/collectd.log}\""
      cat <<EOF
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File $logto
  Timestamp true
  PrintSeverity true
</Plugin>
EOF
    fi
    for ((i = 0; i < ${#parts[@]}; i += 2)); do
      kind=${parts[i + 1]%%:*} arg=
      [ "$kind" = "${parts[i + 1]}" ] || arg=${parts[i + 1]#*:}
      case ${parts[i]}:$kind in
      e:*) printf '%s\n' "${parts[i + 1]}" ;;
      w:csv)
        [ "$arg" = stdout ] || arg="\"${arg:-$dir/csv}\""
        printf 'LoadPlugin csv\n<Plugin csv>\n  DataDir %s\n  StoreRates false\n</Plugin>\n' "$arg"
        ;;
      w:rrdtool)
        printf 'LoadPlugin rrdtool\n<Plugin rrdtool>\n  DataDir "%s"\n  CacheTimeout 0\n</Plugin>\n' "${arg:-$dir/rrd}"
        ;;
      w:graphite)
        cat <<EOF
<LoadPlugin write_graphite>
  FlushInterval 1
</LoadPlugin>
<Plugin write_graphite>
  <Node "carbon">
    Host "127.0.0.1"
    Port "$arg"
    Protocol "tcp"
    LogSendErrors true
  </Node>
</Plugin>
EOF
        ;;
      *) fail "conf_write: unknown writer ${parts[i + 1]}" ;;
      esac
    done
    if [ -n "$plugin" ]; then
      printf 'LoadPlugin %s\n<Plugin %s>\n' "$plugin" "$plugin"
      for line in "$@"; do printf '  %s\n' "$line"; done
      printf '</Plugin>\n'
    fi
  } >"$file"
}

# daemon_start DIR PLUGIN BLOCK EXTRA [OPTION...]: collectd -f in namespace
# NS with DIR/collectd.conf (conf_write -d DIR OPTION...): PLUGIN's block
# holds the lines of BLOCK, and EXTRA as one more line unless PLUGIN is
# upstream's tcpconns (the tests' self-check: a line that must make them
# fail). Output in DIR/stdout, PID in BG_PID.
daemon_start() {
  local dir=$1 plugin=$2 block=$3 extra=$4 lines
  shift 4
  [ "$plugin" != tcpconns ] || extra=
  mapfile -t lines <<<"$block"
  mkdir -p "$dir"
  conf_write "$dir/collectd.conf" -d "$dir" "$@" -p "$plugin" -- "${lines[@]}" "$extra"
  ns_bg "$NS" "$dir/stdout" "$COLLECTD" -f -C "$dir/collectd.conf"
}

# check_log DIR: DIR/collectd.log has no error line; prints them if it has.
check_log() {
  if grep -q '\[error\]' "$1/collectd.log" 2>/dev/null; then
    log "errors in $1/collectd.log:"
    grep '\[error\]' "$1/collectd.log" | head -20 | sed 's/^/    /'
    return 1
  fi
  return 0
}

# csv_rows DIR: "identifier time value" for every row the csv writer wrote
# under its DataDir DIR (identifier: host/plugin-instance/type-instance, the
# file name's date dropped), sorted.
csv_rows() {
  { find "$1" -type f -exec awk -F, '
      FNR == 1 {
        id = FILENAME
        sub(/^.*\/csv\//, "", id)
        sub(/-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/, "", id)
        next
      }
      { print id, $1, $2 }' {} + 2>/dev/null || true; } | sort
}

# csv_values DIR IDENT: the values (one a line, one a read) of the csv
# files DIR/csv/h/IDENT-* (IDENT: plugin-instance/type-instance, host h).
csv_values() {
  cat "$1/csv/h/$2-"* 2>/dev/null | grep -v '^epoch' | cut -d, -f2 || true
}

# hold_still FN: FN until it succeeds, 5 tries at most (a snapshot that
# must be taken while the socket set holds still); fails after that.
hold_still() {
  for _ in 1 2 3 4 5; do "$1" && return 0; done
  fail "the socket set keeps changing"
}

# read_map ARRAY FILE: ARRAY[KEY]=VALUE (emptied first) for each line
# "KEY... VALUE" of FILE (the key: all but the last word).
read_map() {
  local -n _map=$1
  local line
  _map=()
  while read -r line; do _map[${line% *}]=${line##* }; done <"$2"
}

# dashboard_ports TEXT: the ports a Grafana target or query is run for:
# 80 and 443 where it uses $port, else 80 (any: the variable is unused).
dashboard_ports() {
  if [[ $1 == *'$port'* ]]; then echo 80 443; else echo 80; fi
}

# grafana_var_values REGEX: the values on stdin (one a word) through a
# Grafana variable's regex ("/.../": its first group where it has one, else
# the whole value; none: every value), one a line.
grafana_var_values() {
  local re=${1#/}
  re=${re%/}
  python3 -c 'import re, sys
r = re.compile(sys.argv[1]) if sys.argv[1] else None
for v in sys.stdin.read().split():
    m = r.search(v) if r else True
    if m:
        print(v if m is True or not m.groups() else m.group(1))' "$re"
}

# missing_values VALUES WANT...: the WANTs not among VALUES (one a line).
missing_values() {
  local v vals=$1
  shift
  for v in "$@"; do grep -qxF -- "$v" <<<"$vals" || printf '%s ' "$v"; done
}

# dashboard_panel_check KEY: the Grafana per-port panel, as the script
# saved what its query returned for ports 80 and 443 in $WORK/dash.PORT
# ("KEY... VALUE" lines), equals ss's counts in the caller's associative
# array W ("PORT-local STATE"): the value for STATE is line KEYSTATE.
dashboard_panel_check() {
  local port state got
  local -A panel
  for port in 80 443; do
    read_map panel "$WORK/dash.$port"
    for state in $TCP_STATES; do
      got=${panel[$1$state]:-}
      same_number "$got" "${W[$port-local $state]}" ||
        problem "dashboard panel for port $port: $state is ${got:-missing}, ss counts ${W[$port-local $state]}"
    done
  done
}

# dashboard_vars_check DASHBOARD FIELD NAME=WANT...: each templating
# variable of the Grafana DASHBOARD: the values the caller's var_values
# returns for its FIELD (its query, as the real server answers it; a
# failure is a problem), through the variable's regex, must include the
# words of WANT given for its NAME.
dashboard_vars_check() {
  local dash=$1 field=$2 name query regex vals want spec miss
  shift 2
  while IFS=$'\t' read -r name query regex; do
    want=
    for spec in "$@"; do [ "${spec%%=*}" != "$name" ] || want=${spec#*=}; done
    vals=$(var_values "$query") || {
      problem "dashboard variable $name: $query fails"
      continue
    }
    vals=$(grafana_var_values "$regex" <<<"$vals")
    # shellcheck disable=SC2086 # WANT is words
    miss=$(missing_values "$vals" $want)
    [ -z "$miss" ] || problem "dashboard variable $name ($query) lacks $miss: $(echo $vals)"
  done < <(jq -r --arg f "$field" '.templating.list[] | [.name, .[$f], .regex] | @tsv' "$dash")
}

# bench_load VAR N LOADGEN: the benchmark's load: a new namespace (its name
# in VAR) with a private established hash of at least N buckets (a power
# of two, 65536 or more) and N sockets of LOADGEN (bench/loadgen: 16
# listening ports, clients from 127.1.0.1-32 and fd00::100-107), held
# until this shell exits; loadgen's output in $WORK/lg.out.
bench_load() {
  local ehash=65536 k ns
  while [ "$ehash" -lt "$2" ]; do ehash=$((ehash * 2)); done
  ns_new "$1" bench "$ehash"
  ns=${!1}
  ip netns exec "$ns" sysctl -qw net.core.somaxconn=65535 \
    net.ipv4.tcp_max_syn_backlog=65535 net.ipv4.tcp_tw_reuse=0 \
    net.ipv4.ip_local_port_range="10000 65000"
  for k in 0 1 2 3 4 5 6 7; do
    ip -n "$ns" -6 addr add "fd00::$(printf %x $((0x100 + k)))/128" dev lo nodad
  done
  mkfifo "$WORK/lg.in"
  ip netns exec "$ns" "$3" -n "$2" -i 16 -S fd00:: -k 8 \
    <"$WORK/lg.in" >"$WORK/lg.out" 2>"$WORK/lg.err" &
  bg_track $!
  # The write end, held by this shell: loadgen ends at EOF if it dies.
  exec 7>"$WORK/lg.in"
  wait_for 180 grep -q '^ready' "$WORK/lg.out" || fail "loadgen: $(cat "$WORK/lg.err")"
  sleep 2
}

# --- the socket set ----------------------------------------------------------

# sockset_start [CMD...]: the socket-set namespace: a new namespace (its
# name in NS) with the nftables rules and sysctls tests/daemon/sockset needs
# (see sockset.c), sockset running in it with its static set (PID in
# SOCKSET_PID), then each CMD sent to it (sockset_cmd). Call sockset_settle
# after. SYN_SENT/SYN_RECV must outlive a test's run (hence 10 retries);
# TIME_WAIT and the orphaned FIN_WAIT2 last 60 s. The rules drop on input:
# a drop on output fails the send, and a request socket whose SYN-ACK
# retransmission fails is dropped at once. Ephemeral ports stay below the
# fixed ports of the set, so a client never takes one of them first.
sockset_start() {
  local line c
  helper_prog SOCKSET sockset
  ns_new NS sockset
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
  SOCKSET_PID=$SOCKSET_CO_PID
  bg_track "$SOCKSET_PID"
  exec {SOCKSET_IN}>&"${SOCKSET_CO[1]}" {SOCKSET_OUT}<&"${SOCKSET_CO[0]}"
  if ! read -r -t 20 -u "$SOCKSET_OUT" line || [ "$line" != ready ]; then
    fail "sockset did not get ready: $(cat "$WORK/sockset.err")"
  fi
  for c in "$@"; do sockset_cmd "$c"; done
}

# sockset_cmd CMD: sends CMD to sockset; fails unless it answers "ok".
sockset_cmd() {
  local reply
  printf '%s\n' "$1" >&"$SOCKSET_IN"
  read -r -t 10 -u "$SOCKSET_OUT" reply || fail "sockset: no reply to '$1'"
  [ "$reply" = ok ] || fail "sockset: '$1': $reply"
}

# sockset_settle [SNAP...]: waits (6 s at most, else fails) until the
# output of the command SNAP (default: ss_table) is the same twice 0.3 s
# apart: the set has no transient state left. That output is then in
# SOCKSET_TABLE.
sockset_settle() {
  local before s
  [ $# -gt 0 ] || set -- ss_table
  before=$("$@")
  for _ in $(seq 20); do
    sleep 0.3
    s=$("$@")
    [ "$s" != "$before" ] || break
    before=$s
  done
  [ "$s" = "$before" ] || fail "the socket set does not settle"
  # shellcheck disable=SC2034 # for the caller
  SOCKSET_TABLE=$before
}

# sockset_every_state TABLE: fails unless TABLE (ss's state names first on
# each line) has a socket in every state but CLOSED.
sockset_every_state() {
  local state
  for state in ESTAB SYN-SENT SYN-RECV FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT \
    CLOSE-WAIT LAST-ACK LISTEN CLOSING; do
    grep -q "^$state " <<<"$1" || fail "the socket set has no $state socket: $1"
  done
}

# ss_table: the TCP sockets of namespace NS as "STATE LOCAL PEER", sorted.
ss_table() {
  in_ns ss -tanH | awk '{ print $1, $4, $5 }' | sort
}

# oracle FILE: writes the values tcpconns must report in namespace NS now,
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

# writer_compare LIST UPDIR OURDIR LABEL VALUE-CMD [CHECK-CMD]: compares what
# two daemons' writers stored, upstream tcpconns' under UPDIR and
# tcpconns_diag's under OURDIR, file by file: for each name f in the file
# LIST (e.g. h/tcpconns-80-local/tcp_connections-ESTABLISHED.rrd) that both
# hold, `VALUE-CMD FILE` (LABEL says what it prints) must print the same
# number for both, and the number `ss` counted for that instance and state
# (oracle $WORK/oracle.before). `CHECK-CMD f UPFILE OURFILE WANT` runs too,
# for checks of the test's own. Each difference is reported with `problem`
# (which the test defines); COMPARED is set to the number of files compared.
writer_compare() {
  local list=$1 updir=$2 ourdir=$3 label=$4 value=$5 check=${6:-}
  local f up ours inst state want v_up v_ours
  COMPARED=0
  while read -r f <&3; do
    up=$updir/$f ours=$ourdir/$f
    [ -f "$up" ] && [ -f "$ours" ] || continue
    inst=${f#*/tcpconns-}
    inst=${inst%%/*}
    state=${f##*/tcp_connections-}
    state=${state%.*}
    want=$(expected "$WORK/oracle.before" "$inst" "$state")
    v_up=$("$value" "$up") || true
    v_ours=$("$value" "$ours") || true
    same_number "$v_up" "$v_ours" ||
      problem "$f: $label: upstream ${v_up:-none}, tcpconns_diag ${v_ours:-none}"
    same_number "$v_ours" "$want" ||
      problem "$f: $label: tcpconns_diag ${v_ours:-none}, ss counts $want"
    if [ -n "$check" ]; then "$check" "$f" "$up" "$ours" "$want"; fi
    COMPARED=$((COMPARED + 1))
  done 3<"$list"
}

# writer_fixture DIR EXT VALUE-CMD "INSTANCE STATE N"...: the fixture seen
# through a writer: `VALUE-CMD DIR/h/tcpconns-INSTANCE/tcp_connections-STATE.EXT`
# prints N for each (else `problem`), so the values that matter are not all
# zero and two equally wrong outputs cannot pass.
writer_fixture() {
  local dir=$1 ext=$2 value=$3 k inst state n v
  shift 3
  for k in "$@"; do
    read -r inst state n <<<"$k"
    v=$("$value" "$dir/h/tcpconns-$inst/tcp_connections-$state.$ext" 2>/dev/null) || true
    same_number "$v" "$n" || problem "fixture: $inst $state is ${v:-missing}, want $n"
  done
}

# --- tests/daemon/churn ------------------------------------------------------

# churn_start VAR NS OUT ARGS...: tests/daemon/churn ARGS in namespace NS,
# output to OUT, stdin a pipe from this shell whose descriptor is put in VAR
# (churn ends at EOF: fd_close "$VAR", or when this script ends); returns
# once churn printed "ready" (fails after 60 s).
churn_start() {
  local var=$1 ns=$2 out=$3 fd
  shift 3
  [ -n "${CHURN:-}" ] || helper_prog CHURN churn
  exec {fd}> >(exec ip netns exec "$ns" "$CHURN" "$@" >"$out" 2>&1)
  printf -v "$var" %s "$fd"
  wait_for 60 grep -q '^ready' "$out" || fail "churn $1: $(cat "$out")"
}

# churn_held EXTRA SPEC...: what `churn hold SPEC...` holds, as the values
# tcpconns reports for it in every read (see churn.c), one instance a line:
# "PORT-local LISTEN=1 ESTABLISHED=E [CLOSE_WAIT=H]" and "PORT-remote
# ESTABLISHED=E [FIN_WAIT2=H]" (states not named: 0), with EXTRA added to
# each ESTABLISHED (a test's self-check: non-zero must fail).
churn_held() {
  local extra=$1 spec port e h
  shift
  for spec in "$@"; do
    IFS=: read -r port e h <<<"${spec#6/}"
    printf '%s-local LISTEN=1 ESTABLISHED=%s%s\n' "$port" $((e + extra)) "${h:+ CLOSE_WAIT=$h}"
    printf '%s-remote ESTABLISHED=%s%s\n' "$port" $((e + extra)) "${h:+ FIN_WAIT2=$h}"
  done
}

# --- carbon (graphite-carbon) ------------------------------------------------

# need_carbon: carbon-cache and whisper-fetch, installed if missing.
need_carbon() {
  need_cmd carbon-cache graphite-carbon python3-whisper
  need_cmd whisper-fetch graphite-carbon python3-whisper
}

# start_carbon dir line-port pickle-port query-port: a carbon-cache in the
# namespace NS on 127.0.0.1 with its own configuration, whisper files and
# logs under dir (never the system's), keeping every metric at 1 s
# resolution; returns once it listens. Its PID in BG_PID (stopped at exit);
# its whisper tree is dir/whisper; it logs to dir/stdout.
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
  ns_bg "$NS" "$dir/stdout" carbon-cache --config="$dir/conf/carbon.conf" \
    --pidfile="$dir/run/carbon.pid" --logdir="$dir/log" --nodaemon start
  # shellcheck disable=SC2317 # called by wait_for
  _carbon_listens() { in_ns ss -tlnH "sport = :$1" | grep LISTEN >/dev/null; }
  wait_for 20 _carbon_listens "$2" ||
    fail "carbon-cache did not start: $(tail -n 20 "$dir/stdout")"
}

# wsp_last file since: the last value whisper-fetch reads from the file at
# or after the time since (epoch seconds), empty if none.
wsp_last() {
  { whisper-fetch --from="$2" "$1" 2>/dev/null || true; } |
    awk '$2 != "None" { v = $2 } END { print v }'
}
