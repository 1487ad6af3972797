#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs tcpconns_diag for real: installs the dependencies, builds the plugin,
# and starts Debian's collectd in the foreground with the plugin and the
# csv writer printing every value to stdout. Ctrl-C to stop.
# Options for the plugin block come from the arguments, e.g.
#   contrib/try-foreground.sh 'LocalPort "22"' 'AllPortsSummary true'
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../tests/lib.sh"
bash "$SRCDIR/tests/deps.sh"
PLUGIN_SO=$SRCDIR/build-try/.libs/tcpconns_diag.so
build_plugin "$SRCDIR/build-try"
need_collectd
work_dir try
plugin_dir logfile csv
conf_write "$WORK/collectd.conf" -H '' -i 10 -L STDOUT -w csv:stdout -- "$@"
echo "Running: collectd -f -C $WORK/collectd.conf (Ctrl-C to stop)"
"$COLLECTD" -f -C "$WORK/collectd.conf"
