#!/bin/bash
# SPDX-License-Identifier: MIT
# cli_vs_ss.sh: tcpconns-diag prints what ss sees.
#
# In a private network namespace holding tests/daemon/sockset's known set of
# TCP sockets (every state but CLOSED, IPv4, IPv6 and v4-mapped), the CLI is
# run from outside the namespace (--netns NAME) with several flag sets, and
# each JSON document is compared with counts computed from `ss` with the
# same filter: the same blocks, the same states (only the reported ones, in
# kernel order) and the same numbers. ss is asked for the eleven states by
# name (not `-a`/`state all`, which also asks for bound-inactive sockets).
# Each comparison is retried if the socket table changed while it ran
# (TIME_WAIT sockets expire after 60 s).
#
# Also checked: --netns-pid, running inside the namespace, entering from
# another namespace, the table format, usage errors (exit 2, the flag and
# the value named on stderr, nothing on stdout), a missing namespace (exit
# 1), warnings, --help/--version, and --watch 1 stopped by SIGINT after
# 2.5 s (at least two documents, exit 0).
#
# Environment: see tests/lib.sh (BUILDDIR, SRCDIR, KEEP_WORK), and
#   CLI        the program under test (default: $BUILDDIR/tcpconns-diag)
#   CLI_EXTRA  self-check only: flags added to the CLI (not to the
#              expectation) in every comparison; with e.g. "--local-port
#              9999" the test must fail
#
# Exit: 0 pass, 1 fail, 77 skip (not root).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
CLI=${CLI:-$BUILDDIR/tcpconns-diag}
CLI_EXTRA=${CLI_EXTRA:-}

need_root "network namespaces, nftables"
need_cmd ip iproute2
need_cmd ss iproute2
need_cmd nft nftables
need_cmd timeout coreutils
[ -x "$CLI" ] || fail "no CLI at $CLI (build it first)"
work_dir cli

# The namespace's TCP sockets: "STATE local peer" per line, sorted, states
# and addresses as ss prints them.
snapshot() { # namespace
  ip netns exec "$1" ss -Htan "${SS_STATE_ARGS[@]}" | awk '{ print $1, $4, $5 }' | sort
}

# The socket set (tests/daemon/sockset: every state but CLOSED) in NS; a
# second, empty namespace NS_EMPTY to run the CLI from.
sockset_start
ns_new NS_EMPTY cli-empty
sockset_settle snapshot "$NS"
BEFORE=$SOCKSET_TABLE
sockset_every_state "$BEFORE"

# --- expected counts from ss ---------------------------------------------------

# expect SNAPSHOT-FILE FLAGS...: "instance STATE count" lines, sorted, for
# what the plugin reports with these flags: an "all" block with --all,
# "P-local"/"P-remote" (or "A-B-local") per port flag, and with --listening
# (the last of --listening and --no-listening wins), or with neither ports
# nor --all (whatever they say: upstream's rule), "P-local" per listening
# port; each with the --states given (all eleven by default).
expect() {
  local file=$1 all=0 listening=0 locals="" remotes="" states=""
  shift
  while [ $# -gt 0 ]; do
    case $1 in
    --all) all=1 ;;
    --listening) listening=1 ;;
    --no-listening) listening=0 ;;
    --local-port) locals="$locals $2"; shift ;;
    --remote-port) remotes="$remotes $2"; shift ;;
    --states) states="$states ${2//,/ }"; shift ;;
    *) fail "expect: unknown flag $1" ;;
    esac
    shift
  done
  [ "$all" = 0 ] && [ -z "$locals$remotes" ] && listening=1
  awk -v all="$all" -v listening="$listening" -v locals="$locals" \
    -v remotes="$remotes" -v states="$states" -v order="$TCP_STATES" '
    function port(a) { sub(/.*:/, "", a); return a == "*" ? 0 : a + 0 }
    function block(inst, dir, lo, hi) {
      if (inst in seen) return
      seen[inst] = 1; nb++; B[nb] = inst; D[nb] = dir; LO[nb] = lo; HI[nb] = hi
    }
    function spec(s, dir,   p) {
      if (split(s, p, "-") == 2 && p[1] + 0 != p[2] + 0)
        block(s "-" dir, dir, p[1] + 0, p[2] + 0)
      else
        block((p[1] + 0) "-" dir, dir, p[1] + 0, p[1] + 0)
    }
    BEGIN {
      split("ESTAB SYN-SENT SYN-RECV FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT UNCONN CLOSE-WAIT LAST-ACK LISTEN CLOSING", ssn, " ")
      ns = split(order, tcs, " ")
      for (i = 1; i <= ns; i++) name[ssn[i]] = tcs[i]
      nw = split(toupper(states), w, " ")
      for (i = 1; i <= nw; i++) want[w[i]] = 1
      for (i = 1; i <= ns; i++) if (nw == 0 || (tcs[i] in want)) rep[tcs[i]] = 1
    }
    {
      if (!($1 in name)) { print "unknown ss state " $1 > "/dev/stderr"; exit 1 }
      n++; S[n] = name[$1]; L[n] = port($2); R[n] = port($3)
      if (S[n] == "LISTEN") listen[L[n]] = 1
    }
    END {
      if (all) block("all", "all", 0, 65535)
      nl = split(locals, lp, " "); for (i = 1; i <= nl; i++) spec(lp[i], "local")
      nr = split(remotes, rp, " "); for (i = 1; i <= nr; i++) spec(rp[i], "remote")
      if (listening) for (p in listen) block(p "-local", "local", p, p)
      for (b = 1; b <= nb; b++) {
        for (st in rep) c[st] = 0
        for (i = 1; i <= n; i++) {
          v = D[b] == "all" ? LO[b] : D[b] == "local" ? L[i] : R[i]
          if (v >= LO[b] && v <= HI[b] && (S[i] in rep)) c[S[i]]++
        }
        for (st in rep) print B[b], st, c[st]
      }
    }' "$file" | sort
}

# --- the CLI's output as lines --------------------------------------------------

# json_lines: one JSON document (exactly the CLI's layout) on stdin to
# "instance STATE count" lines in output order; exits 1 on anything else.
json_lines() {
  awk '
    NR > 1 { print "more than one line" > "/dev/stderr"; exit 1 }
    {
      s = $0
      if (s !~ /^\{.*\}$/) { print "not an object: " $0 > "/dev/stderr"; exit 1 }
      s = substr(s, 2, length(s) - 2)
      while (s != "") {
        if (!match(s, /^"[^"]+": \{("[A-Z_0-9]+": [0-9]+(, "[A-Z_0-9]+": [0-9]+)*)?\}(, )?/)) {
          print "bad block at: " s > "/dev/stderr"; exit 1
        }
        blk = substr(s, 1, RLENGTH); s = substr(s, RLENGTH + 1)
        inst = blk; sub(/^"/, "", inst); sub(/".*/, "", inst)
        body = blk; sub(/^"[^"]+": \{/, "", body); sub(/\}(, )?$/, "", body)
        k = split(body, kv, ", ")
        for (i = 1; i <= k; i++) {
          split(kv[i], p, ": "); gsub(/"/, "", p[1]); print inst, p[1], p[2]
        }
      }
    }
    END { if (NR == 0) { print "no output" > "/dev/stderr"; exit 1 } }'
}

# table_lines: the table on stdin to "instance STATE count" lines.
table_lines() {
  awk '
    NR == 1 {
      if ($1 != "INSTANCE") { print "no header: " $0 > "/dev/stderr"; exit 1 }
      for (i = 2; i <= NF; i++) h[i] = $i; nh = NF; next
    }
    {
      if (NF != nh) { print "bad row: " $0 > "/dev/stderr"; exit 1 }
      for (i = 2; i <= NF; i++) print $1, h[i], $i
    }'
}

# The state order of each block must be the kernel order of the reported
# states: checked on "instance STATE count" lines in output order.
check_state_order() { # lines-file want-states
  awk -v want="$2" '
    $1 != cur { if (cur != "" && got != want) bad = bad cur ": " got "\n"; cur = $1; got = $2; next }
    { got = got " " $2 }
    END { if (cur != "" && got != want) bad = bad cur ": " got "\n"; printf "%s", bad; exit bad != "" }' "$1"
}

reported_states() { # the --states flags' names (upper case) in kernel order
  local given="" st out=""
  while [ $# -gt 0 ]; do
    [ "$1" = --states ] && { given="$given ${2//,/ }"; shift; }
    shift
  done
  given=${given^^}
  for st in $TCP_STATES; do
    if [ -z "$given" ] || [[ " $given " == *" $st "* ]]; then out="$out $st"; fi
  done
  echo "${out# }"
}

# --- comparisons ---------------------------------------------------------------

CASES=0
# compare NAME FORMAT RUNNER FLAGS... [-- MODEL-FLAGS...]: runs the CLI
# (RUNNER: "outside", "pid", "inside", "from-empty") with FLAGS and checks
# its output against ss; MODEL-FLAGS (default: FLAGS) are what the
# expectation is computed from. Leaves the output lines in $WORK/NAME.lines.
compare() {
  local name=$1 format=$2 runner=$3 cli=() model=() seen_sep=0 rc
  shift 3
  for a in "$@"; do
    if [ "$a" = -- ]; then seen_sep=1; continue; fi
    if [ $seen_sep = 1 ]; then model+=("$a"); else cli+=("$a"); fi
  done
  [ $seen_sep = 1 ] || model=("${cli[@]}")
  # shellcheck disable=SC2206 # CLI_EXTRA is a list of flags
  cli+=($CLI_EXTRA --format "$format")
  local out=$WORK/$name.out err=$WORK/$name.err
  for _ in 1 2 3 4 5; do
    snapshot "$NS" >"$WORK/$name.ss"
    rc=0
    case $runner in
    outside) "$CLI" --netns "$NS" "${cli[@]}" ;;
    pid) "$CLI" --netns-pid "$SOCKSET_PID" "${cli[@]}" ;;
    inside) ip netns exec "$NS" "$CLI" "${cli[@]}" ;;
    from-empty) ip netns exec "$NS_EMPTY" "$CLI" --netns "$NS" "${cli[@]}" ;;
    esac >"$out" 2>"$err" || rc=$?
    snapshot "$NS" >"$WORK/$name.ss2"
    cmp -s "$WORK/$name.ss" "$WORK/$name.ss2" && break
  done
  [ $rc = 0 ] || fail "$name: exit $rc: $(cat "$err")"
  if [ "$format" = json ]; then
    json_lines <"$out" >"$WORK/$name.lines" || fail "$name: bad JSON: $(cat "$out")"
    if command -v jq >/dev/null; then
      jq -e 'type == "object"' <"$out" >/dev/null || fail "$name: jq rejects: $(cat "$out")"
    fi
  else
    table_lines <"$out" >"$WORK/$name.lines" || fail "$name: bad table: $(cat "$out")"
  fi
  check_state_order "$WORK/$name.lines" "$(reported_states "${model[@]}")" >"$WORK/$name.order" ||
    fail "$name: states not in kernel order or not the reported ones: $(cat "$WORK/$name.order")"
  expect "$WORK/$name.ss" "${model[@]}" >"$WORK/$name.expected" || fail "$name: expect failed"
  sort "$WORK/$name.lines" >"$WORK/$name.got"
  if ! cmp -s "$WORK/$name.expected" "$WORK/$name.got"; then
    log "--- expected (from ss)  +++ tcpconns-diag $format $runner ${cli[*]}"
    diff -u "$WORK/$name.expected" "$WORK/$name.got" | tail -n +3 || true
    fail "$name: counts differ from ss"
  fi
  CASES=$((CASES + 1))
}

block_order() { # lines-file: the instances in output order
  awk '$1 != cur { printf "%s%s", sep, $1; sep = " "; cur = $1 } END { print "" }' "$1"
}

log "== counts against ss (the CLI outside the namespace, --netns $NS)"
compare default json outside
compare summary json outside --all
compare ports json outside --local-port 8080 --remote-port 8080 --local-port 45000 \
  --remote-port 45000 --local-port 9999 --remote-port 9090
# Upstream's order: newest port first, -local before -remote; zero blocks too.
got=$(block_order "$WORK/ports.lines")
want="9090-remote 9999-local 45000-local 45000-remote 8080-local 8080-remote"
[ -n "$CLI_EXTRA" ] || [ "$got" = "$want" ] || fail "ports: block order '$got', want '$want'"
compare full json outside --all --listening --local-port 7777 --remote-port 8443 \
  --local-port 65535
compare ranges json outside --local-port 7000-7999 --local-port 8000-8099 \
  --local-port 8080 --remote-port 8000-8499 --remote-port 20000-29999 \
  --local-port 50000-50000
compare states json outside --states ESTABLISHED,TIME_WAIT
compare states_all json outside --all --states listen,SYN_RECV --states CLOSING \
  --local-port 9090
compare listen_only json outside --states LISTEN --local-port 8080 --remote-port 8080
compare no_listening json outside --no-listening
compare no_listening_ports json outside --listening --local-port 7777 --no-listening
compare listening_again json outside --no-listening --remote-port 8443 --listening
compare quirk json outside --local-port 8080abc -- --local-port 8080
grep -q 'warning: --local-port "8080abc"' "$WORK/quirk.err" ||
  fail "quirk: no warning naming --local-port \"8080abc\": $(cat "$WORK/quirk.err")"

log "== namespaces: --netns-pid, inside, from another namespace"
compare by_pid json pid --all --listening
compare inside json inside --all --listening --remote-port 8443
compare from_empty json from-empty --all --local-port 8080
out=$(ip netns exec "$NS_EMPTY" "$CLI" --all 2>&1) || fail "empty namespace: $out"
want='{"all": {"ESTABLISHED": 0, "SYN_SENT": 0, "SYN_RECV": 0, "FIN_WAIT1": 0, "FIN_WAIT2": 0, "TIME_WAIT": 0, "CLOSED": 0, "CLOSE_WAIT": 0, "LAST_ACK": 0, "LISTEN": 0, "CLOSING": 0}}'
[ "$out" = "$want" ] || fail "empty namespace --all: '$out', want '$want'"
out=$(ip netns exec "$NS_EMPTY" "$CLI" 2>&1) || fail "empty namespace: $out"
[ "$out" = "{}" ] || fail "empty namespace, no listener: '$out', want '{}'"

log "== table format"
compare table table outside --all --listening --remote-port 8080 --local-port 7000-7999
compare table_states table outside --states FIN_WAIT1,CLOSING --local-port 7777
head -1 "$WORK/table_states.out" | grep -qx 'INSTANCE *FIN_WAIT1 *CLOSING' ||
  fail "table header: $(head -1 "$WORK/table_states.out")"

log "== usage errors: exit 2, the flag and the value on stderr, nothing on stdout"
usage_error() { # text-that-stderr-must-hold... -- args...
  local want=() rc=0
  while [ "$1" != -- ]; do want+=("$1"); shift; done
  shift
  "$CLI" "$@" >"$WORK/usage.out" 2>"$WORK/usage.err" || rc=$?
  [ $rc = 2 ] || fail "$*: exit $rc, want 2 (stderr: $(cat "$WORK/usage.err"))"
  [ ! -s "$WORK/usage.out" ] || fail "$*: printed on stdout: $(cat "$WORK/usage.out")"
  for w in "${want[@]}"; do
    grep -qF -- "$w" "$WORK/usage.err" || fail "$*: stderr does not name '$w': $(cat "$WORK/usage.err")"
  done
  CASES=$((CASES + 1))
}
usage_error --local-port '"70000"' -- --local-port 70000
usage_error --local-port '"0"' -- --all --local-port 0
usage_error --remote-port '"http"' -- --remote-port http
usage_error --local-port '"9000-8000"' -- --local-port 9000-8000
usage_error --local-port '""' -- --local-port ''
usage_error --states NOPE -- --states ESTABLISHED,NOPE
usage_error --states -- --states ,
usage_error --format '"xml"' -- --format xml
usage_error --watch '"0"' -- --watch 0
usage_error --watch '"soon"' -- --watch soon
usage_error --netns-pid '"0"' -- --netns-pid 0
usage_error --bogus -- --bogus
usage_error --local-port -- --local-port
usage_error '"stray"' -- stray
usage_error --netns '"a/b"' -- --netns a/b
usage_error --netns-pid '"1"' 'only one' -- --netns "$NS" --netns-pid 1
# Usage errors come first: before the namespace is even looked at.
usage_error --local-port '"0"' -- --netns "$NS-missing" --local-port 0

log "== a namespace that does not exist: exit 1, named"
rc=0
"$CLI" --netns "$NS-missing" >"$WORK/missing.out" 2>"$WORK/missing.err" || rc=$?
[ $rc = 1 ] || fail "--netns $NS-missing: exit $rc, want 1"
grep -qF "/var/run/netns/$NS-missing" "$WORK/missing.err" ||
  fail "--netns $NS-missing: stderr does not name it: $(cat "$WORK/missing.err")"
[ ! -s "$WORK/missing.out" ] || fail "--netns $NS-missing printed: $(cat "$WORK/missing.out")"

log "== --help, --version"
"$CLI" --help >"$WORK/help.out" 2>&1 || fail "--help: exit $?"
for flag in --local-port --remote-port --listening --no-listening --all --states --netns \
  --netns-pid --format --watch --help --version; do
  grep -qF -- "$flag" "$WORK/help.out" || fail "--help does not mention $flag"
done
"$CLI" --version | grep '^tcpconns-diag ' >/dev/null || fail "--version: $("$CLI" --version 2>&1)"

log "== --watch 1, SIGINT after 2.5 s"
start=$EPOCHREALTIME
rc=0
timeout --preserve-status -k 5 -s INT 2.5 "$CLI" --netns "$NS" --watch 1 --all \
  --listening >"$WORK/watch.out" 2>"$WORK/watch.err" || rc=$?
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
[ $rc = 0 ] || fail "--watch: exit $rc after SIGINT, want 0: $(cat "$WORK/watch.err")"
awk -v e="$elapsed" 'BEGIN { exit !(e < 4) }' || fail "--watch: took ${elapsed}s to stop"
docs=$(wc -l <"$WORK/watch.out")
[ "$docs" -ge 2 ] || fail "--watch 1: $docs documents in 2.5 s, want at least 2"
while IFS= read -r doc; do
  json_lines <<<"$doc" >/dev/null || fail "--watch: bad document: $doc"
done <"$WORK/watch.out"
[ ! -s "$WORK/watch.err" ] || fail "--watch wrote to stderr: $(cat "$WORK/watch.err")"
rc=0
timeout --preserve-status -k 5 -s INT 1.5 "$CLI" --netns "$NS" --watch 1 \
  --format table >"$WORK/watch_table.out" 2>&1 || rc=$?
[ $rc = 0 ] || fail "--watch --format table: exit $rc: $(cat "$WORK/watch_table.out")"
tables=$(grep -c '^INSTANCE ' "$WORK/watch_table.out" || true)
[ "$tables" -ge 2 ] || fail "--watch 1 --format table: $tables tables in 1.5 s, want 2"

log "PASS: $CASES checks, $docs watch documents"
