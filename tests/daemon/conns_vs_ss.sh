#!/bin/bash
# SPDX-License-Identifier: MIT
# conns_vs_ss.sh: <Connections> blocks count what ss's filter expressions
# count, through the real daemon and through the CLI.
#
# In a private network namespace, a socket set spread over addresses:
# IPv4 listeners on 127.0.0.1 and 127.0.0.10, an IPv6-only listener on
# ::1, a dual-stack [::] listener reached over IPv4 at 127.0.0.1 and
# 127.0.0.7 (IPv4-mapped server sockets) and over IPv6; clients bound to
# 127.0.0.2 to .9, 127.1.2.3 and ::1; established, queued, TIME_WAIT,
# CLOSE_WAIT and FIN_WAIT2 sockets. Each block below is given three ways,
# written independently: collectd.conf lines, a --connections argument and
# an ss filter expression. The expectation is `ss -tnH state S EXPR`
# counted for each of the block's states.
#
# 1. collectd (csv writer, Interval 1) runs in the namespace with the
#    blocks in <Plugin tcpconns_diag> and one of them again inside a
#    <Namespace "same"> block pointing at the same namespace (instance
#    "same-NAME"); the values of a read made while the socket set held
#    still must equal ss's counts, zeros included, and the port values
#    must still be there (the default: listening ports).
# 2. tcpconns-diag --netns NS --connections ... (JSON) must print the same.
#
# Self-check: with IPv4-mapped matching broken in conns_host_match() (a
# plugin built that way) the test fails: addr_only ESTABLISHED 23, ss 26.
#
# Environment: as tests/lib.sh (BUILDDIR, SRCDIR, PLUGIN_SO, COLLECTD),
# CLI (default $BUILDDIR/tcpconns-diag). Exit: 0 pass, 1 fail, 77 skip.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
daemon_setup conns
need_cmd ss iproute2

CLI=${CLI:-$BUILDDIR/tcpconns-diag}
[ -x "$CLI" ] || fail "no CLI at $CLI (build it first)"
command -v python3 >/dev/null || skip "needs python3 (to hold the socket set)"

# --- the blocks ----------------------------------------------------------------
# NAME | collectd.conf lines (';' between lines) | --connections | ss states | ss expression
# "all" as ss states means the eleven.
BLOCKS=(
  'addr_only|RemoteAddress "127.0.0.0/24"|addr_only:raddr=127.0.0.0/24|all|dst 127.0.0.0/24'
  'local_ten|LocalAddress "127.0.0.10"|local_ten:laddr=127.0.0.10|all|src 127.0.0.10'
  'pg_clients|LocalPort "5432";RemoteAddress "127.0.0.0/30" "::1"|pg_clients:lport=5432,raddr=127.0.0.0/30,raddr=::1|all|( sport = :5432 and ( dst 127.0.0.0/30 or dst [::1] ) )'
  'ports_only|LocalPort "8000-8001" "8443"|ports_only:lport=8000-8001,lport=8443|all|( ( sport >= :8000 and sport <= :8001 ) or sport = :8443 )'
  'both|RemotePort 5432;LocalAddress "127.0.0.0/16";States "ESTABLISHED" "SYN_SENT"|both:rport=5432,laddr=127.0.0.0/16,states=ESTABLISHED+SYN_SENT|ESTABLISHED SYN_SENT|( dport = :5432 and src 127.0.0.0/16 )'
  'mapped|LocalAddress "::ffff:127.0.0.0/104"|mapped:laddr=::ffff:127.0.0.0/104|all|src ::ffff:127.0.0.0/104'
  'six|LocalAddress "::/0";States "LISTEN";States "ESTABLISHED"|six:laddr=::/0,states=LISTEN+ESTABLISHED|LISTEN ESTABLISHED|src ::/0'
  'far_net|RemoteAddress "127.1.0.0/16"|far_net:raddr=127.1.0.0/16|all|dst 127.1.0.0/16'
  'range_remote|RemotePort "5000-9000";RemoteAddress "127.0.0.0/8";States "TIME_WAIT" "CLOSE_WAIT" "FIN_WAIT2" "ESTABLISHED"|range_remote:rport=5000-9000,raddr=127.0.0.0/8,states=TIME_WAIT+CLOSE_WAIT+FIN_WAIT2+ESTABLISHED|TIME_WAIT CLOSE_WAIT FIN_WAIT2 ESTABLISHED|( dport >= :5000 and dport <= :9000 and dst 127.0.0.0/8 )'
  'pg_listen|LocalPort "5432";States "LISTEN"|pg_listen:lport=5432,states=LISTEN|LISTEN|sport = :5432'
  'tw_server|LocalPort 5432 8000;States "TIME_WAIT" "CLOSE_WAIT"|tw_server:lport=5432,lport=8000,states=TIME_WAIT+CLOSE_WAIT|TIME_WAIT CLOSE_WAIT|( sport = :5432 or sport = :8000 )'
)
SAME_BLOCK=1 # index of the block repeated inside <Namespace "same">

SS_NAME=(ESTABLISHED:established SYN_SENT:syn-sent SYN_RECV:syn-recv
  FIN_WAIT1:fin-wait-1 FIN_WAIT2:fin-wait-2 TIME_WAIT:time-wait CLOSED:closed
  CLOSE_WAIT:close-wait LAST_ACK:last-ack LISTEN:listening CLOSING:closing)
ss_state() { # STATE: ss's name for it
  local kv
  for kv in "${SS_NAME[@]}"; do
    if [ "${kv%%:*}" = "$1" ]; then echo "${kv#*:}"; fi
  done
}

field() { # block-index field-number (1-based)
  awk -F'|' -v f="$2" '{ print $f }' <<<"${BLOCKS[$1]}"
}

# --- the socket set ------------------------------------------------------------

# A namespace with a private established hash: else every dump, ours and
# ss's, walks the host's whole shared hash, and whatever other namespaces
# on the host hold in it.
ns_new NS conns 1024
in_ns sysctl -q -w net.ipv4.ip_local_port_range="20000 29999" ||
  fail "cannot set sysctls in $NS"

cat >"$WORK/holder.py" <<'PY'
import socket, sys, time
AF4, AF6 = socket.AF_INET, socket.AF_INET6
keep = []

def listen(addr, port, v6only=None):
    fam = AF6 if ':' in addr else AF4
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == AF6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind((addr, port))
    s.listen(64)
    keep.append(s)
    return s

def connect(src, dst, port):
    fam = AF6 if ':' in dst else AF4
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.bind((src, 0))
    c.connect((dst, port))
    return c

def pair(src, dst, port, listener):
    c = connect(src, dst, port)
    s, _ = listener.accept()
    keep.extend([c, s])
    return c, s

pg1 = listen("127.0.0.1", 5432)
pg10 = listen("127.0.0.10", 5432)
pg6 = listen("::1", 5432, 1)
dual = listen("::", 8443, 0)
web = listen("127.0.0.1", 8000)
web2 = listen("127.0.0.1", 8001)
for src, n in (("127.0.0.2", 3), ("127.0.0.3", 2), ("127.1.2.3", 2)):
    for _ in range(n):
        pair(src, "127.0.0.1", 5432, pg1)
pair("127.0.0.4", "127.0.0.10", 5432, pg10)
for _ in range(2):
    pair("::1", "::1", 5432, pg6)
for _ in range(2):
    pair("127.0.0.5", "127.0.0.1", 8443, dual)   # IPv4-mapped server side
pair("127.0.0.6", "127.0.0.7", 8443, dual)       # mapped, another address
pair("::1", "::1", 8443, dual)
pair("127.0.0.8", "127.0.0.1", 8000, web)
pair("127.0.0.8", "127.0.0.1", 8001, web2)
# TIME_WAIT on the server side: the server closes first
for src, port, l in (("127.0.0.2", 8000, web), ("127.0.0.3", 5432, pg1)):
    c = connect(src, "127.0.0.1", port)
    s, _ = l.accept()
    s.close(); time.sleep(0.05); c.close()
# CLOSE_WAIT (server) and FIN_WAIT2 (orphaned client): the client closes
c = connect("127.1.2.3", "127.0.0.1", 5432)
s, _ = pg1.accept()
keep.append(s)
c.close()
# queued, never accepted (ESTABLISHED on both sides)
keep.append(connect("127.0.0.9", "127.0.0.1", 5432))
time.sleep(0.3)
print("ready", flush=True)
sys.stdin.read()
PY
coproc HOLDER { exec ip netns exec "$NS" python3 "$WORK/holder.py" 2>"$WORK/holder.err"; }

bg_track "$HOLDER_PID"
if ! read -r -t 20 -u "${HOLDER[0]}" line || [ "$line" != ready ]; then
  fail "the socket holder did not get ready: $(cat "$WORK/holder.err")"
fi
for state in ESTAB TIME-WAIT CLOSE-WAIT FIN-WAIT-2 LISTEN; do
  ss_table | grep -q "^$state " || fail "the socket set has no $state socket: $(ss_table)"
done

# ss_counts FILE [PREFIX]: "INSTANCE STATE COUNT" for every block and each
# of its states, from ss filter expressions; PREFIX names the instance
# (the <Namespace> block's "same-").
ss_counts() {
  local i name states expr st ss_states
  for i in "${!BLOCKS[@]}"; do
    name=$(field "$i" 1)
    states=$(field "$i" 4)
    expr=$(field "$i" 5)
    [ "$states" = all ] && states=$TCP_STATES
    ss_states=
    for st in $states; do ss_states="$ss_states state $(ss_state "$st")"; done
    # one ss per block, its states by name (never `-a`, which also asks
    # for bound-inactive sockets), counted per state column (ss prints
    # no state column when one state is asked for)
    # shellcheck disable=SC2016 # an awk program, for the generated script
    printf "ss -tnH %s '%s' | awk -v n='%s' -v st='%s' -v same='%s' '%s'\\n" \
      "$ss_states" "$expr" "$name" "$states" "$([ "$i" = "$SAME_BLOCK" ] && echo 1)" \
      'BEGIN { split("ESTAB:ESTABLISHED SYN-SENT:SYN_SENT SYN-RECV:SYN_RECV FIN-WAIT-1:FIN_WAIT1 FIN-WAIT-2:FIN_WAIT2 TIME-WAIT:TIME_WAIT UNCONN:CLOSED CLOSE-WAIT:CLOSE_WAIT LAST-ACK:LAST_ACK LISTEN:LISTEN CLOSING:CLOSING", m, " "); for (i in m) { split(m[i], kv, ":"); name[kv[1]] = kv[2] } k = split(st, want, " "); for (i = 1; i <= k; i++) c[want[i]] = 0 } { if (k == 1) c[want[1]]++; else c[name[$1]]++ } END { for (s in c) { print n, s, c[s]; if (same) print "same-" n, s, c[s] } }'
  done >"$WORK/ss_counts.sh"
  # one `ip netns exec` for all of them
  in_ns bash "$WORK/ss_counts.sh" | sort
}

# stable_counts FILE: ss's counts while the table holds still (TIME_WAIT
# and orphaned FIN_WAIT2 expire after 60 s): before, counts, after.
stable_counts() {
  local a b
  for _ in 1 2 3 4 5; do
    a=$(ss_table)
    ss_counts >"$1"
    b=$(ss_table)
    [ "$a" = "$b" ] && return 0
  done
  fail "the socket set does not hold still"
}

# --- 1. the daemon ---------------------------------------------------------------

DIR=$WORK/daemon
mkdir -p "$DIR"
mapfile -t lines < <(
  for i in "${!BLOCKS[@]}"; do
    echo "<Connections \"$(field "$i" 1)\">"
    field "$i" 2 | tr ';' '\n' | sed 's/^/  /'
    echo "</Connections>"
  done
  echo '<Namespace "same">'
  echo "  Path \"/var/run/netns/$NS\""
  echo "  <Connections \"$(field "$SAME_BLOCK" 1)\">"
  field "$SAME_BLOCK" 2 | tr ';' '\n' | sed 's/^/    /'
  echo "  </Connections>"
  echo "</Namespace>"
)
conf_write "$DIR/collectd.conf" -d "$DIR" -w csv -- "${lines[@]}"

ns_bg "$NS" "$DIR/stdout" "$COLLECTD" -f -C "$DIR/collectd.conf"
DAEMON=$BG_PID

# values_after TIME: "INSTANCE STATE VALUE" of the first read whose values
# are all after TIME (the newest line of each file at or after it).
values_after() {
  find "$DIR/csv" -type f -path '*tcpconns-*' -name 'tcp_connections-*' -exec awk -F, -v t="$1" '
      FNR == 1 { next }
      $1 + 0 > t + 0 && !(FILENAME in v) { v[FILENAME] = $2 }
      END {
        for (f in v) {
          inst = f; sub(/\/tcp_connections-.*$/, "", inst); sub(/^.*\/tcpconns-/, "", inst)
          st = f; sub(/^.*\/tcp_connections-/, "", st); sub(/-[0-9]+-[0-9]+-[0-9]+$/, "", st)
          printf "%s %s %d\n", inst, st, v[f]
        }
      }' {} + 2>/dev/null | sort
}

# same_as_ss WHAT WANT GOT FN: up to 3 tries of: ss's counts into WANT
# (stable_counts), then FN WANT GOT (the values into GOT; it may drop from
# WANT what it cannot report); a try during which the sockets moved is
# made again. Fails with the diff unless GOT is WANT.
same_as_ss() {
  local what=$1 want=$2 got=$3 fn=$4 before
  for _ in 1 2 3; do
    stable_counts "$want"
    before=$(ss_table)
    "$fn" "$want" "$got"
    [ "$(ss_table)" = "$before" ] || continue
    cmp -s "$want" "$got" && return 0
  done
  log "--- expected (ss)  +++ $what"
  diff -u "$want" "$got" | tail -n +3
  fail "the $what's <Connections> values differ from ss"
}

daemon_values() {
  local t0=$EPOCHREALTIME
  # a read that starts after the counts: wait for two more reads
  sleep 2.5
  kill -0 "$DAEMON" 2>/dev/null || fail "collectd died: $(tail -n 20 "$DIR/collectd.log" "$DIR/stdout")"
  values_after "$t0" >"$WORK/daemon.all"
  grep -v -- '-local \|-remote \| all \|^all ' "$WORK/daemon.all" |
    awk '$1 !~ /^[0-9]/' >"$2"
}
same_as_ss "collectd csv" "$WORK/ss.daemon" "$WORK/daemon.got" daemon_values

# The blocks do not change upstream's defaults: the listening ports are
# reported as without them.
for p in 5432 8443 8000 8001; do
  grep -q "^$p-local LISTEN " "$WORK/daemon.all" ||
    fail "no $p-local values next to the blocks: $(head -5 "$WORK/daemon.all")"
done
check_log "$DIR" || fail "errors in the daemon's log"
log "daemon: $(wc -l <"$WORK/daemon.got") <Connections> values equal ss's"

# --- 2. the CLI --------------------------------------------------------------------

args=()
for i in "${!BLOCKS[@]}"; do args+=(--connections "$(field "$i" 3)"); done
cli_values() {
  # the CLI has no <Namespace> block: drop "same-" from the expectation
  sed -i '/^same-/d' "$1"
  "$CLI" --netns "$NS" "${args[@]}" >"$WORK/cli.json" 2>"$WORK/cli.err" ||
    fail "tcpconns-diag: $(cat "$WORK/cli.err")"
  # {"5432-local": {...}, "addr_only": {"ESTABLISHED": 3, ...}, ...}
  sed 's/}, "/}\n"/g; s/^{//; s/}$//' "$WORK/cli.json" | awk '
      {
        inst = $0; sub(/^"/, "", inst); sub(/".*/, "", inst)
        body = $0; sub(/^[^{]*\{/, "", body); sub(/\}.*$/, "", body)
        n = split(body, kv, ", ")
        for (i = 1; i <= n; i++) { split(kv[i], p, ": "); gsub(/"/, "", p[1]); print inst, p[1], p[2] }
      }' | awk '$1 !~ /^[0-9]/ && $1 != "all"' | sort >"$2"
}
same_as_ss tcpconns-diag "$WORK/ss.cli" "$WORK/cli.got" cli_values
log "CLI: $(wc -l <"$WORK/cli.got") <Connections> values equal ss's"
# --no-listening (ListeningPorts false): the blocks alone, the same names.
"$CLI" --netns "$NS" --no-listening "${args[@]}" >"$WORK/cli.only.json" 2>"$WORK/cli.err" ||
  fail "tcpconns-diag --no-listening: $(cat "$WORK/cli.err")"
got=$(grep -o '"[^"]*": {' "$WORK/cli.only.json" | cut -d'"' -f2 | sort | tr '\n' ' ')
want=$(for i in "${!BLOCKS[@]}"; do field "$i" 1; done | sort | tr '\n' ' ')
[ "$got" = "$want" ] || fail "tcpconns-diag --no-listening: blocks '$got', want '$want'"
log "CLI --no-listening: the blocks alone ($want)"

# --- 3. configuration errors stop collectd ---------------------------------------

bad_conf() { # expected-log-text block-lines...
  local want=$1 bdir=$WORK/bad.$RANDOM
  shift
  local rc=0
  mkdir -p "$bdir"
  conf_write "$bdir/collectd.conf" -d "$bdir" -- "$@"
  timeout 20 "$COLLECTD" -f -C "$bdir/collectd.conf" >"$bdir/stdout" 2>&1 || rc=$?
  if [ $rc = 0 ] || [ $rc = 124 ]; then fail "collectd started with: $* (rc $rc)"; fi
  grep -qF -- "$want" "$bdir/collectd.log" ||
    fail "no '$want' in the log for: $*: $(cat "$bdir/collectd.log")"
}
bad_conf '<Connections "x">: RemoteAddress "10.1.2.3/16": host bits set past the /16 prefix (the network is 10.1.0.0/16).' \
  '<Connections "x">' 'RemoteAddress "10.1.2.3/16"' '</Connections>'
bad_conf '<Connections "x">: no condition' '<Connections "x">' 'States "LISTEN"' '</Connections>'
bad_conf '<Connections "X">: the name is already used by <Connections "x">' \
  '<Connections "x">' 'RemotePort 1' '</Connections>' '<Connections "X">' 'RemotePort 2' '</Connections>'
bad_conf '<Connections "a-b">: invalid name' '<Connections "a-b">' 'RemotePort 1' '</Connections>'
bad_conf '<Namespace "web">: <Connections "x">: LocalPort "70000": invalid port' \
  '<Namespace "web">' 'Path "/var/run/netns/none"' '<Connections "x">' 'LocalPort 70000' '</Connections>' '</Namespace>'
bad_conf '<Connections "x">: unknown option "Port"' '<Connections "x">' 'Port 1' '</Connections>'
log "configuration errors: collectd refuses to start, each error named"

log "PASS: conns_vs_ss"
log "1 passed, 0 failed"
