#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs tcpconns_diag for real: installs the dependencies, builds the plugin,
# and starts Debian's collectd in the foreground with the plugin and the
# csv writer printing every value to stdout. Ctrl-C to stop.
# Options for the plugin block come from the arguments, e.g.
#   contrib/try-foreground.sh 'LocalPort "22"' 'AllPortsSummary true'
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/tests/deps.sh"
build="$top/build-try"
if [ ! -f "$build/.libs/tcpconns_diag.so" ]; then
  (cd "$top" && autoreconf -fi >/dev/null 2>&1)
  mkdir -p "$build"
  (cd "$build" && "$top/configure" -q && make -s -j"$(nproc)")
fi
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
mkdir "$run/plugins"
# collectd loads plugins from one directory and refuses symlinks.
cp /usr/lib/collectd/{logfile,csv}.so "$build/.libs/tcpconns_diag.so" \
  "$run/plugins/"
{
  cat <<CONF
Interval 10
FQDNLookup false
BaseDir "$run"
PIDFile "$run/collectd.pid"
PluginDir "$run/plugins"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File STDOUT
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir stdout
</Plugin>
LoadPlugin tcpconns_diag
<Plugin tcpconns_diag>
CONF
  for opt in "$@"; do printf '  %s\n' "$opt"; done
  echo "</Plugin>"
} >"$run/collectd.conf"
echo "Running: collectd -f -C $run/collectd.conf (Ctrl-C to stop)"
collectd -f -C "$run/collectd.conf"
