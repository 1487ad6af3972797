#!/bin/bash
# SPDX-License-Identifier: MIT
# A <Namespace> that shares the host's TCP established hash makes every
# read walk all of the host's sockets once more: the plugin says so once,
# naming the sysctl. A namespace with a hash of its own gets no hint.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
[ -e /proc/sys/net/ipv4/tcp_child_ehash_entries ] ||
  skip "no net.ipv4.tcp_child_ehash_entries on this kernel"
daemon_setup glue
show_on_fail "$WORK/collectd.log"

old=$(sysctl -n net.ipv4.tcp_child_ehash_entries)
ns_new shared hash-s
# A private hash: the sysctl must be set in the parent when it is created.
ns_new private hash-p 1024
[ "$(ip netns exec "$shared" sysctl -n net.ipv4.tcp_ehash_entries)" -lt 0 ] ||
  fail "a namespace made with tcp_child_ehash_entries=$old should share the hash"
[ "$(ip netns exec "$private" sysctl -n net.ipv4.tcp_ehash_entries)" -gt 0 ] ||
  fail "a namespace made with tcp_child_ehash_entries=1024 should have its own"

run() { # name path -> the log of one collectd -T
  rm -f "$WORK/collectd.log"
  conf_write "$WORK/$1.conf" -i 10 -w csv -- "<Namespace \"$1\">" "  Path \"$2\"" \
    '</Namespace>'
  "$COLLECTD" -T -C "$WORK/$1.conf" >/dev/null 2>&1 || fail "collectd -T failed"
}
run shared "/var/run/netns/$shared"
n=$(grep -c 'share the host.s TCP established hash' "$WORK/collectd.log" || true)
[ "$n" = 1 ] || fail "shared hash: hint logged $n times, expected once"
grep -q '1 of the 1 <Namespace> blocks.*tcp_child_ehash_entries' "$WORK/collectd.log" ||
  fail "the hint does not count the namespace or name the sysctl"
run private "/var/run/netns/$private"
n=$(grep -c 'share the host.s TCP established hash' "$WORK/collectd.log" || true)
[ "$n" = 0 ] || fail "private hash: hint logged $n times, expected none"
echo "ok - hint once for a shared hash, none for a private one"
echo "1 passed, 0 failed"
