#!/bin/bash
# SPDX-License-Identifier: MIT
# Bad <Plugin tcpconns_diag> blocks stop collectd's configuration with one
# error line naming the option and the value, and never crash it; guesses
# upstream makes silently are kept and logged as warnings.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
daemon_setup glue
show_on_fail "$WORK/collectd.log"

expect_error() { # expected-log-text block-lines...
  local want=$1 rc=0
  shift
  : >"$WORK/collectd.log"
  conf_write "$WORK/bad.conf" -i 10 -w csv -- "$@"
  unshare -n "$COLLECTD" -T -C "$WORK/bad.conf" >"$WORK/out.txt" 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "block [$*]: exit $rc, expected 1 (config failure)"
  grep -qF "$want" "$WORK/collectd.log" ||
    fail "block [$*]: no log line with: $want"
  [ ! -d "$WORK/csv" ] || fail "block [$*]: values were dispatched"
  echo "ok - [$*] fails: $(grep -F "$want" "$WORK/collectd.log" | head -1 | cut -c23-)"
}

expect_error 'LocalPort "0": invalid port' 'LocalPort "0"'
expect_error 'LocalPort "65536": invalid port' 'LocalPort "65536"'
expect_error 'RemotePort "-1": invalid port' 'RemotePort "-1"'
expect_error 'LocalPort "http": invalid port' 'LocalPort "http"'
expect_error 'LocalPort "": the option needs a value' 'LocalPort ""'
expect_error 'ListeningPorts "": the option needs a value' 'ListeningPorts ""'
expect_error 'unknown option "Port"' 'Port "80"'
expect_error 'unexpected block <Foo>' '<Foo "x">' '  LocalPort "80"' '</Foo>'
expect_error '<Namespace "x">: needs Path' '<Namespace "x">' '  LocalPort "80"' '</Namespace>'
expect_error '<Namespace "x">: LocalPort "0": invalid port' '<Namespace "x">' '  Path "/var/run/netns/x"' '  LocalPort "0"' '</Namespace>'
expect_error '<Namespace "a/b">: invalid name: a name holds only letters' '<Namespace "a/b">' '  Pid 1' '</Namespace>'
# Names that would make two blocks share a plugin instance (issue 9).
expect_error '<Namespace "90">: invalid name: a name starts with a letter' '<Namespace "90">' '  Pid 1' '</Namespace>'
expect_error '<Namespace "web-80">: invalid name' '<Namespace "web-80">' '  Pid 1' '</Namespace>'
expect_error '<Namespace "self">: invalid name: "all" and "self"' '<Namespace "self">' '  Pid 1' '</Namespace>'
expect_error 'States "ESTABLISHED FOO": unknown state "FOO"; valid: ESTABLISHED' 'States "ESTABLISHED" "FOO"'
expect_error 'LocalPort "90-80": invalid port range' 'LocalPort "90-80"'

# Upstream's silent guesses: kept, with a warning; the daemon runs.
: >"$WORK/collectd.log"
conf_write "$WORK/guess.conf" -i 10 -w csv -- 'ListeningPorts 1' 'LocalPort "80abc"'
unshare -n "$COLLECTD" -T -C "$WORK/guess.conf" >"$WORK/out.txt" 2>&1 ||
  fail "guessing block did not run"
grep -qF 'ListeningPorts "1.000000" is not a boolean; reading it as false' "$WORK/collectd.log" ||
  fail "no warning for ListeningPorts 1"
grep -qF 'LocalPort "80abc" is not a plain port number; reading it as 80' "$WORK/collectd.log" ||
  fail "no warning for LocalPort 80abc"
echo "ok - guesses kept with warnings"
echo "1 passed, 0 failed"
