#!/bin/bash
# SPDX-License-Identifier: MIT
# equivalence.sh: tcpconns_diag is a drop-in for upstream tcpconns, through the
# real daemon.
#
# In a private network namespace holding a known set of TCP sockets (built by
# tests/daemon/sockset), Debian's collectd runs once with upstream `tcpconns`
# and once with `tcpconns_diag` for each option block below (the block is the
# same, only the plugin name differs), all daemons at the same time and with
# the csv writer. The run is cut into phases: the static set, then a listener
# that comes, goes (its connection stays), comes back and goes again. For each
# block and phase, every value file the csv writer wrote must be the same for
# both daemons: the same identifiers, the same value in every read of the
# phase. Reads too close to a change of the set are left out, so the
# comparison does not depend on when each daemon happens to read.
#
# Environment: see tests/lib.sh (BUILDDIR, SRCDIR, PLUGIN_SO, COLLECTD,
# UPSTREAM_PLUGIN_DIR, KEEP_WORK), and
#   EQ_DIAG_EXTRA  self-check only: a line added to every tcpconns_diag block;
#               with e.g. "LocalPort 9999" the test must fail
#
# Exit: 0 pass, 1 fail, 77 skip (not root, or collectd / nftables / network
# namespaces not available and not installable).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
EQ_DIAG_EXTRA=${EQ_DIAG_EXTRA:-}

MARGIN=0.25     # s: reads this close to a change of the set are left out
READ_TIMEOUT=30 # s: longest wait for the reads a phase needs
DYN_PORT=47000  # the listener that comes and goes

# The option blocks: name, then body (one option a line).
BLOCKS=(
  default ''
  ports $'LocalPort 8443\nLocalPort "65535"\nRemotePort 9090\nRemotePort "7777"\nLocalPort 7778\nLocalPort 40001\nLocalPort 8080\nRemotePort 8080\nRemotePort 45000'
  summary 'AllPortsSummary true'
  full $'ListeningPorts true\nAllPortsSummary true\nLocalPort 8080\nRemotePort 8080\nLocalPort 45000\nRemotePort "45000"'
  nosockets $'LocalPort 9999\nRemotePort "9999"'
  listenfalse 'ListeningPorts false'
  dynamic $'ListeningPorts "on"\nLocalPort 47000\nRemotePort 50000'
  quirks $'localport "8080abc"\nRemotePort 7777.9\nListeningPorts 1\nAllPortsSummary "Yes"'
)
# The phases after the first (static set): commands to sockset, and a label.
PHASE_CMDS=("" "listen $DYN_PORT;connect $DYN_PORT" "unlisten $DYN_PORT"
  "listen $DYN_PORT" "unlisten $DYN_PORT")
PHASE_LABELS=("static set" "$DYN_PORT listens, one connection"
  "$DYN_PORT closed, its connection stays" "$DYN_PORT listens again"
  "$DYN_PORT closed again")

now() { printf '%s' "$EPOCHREALTIME"; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a + b }'; }

daemon_setup equiv tcpconns
need_cmd nft nftables
need_cmd ss iproute2

# The socket table of the namespace: state, local, peer; the dynamic port's
# sockets left out.
snapshot() {
  in_ns ss -tanH | awk -v p=":$DYN_PORT" '
    { l = $4; r = $5 }
    substr(l, length(l) - length(p) + 1) == p { next }
    substr(r, length(r) - length(p) + 1) == p { next }
    { print $1, l, r }' | sort
}

sockset_start
# The set must be settled (no transient state left) before the daemons start.
sockset_settle snapshot
BEFORE=$SOCKSET_TABLE
printf '%s\n' "$BEFORE" >"$WORK/sockets.before"
sockset_every_state "$BEFORE"

# --- the daemons -------------------------------------------------------------

DAEMON_PIDS=()
DAEMON_DIRS=()
T_START=$(now)
for ((i = 0; i < ${#BLOCKS[@]}; i += 2)); do
  for plugin in tcpconns tcpconns_diag; do
    dir=$WORK/${BLOCKS[i]}/$plugin
    daemon_start "$dir" "$plugin" "${BLOCKS[i + 1]}" "$EQ_DIAG_EXTRA" -w csv
    DAEMON_PIDS+=("$BG_PID")
    DAEMON_DIRS+=("$dir")
  done
done

reads_after() { # dir time: how many reads have written values after time
  { find "$1/csv" -type f -exec awk -F, -v t="$2" '
      FNR > 1 && $1 + 0 > t + 0 { c[FILENAME]++ }
      END { m = 0; for (f in c) if (c[f] > m) m = c[f]; print m }' {} + \
    2>/dev/null || true; } | sort -n | tail -n 1
}

wait_reads() { # time count: until every daemon has count reads after time
  local deadline i n
  deadline=$(add "$(now)" $READ_TIMEOUT)
  for i in "${!DAEMON_PIDS[@]}"; do
    while :; do
      bg_alive "${DAEMON_PIDS[i]}" "collectd in ${DAEMON_DIRS[i]}" \
        "${DAEMON_DIRS[i]}/stdout" "${DAEMON_DIRS[i]}/collectd.log"
      n=$(reads_after "${DAEMON_DIRS[i]}" "$1")
      [ "${n:-0}" -ge "$2" ] && break
      awk -v a="$(now)" -v b="$deadline" 'BEGIN { exit !(a > b) }' &&
        fail "collectd in ${DAEMON_DIRS[i]} wrote ${n:-0} reads in ${READ_TIMEOUT}s, want $2:
$(tail -n 20 "${DAEMON_DIRS[i]}/collectd.log" 2>&1)"
      sleep 0.2
    done
  done
  sleep "$MARGIN" # so that the last read counted is outside the next margin
}

# Phase windows: reads from WIN_START[p] to WIN_END[p] belong to phase p.
WIN_START=("$T_START")
WIN_END=()
wait_reads "$T_START" 3
for ((p = 1; p < ${#PHASE_CMDS[@]}; p++)); do
  t_cmd=$(now)
  IFS=';' read -r -a cmds <<<"${PHASE_CMDS[p]}"
  for c in "${cmds[@]}"; do sockset_cmd "$c"; done
  t_ack=$(now)
  WIN_END+=("$(add "$t_cmd" -$MARGIN)")
  WIN_START+=("$(add "$t_ack" $MARGIN)")
  wait_reads "${WIN_START[p]}" 2
done
WIN_END+=("$(now)")

bg_term statuses "${DAEMON_PIDS[@]}" # (not checked)
T_END=$(now)

AFTER=$(snapshot)
printf '%s\n' "$AFTER" >"$WORK/sockets.after"
if [ "$AFTER" != "$BEFORE" ]; then
  diff "$WORK/sockets.before" "$WORK/sockets.after" || true
  fail "the static socket set changed during the run ($(add "$T_END" -"$T_START") s; TIME_WAIT lasts 60 s)"
fi

# --- comparison --------------------------------------------------------------

WINDOWS=
for p in "${!WIN_START[@]}"; do WINDOWS+="${WIN_START[p]} ${WIN_END[p]} "; done

# summarize dir: "R phase reads" lines, and "V phase identifier value" lines,
# where value is the value of every read of the phase, or INCONSISTENT[...].
summarize() {
  csv_rows "$1/csv" | awk '{ print $2, $1, $3 }' | sort -k1,1n |
    awk -v windows="$WINDOWS" '
      BEGIN { np = split(windows, w, " ") / 2 }
      !started || $1 - last > 0.3 { # the first value of a read
        started = 1; ph = -1
        for (i = 0; i < np; i++)
          if ($1 + 0 >= w[2 * i + 1] + 0 && $1 + 0 <= w[2 * i + 2] + 0) ph = i
        if (ph >= 0) reads[ph]++
      }
      { last = $1 }
      ph < 0 { next }
      {
        k = ph " " $2
        n[k]++
        if (!(k in v)) v[k] = $3
        else if ($3 != v[k] && index(" " alt[k] " ", " " $3 " ") == 0) alt[k] = alt[k] " " $3
      }
      END {
        for (i = 0; i < np; i++) print "R", i, reads[i] + 0
        for (k in n) {
          split(k, kk, " ")
          val = v[k]
          if (alt[k] != "" || n[k] != reads[kk[1]])
            val = "INCONSISTENT[" v[k] alt[k] ";in_" n[k] "_of_" reads[kk[1]] "_reads]"
          print "V", k, val
        }
      }' | sort
}


for ((i = 0; i < ${#BLOCKS[@]}; i += 2)); do
  block=${BLOCKS[i]}
  for plugin in tcpconns tcpconns_diag; do
    summarize "$WORK/$block/$plugin" >"$WORK/$block/$plugin.summary"
  done
  up=$WORK/$block/tcpconns.summary
  ours=$WORK/$block/tcpconns_diag.summary
  log "block '$block': $(echo "${BLOCKS[i + 1]}" | tr '\n' ';' | cut -c 1-160)"

  for p in "${!WIN_START[@]}"; do
    min=2
    [ "$p" = 0 ] && min=3
    for f in "$up" "$ours"; do
      n=$(awk -v p="$p" '$1 == "R" && $2 == p { print $3 }' "$f")
      [ "${n:-0}" -ge $min ] ||
        problem "phase $p (${PHASE_LABELS[p]}): only ${n:-0} reads in $f, want $min"
    done
  done
  if grep -q INCONSISTENT "$up"; then
    problem "upstream's values changed within a phase (the socket set was not static):"
    grep INCONSISTENT "$up" | sed 's/^/    /' || true
  fi
  grep -q '^V ' "$up" || problem "upstream wrote no values"

  diffs=$(awk '
      FNR == NR { if ($1 == "V") up[$2 " " $3] = $4; next }
      $1 == "V" { ours[$2 " " $3] = $4 }
      END {
        for (k in up)
          if (!(k in ours)) print k, up[k], "<absent>"
          else if (up[k] != ours[k]) print k, up[k], ours[k]
        for (k in ours) if (!(k in up)) print k, "<absent>", ours[k]
      }' "$up" "$ours" | sort -k1,1n -k2,2)
  if [ -n "$diffs" ]; then
    problem "differences, by phase and plugin instance (upstream tcpconns / tcpconns_diag):"
    labels=$(printf '%s;' "${PHASE_LABELS[@]}")
    # One line per phase and plugin instance; a block one side lacks entirely
    # is shown with the other side's non-zero values.
    awk -v labels="$labels" '
      function num(x) { sub(/\.0+$/, "", x); return x }
      {
        n = split($2, part, "/"); inst = part[1] "/" part[2]
        state = part[3]; sub(/^tcp_connections-/, "", state)
        g = $1 " " inst
        if (!(g in seen)) { seen[g] = 1; order[++ng] = g }
        if ($4 == "<absent>") { miss_ours[g]++; if ($3 + 0 != 0) only[g] = only[g] " " state "=" num($3) }
        else if ($3 == "<absent>") { miss_up[g]++; if ($4 + 0 != 0) only[g] = only[g] " " state "=" num($4) }
        else diff[g] = diff[g] " " state "=" num($3) "/" num($4)
      }
      END {
        split(labels, label, ";")
        for (i = 1; i <= ng && i <= 40; i++) {
          g = order[i]; split(g, k, " ")
          line = "    phase " k[1] " (" label[k[1] + 1] "): " k[2] ":"
          if (only[g] == "") only[g] = " none"
          if (miss_ours[g] == 11) line = line " only upstream writes it, non-zero:" only[g]
          else if (miss_up[g] == 11) line = line " only tcpconns_diag writes it, non-zero:" only[g]
          else {
            if (miss_ours[g]) line = line " " miss_ours[g] " states missing in tcpconns_diag;"
            if (miss_up[g]) line = line " " miss_up[g] " states missing in upstream;"
            line = line diff[g]
          }
          print line
        }
        if (ng > 40) print "    ... and " ng - 40 " more"
      }' <<<"$diffs"
  else
    log "  same: $(grep -c '^V ' "$up") values in ${#WIN_START[@]} phases," \
      "reads $(awk '$1 == "R" { printf "%s ", $3 }' "$up")/ $(awk '$1 == "R" { printf "%s ", $3 }' "$ours")"
  fi
  for plugin in tcpconns tcpconns_diag; do # errors fail, warnings are shown
    if grep -q '\[error\]' "$WORK/$block/$plugin/collectd.log"; then
      problem "$plugin logged errors:"
      grep '\[error\]' "$WORK/$block/$plugin/collectd.log" | sed 's/^/    /' || true
    fi
    grep '\[warning\]' "$WORK/$block/$plugin/collectd.log" | sed "s/^/  note: $plugin: /" || true
  done
done

# The fixture itself, seen through upstream: guards against a comparison of
# two empty or two wrong outputs.
expect() { # block phase: the plugin instances upstream wrote in that phase
  { awk -v p="$2" '$1 == "V" && $2 == p { split($3, a, "/"); print a[2] }' \
    "$WORK/$1/tcpconns.summary" || true; } | sort -u | tr '\n' ' '
}
want="tcpconns-50000-local tcpconns-65535-local tcpconns-7777-local tcpconns-7778-local tcpconns-8080-local tcpconns-8443-local tcpconns-9090-local "
[ "$(expect default 0)" = "$want" ] ||
  problem "fixture: upstream default block, static set: got '$(expect default 0)', want '$want'"
[ "$(expect default 1)" = "tcpconns-$DYN_PORT-local $want" ] ||
  problem "fixture: upstream default block with $DYN_PORT listening: got '$(expect default 1)'"
[ "$(expect default 2)" = "$want" ] ||
  problem "fixture: upstream default block after $DYN_PORT closed: got '$(expect default 2)'"
for state in ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT \
  CLOSE_WAIT LAST_ACK LISTEN CLOSING; do
  awk -v id="h/tcpconns-all/tcp_connections-$state" \
    '$1 == "V" && $2 == 0 && $3 == id && $4 + 0 > 0 { f = 1 } END { exit !f }' \
    "$WORK/summary/tcpconns.summary" ||
    problem "fixture: upstream counts no $state in 'all'"
done

log "daemons ran $(add "$T_END" -"$T_START") s: ${#DAEMON_DIRS[@]} at once, $((${#BLOCKS[@]} / 2)) blocks"
problems_end
log "PASS"
exit 0
