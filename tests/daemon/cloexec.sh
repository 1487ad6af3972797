#!/bin/bash
# SPDX-License-Identifier: MIT
# cloexec.sh: the plugin's descriptors do not leak into children that other
# plugins fork.
#
# Two collectd daemons run side by side in a private network namespace, both
# with the `python` plugin and a small module (written by this test) whose
# read callback calls os.system(): a child forked and exec'd without closing
# descriptors, as plugins do. The child (/bin/sh) lists its own descriptors
# into a file. One daemon also runs tcpconns_diag, whose block also counts a
# second namespace (<Namespace>: a short-lived thread opens that socket inside
# it); the other (the baseline) does not. Then:
#   (a) the descriptors the plugin holds: those of the tcpconns_diag daemon
#       that the baseline does not have (by kind: netlink protocol, socket
#       family, file path, pipe, ...). Among them must be its two
#       NETLINK_SOCK_DIAG sockets (socket:[inode] in /proc/PID/fd found with
#       protocol 4 in the netlink table of the daemon's namespace,
#       /proc/PID/net/netlink, and of the second one), and every one of them
#       must be close-on-exec (flags in /proc/PID/fdinfo/N contain 02000000);
#   (b) a listing the child wrote after the socket existed holds none of
#       them (compared by socket inode or target), while it does hold the
#       module's canary, a file it made inheritable on purpose (so the
#       listing does show inherited descriptors).
#   (c) the same run again with tests/daemon/strip_cloexec.c (built here)
#       preloaded into both daemons: it removes SOCK_CLOEXEC from every
#       socket() call, so the plugin's socket now leaks, and (a) and (b) must
#       both report it.
# The test passes only if the normal run is clean and the shimmed run is
# caught by both checks.
#
# Environment: see tests/lib.sh (BUILDDIR, SRCDIR, PLUGIN_SO, KEEP_WORK, ...).
#
# Exit: 0 pass, 1 fail, 77 skip (not root, or a package cannot be installed).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
daemon_setup cloexec python
need_lib python libpython3.11
need_cmd python3
need_cmd ip iproute2
need_cmd "${CC:-cc}" gcc libc6-dev

SHIM=$WORK/strip_cloexec.so
"${CC:-cc}" -std=c11 -O2 -Wall -shared -fPIC -o "$SHIM" \
  "$SRCDIR/tests/daemon/strip_cloexec.c" -ldl || fail "cannot build the shim"

ns_new NS cloexec
ns_new NS2 cloexec-other # the namespace of the <Namespace> block

mkdir -p "$WORK/py"
cat >"$WORK/py/fdlist.py" <<'PY'
"""Lists the descriptors a child of collectd inherits: each read forks and
execs /bin/sh with os.system() (no descriptor closed), and the shell writes
its own /proc/PID/fd, one "FD TARGET" a line, to OUT/fds.N."""
import os

import collectd

out = None
seq = 0
canary = None


def config(conf):
    global out
    for child in conf.children:
        if child.key == "Out":
            out = child.values[0]


def init():
    global canary
    os.makedirs(out, exist_ok=True)
    # Inheritable on purpose: the child's listing must show it.
    canary = open(os.path.join(out, "canary"), "w")
    os.set_inheritable(canary.fileno(), True)


def read():
    global seq
    seq += 1
    os.system('cd /proc/$$/fd && for f in *; do echo "$f $(readlink "$f")"; done'
              ' >"%s/tmp" && mv "%s/tmp" "%s/fds.%d"' % (out, out, out, seq))


collectd.register_config(config)
collectd.register_init(init)
collectd.register_read(read)
PY

# fdscan.py PID DIR [NETLINK-TABLE...]: "FD FLAGS KIND TARGET" for each
# descriptor of PID, where KIND names what it is without instance numbers
# (netlink:PROTO, unix, tcp, pipe, a path with DIR written as $DIR, ...), and
# FLAGS is octal. Sockets are looked up in the tables of PID's namespace and
# in the netlink tables given (copies of other namespaces' /proc/net/netlink).
cat >"$WORK/fdscan.py" <<'PY'
import os, sys
pid, home = sys.argv[1], sys.argv[2]
inodes = {}
for path in sys.argv[3:]:
    for line in open(path).read().splitlines()[1:]:
        f = line.split()
        inodes[f[9]] = "netlink:" + f[1]
for table in ("netlink", "unix", "tcp", "tcp6", "udp", "udp6", "raw", "raw6", "packet"):
    try:
        lines = open("/proc/%s/net/%s" % (pid, table)).read().splitlines()[1:]
    except OSError:
        continue
    for line in lines:
        f = line.split()
        if table == "netlink":
            inodes[f[9]] = "netlink:" + f[1]
        elif table == "unix":
            inodes[f[6]] = "unix"
        elif table == "packet":
            inodes[f[8]] = "packet"
        else:
            inodes[f[9]] = table
for fd in sorted(os.listdir("/proc/%s/fd" % pid), key=int):
    try:
        target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        info = open("/proc/%s/fdinfo/%s" % (pid, fd)).read()
    except OSError:
        continue  # closed meanwhile
    flags = [l.split()[1] for l in info.splitlines() if l.startswith("flags:")][0]
    if target.startswith("socket:["):
        kind = inodes.get(target[8:-1], "socket:unknown")
    elif target.startswith(("pipe:", "anon_inode:")):
        kind = target.split("[")[0] if target.startswith("pipe:") else target
    else:
        kind = target.replace(home, "$DIR")
    print(fd, flags, kind, target)
PY

CASES_FAILED=0
CASES_PASSED=0

# run_case name preload: runs both daemons (with LD_PRELOAD=preload when not
# empty) and checks (a) and (b); sets LEAK_A and LEAK_B to what each found
# (empty: nothing leaked) and fails the test if the run itself went wrong.
run_case() {
  local name=$1 preload=$2 role dir n0 listing plugin
  local -A PIDS
  for role in full base; do
    dir=$WORK/$name/$role
    mkdir -p "$dir"
    plugin=tcpconns_diag
    [ $role = full ] || plugin=
    conf_write "$dir/collectd.conf" -e "<LoadPlugin python>
  Globals true
</LoadPlugin>
<Plugin python>
  ModulePath \"$WORK/py\"
  Import \"fdlist\"
  <Module fdlist>
    Out \"$dir/fds\"
  </Module>
</Plugin>" -p "$plugin" -- 'LocalPort "80"' '<Namespace "other">' \
      "  Path \"/var/run/netns/$NS2\"" '  LocalPort "80"' '</Namespace>'
    if [ -n "$preload" ]; then
      ns_bg "$NS" "$dir/stdout" env LD_PRELOAD="$preload" STRIP_CLOEXEC_LOG="$dir/shim.log" \
        "$COLLECTD" -f -C "$dir/collectd.conf"
    else
      ns_bg "$NS" "$dir/stdout" "$COLLECTD" -f -C "$dir/collectd.conf"
    fi
    PIDS[$role]=$BG_PID
  done
  # With env in front, the PID is env's until it execs collectd: the same PID.
  full=$WORK/$name/full
  base=$WORK/$name/base

  # The plugin's sockets appear at its first read.
  scan() { # pid dir: fdscan.py with the second namespace's netlink table
    ip netns exec "$NS2" cat /proc/self/net/netlink >"$WORK/netlink.other"
    python3 "$WORK/fdscan.py" "$1" "$2" "$WORK/netlink.other"
  }
  has_sockets() {
    kill -0 "${PIDS[full]}" 2>/dev/null ||
      fail "$name: collectd died: $(tail -n 20 "$full/stdout" "$full/collectd.log" 2>&1)"
    [ "$(scan "${PIDS[full]}" "$full" 2>/dev/null | grep -c ' netlink:4 ')" -ge 2 ]
  }
  wait_for 20 has_sockets || fail "$name: no two NETLINK_SOCK_DIAG sockets in collectd after 20 s:
$(scan "${PIDS[full]}" "$full" 2>&1)
$(tail -n 10 "$full/collectd.log")"
  last_listing() { # dir: the number of the newest listing, 0 if none
    find "$1/fds" -name 'fds.*' 2>/dev/null | sed 's/.*fds\.//' | sort -n | tail -n 1 | grep . || echo 0
  }
  # A listing begun after the socket existed: two reads later.
  n0=$(last_listing "$full")
  listing_after() { [ "$(last_listing "$1")" -ge $((n0 + 2)) ]; }
  wait_for 15 listing_after "$full" || fail "$name: the python module wrote no listing after fds.$n0"
  base_listing() { [ "$(last_listing "$base")" -ge 2 ]; }
  wait_for 15 base_listing || fail "$name: the baseline wrote no listing"

  scan "${PIDS[full]}" "$full" >"$full/fds.now"
  scan "${PIDS[base]}" "$base" >"$base/fds.now"
  listing=$full/fds/fds.$(last_listing "$full")
  cp "$listing" "$full/child.fds"
  for role in full base; do bg_stop "${PIDS[$role]}"; done

  # (a): the plugin's descriptors (kinds the baseline does not have, as a
  # multiset) and their flags.
  awk 'FNR == NR { base[$3]++; next } base[$3] > 0 { base[$3]--; next } { print }' \
    "$base/fds.now" "$full/fds.now" >"$full/plugin.fds"
  [ "$(grep -c ' netlink:4 ' "$full/plugin.fds")" = 2 ] ||
    fail "$name: the plugin's two NETLINK_SOCK_DIAG sockets are not among its descriptors:
$(cat "$full/plugin.fds")"
  LEAK_A=$(awk '{ f = $2; cloexec = 0
      # octal flags: 02000000 is O_CLOEXEC
      if (length(f) >= 7) cloexec = substr(f, length(f) - 6, 1) ~ /[2367]/
      if (!cloexec) printf "fd %s (%s, %s) flags %s; ", $1, $3, $4, f }' "$full/plugin.fds")
  # (b): the child's listing against the plugin's descriptors.
  grep -q "$full/fds/canary\$" "$full/child.fds" ||
    fail "$name: the child's listing does not show the inherited canary, so it cannot show a leak:
$(cat "$full/child.fds")"
  LEAK_B=$(awk 'FNR == NR { mine[$4] = $3; next }
      ($2 in mine) { printf "child fd %s is %s (%s); ", $1, $2, mine[$2] }' \
    "$full/plugin.fds" "$full/child.fds")
  log "  $name: the plugin holds: $(awk '{ printf "fd %s %s %s flags %s; ", $1, $3, $4, $2 }' "$full/plugin.fds")"
  log "  $name: the child (/bin/sh) holds: $(awk '{ printf "%s %s; ", $1, $2 }' "$full/child.fds")"
  if [ -n "$preload" ]; then
    grep -q 'domain 16$' "$full/shim.log" 2>/dev/null ||
      fail "$name: the shim stripped no SOCK_CLOEXEC from a netlink socket() call"
  fi
  check_log "$full" || fail "$name: collectd logged errors"
}

# verdict OK TEXT-IF-OK TEXT-IF-NOT: counts and reports one case.
verdict() {
  if [ "$1" = 1 ]; then
    log "ok - $2"
    CASES_PASSED=$((CASES_PASSED + 1))
  else
    log "not ok - $3"
    CASES_FAILED=$((CASES_FAILED + 1))
  fi
}

log "normal run (the plugin as built):"
run_case normal ""
verdict "$([ -z "$LEAK_A$LEAK_B" ] && echo 1)" \
  "(a) every descriptor of the plugin is close-on-exec; (b) the child holds none of them" \
  "the plugin leaks: (a) ${LEAK_A:-none} (b) ${LEAK_B:-none}"

log "shimmed run (SOCK_CLOEXEC stripped from socket() by strip_cloexec.so):"
run_case shim "$SHIM"
verdict "$([ -n "$LEAK_A" ] && [ -n "$LEAK_B" ] && echo 1)" \
  "the leak is caught: (a) $LEAK_A (b) $LEAK_B" \
  "the checks miss the leak the shim makes: (a) ${LEAK_A:-nothing found} (b) ${LEAK_B:-nothing found}"

log "$CASES_PASSED passed, $CASES_FAILED failed"
[ "$CASES_FAILED" = 0 ] || fail "$CASES_FAILED of 2 cases failed"
