# SPDX-License-Identifier: MIT
# Shared by the glue_*.sh daemon tests: a scratch dir with a PluginDir of
# copied modules (collectd refuses symlinks) and a config writer.
set -euo pipefail
: "${BUILDDIR:=$(pwd)}"
: "${PLUGIN_SO:=$BUILDDIR/.libs/tcpconns_diag.so}"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root (network namespaces)"
  exit 77
fi
command -v collectd >/dev/null || { echo "SKIP: collectd not installed"; exit 77; }
[ -f "$PLUGIN_SO" ] || { echo "FAIL: no plugin at $PLUGIN_SO"; exit 1; }

WORK=$(mktemp -d /tmp/tcd-glue.XXXXXX)
cleanup_glue() { rm -rf "$WORK"; }
trap cleanup_glue EXIT
mkdir -p "$WORK/plugins"
cp "$PLUGIN_SO" "$WORK/plugins/tcpconns_diag.so"
for p in csv logfile python; do
  [ -f "/usr/lib/collectd/$p.so" ] && cp "/usr/lib/collectd/$p.so" "$WORK/plugins/"
done

# write_conf FILE INTERVAL BLOCK-LINES... (extra top-level text on stdin)
write_conf() {
  local file=$1 interval=$2
  shift 2
  {
    cat <<CONF
Hostname "h"
FQDNLookup false
Interval $interval
BaseDir "$WORK"
PIDFile "$WORK/collectd.pid"
PluginDir "$WORK/plugins"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "$WORK/collectd.log"
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "$WORK/csv"
</Plugin>
LoadPlugin tcpconns_diag
<Plugin tcpconns_diag>
CONF
    for line in "$@"; do printf '  %s\n' "$line"; done
    echo "</Plugin>"
    cat
  } >"$file"
}

fail() {
  echo "FAIL: $*"
  [ -f "$WORK/collectd.log" ] && sed 's/^/  log: /' "$WORK/collectd.log" | tail -30
  exit 1
}
