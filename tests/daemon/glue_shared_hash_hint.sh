#!/bin/bash
# SPDX-License-Identifier: MIT
# A <Namespace> that shares the host's TCP established hash makes every
# read walk all of the host's sockets once more: the plugin says so once,
# naming the sysctl. A namespace with a hash of its own gets no hint.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
daemon_setup hashhint
[ -e /proc/sys/net/ipv4/tcp_child_ehash_entries ] ||
  skip "no net.ipv4.tcp_child_ehash_entries on this kernel"
show_on_fail "$WORK/collectd.log"

shared='' private='' # set by ns_new
ns_new shared hashs
ns_new private hashp 1024
[ "$(ip netns exec "$shared" sysctl -n net.ipv4.tcp_ehash_entries)" -lt 0 ] ||
  fail "a namespace made without tcp_child_ehash_entries should share the hash"
[ "$(ip netns exec "$private" sysctl -n net.ipv4.tcp_ehash_entries)" -gt 0 ] ||
  fail "a namespace made with tcp_child_ehash_entries=1024 should have its own"

hints() { # name namespace -> how often one collectd -T logs the hint
  rm -f "$WORK/collectd.log"
  conf_write "$WORK/$1.conf" -i 10 "<Namespace \"$1\">" \
    "  Path \"/var/run/netns/$2\"" '</Namespace>'
  "$COLLECTD" -T -C "$WORK/$1.conf" >/dev/null 2>&1 || fail "collectd -T failed"
  grep -c 'share the host.s TCP established hash' "$WORK/collectd.log" || true
}
n=$(hints shared "$shared")
[ "$n" = 1 ] || fail "shared hash: hint logged $n times, expected once"
grep -q '1 of the 1 <Namespace> blocks.*tcp_child_ehash_entries' "$WORK/collectd.log" ||
  fail "the hint does not count the namespace or name the sysctl"
n=$(hints private "$private")
[ "$n" = 0 ] || fail "private hash: hint logged $n times, expected none"
log "ok - hint once for a shared hash, none for a private one"
log "1 passed, 0 failed"
