#!/bin/bash
# SPDX-License-Identifier: MIT
#
# graphite-dashboard.sh: the per-port TCP connections dashboard, drawn by
# graphite-web's render API from the metrics collectd's write_graphite
# sends for tcpconns (or tcpconns_diag: the paths are the same).
#
#   contrib/graphite-dashboard.sh URL HOST OUT.png [PORTS...]
#
# URL is graphite-web's address (e.g. http://127.0.0.1:8080), HOST the
# first node of the metric paths (collectd's Hostname, dots escaped by
# write_graphite). One panel per port (default: 80 443), stacked one above
# the other in OUT.png: the connections of each state over time, stacked,
# from HOST.tcpconns-PORT-local.tcp_connections-STATE. A port may be given
# as PORT-remote (or PORT-local) to draw that block instead. Each panel is
# one request:
#
#   URL/render?target=legendValue(group(color(alias(
#       HOST.tcpconns-80-local.tcp_connections-ESTABLISHED,'ESTABLISHED'),
#       '2ca02c'),...),'last','max')&areaMode=stacked&hideLegend=false
#       &from=-1h&until=now&format=png
#
# (legendValue adds the last and the highest value to the legend, and
# hideLegend=false keeps the legend of all eleven states: graphite-web hides
# it past LEGEND_MAX_ITEMS, 10, by default. A state without a whisper file,
# e.g. left out by the plugin's States option, is left out of the panel.)
#
# Environment:
#   DASH_START   graphite's from= (default -1h; an epoch time works too)
#   DASH_END     graphite's until= (default now)
#   DASH_WIDTH   width of the picture in pixels (default 900)
#   DASH_HEIGHT  height of one panel in pixels, legend included (default 340)
#   GW_PYTHON    a Python with the cairo module, to join the panels
#                (default /usr/bin/python3; Debian: python3-cairo, which
#                graphite-web depends on)
# Needs curl.
set -euo pipefail

usage() {
  echo "usage: $0 URL HOST OUT.png [PORT[-local|-remote]...]" >&2
  exit 2
}
[ $# -ge 3 ] || usage
url=${1%/}
host=$2
out=$3
shift 3
[ $# -gt 0 ] || set -- 80 443
python=${GW_PYTHON:-/usr/bin/python3}
command -v curl >/dev/null || { echo "$0: curl not found" >&2; exit 1; }
"$python" -c 'import cairo' 2>/dev/null ||
  { echo "$0: $python has no cairo module (apt-get install python3-cairo)" >&2; exit 1; }

start=${DASH_START:--1h}
end=${DASH_END:-now}
width=${DASH_WIDTH:-900}
height=${DASH_HEIGHT:-340}

# The eleven states, bottom of the stack first, with the colours of
# contrib/dashboard.sh.
states=(
  ESTABLISHED:2ca02c SYN_SENT:bcbd22 SYN_RECV:ff7f0e FIN_WAIT1:9467bd
  FIN_WAIT2:8c564b TIME_WAIT:1f77b4 CLOSED:7f7f7f CLOSE_WAIT:d62728
  LAST_ACK:e377c2 LISTEN:17becf CLOSING:000000
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

panels=()
for port in "$@"; do
  case $port in
  *-local | *-remote) inst=$port ;;
  *) inst=$port-local ;;
  esac
  case ${inst%-*} in
  '' | *[!0-9-]* | -* | *-) echo "$0: not a port or range: $port" >&2; exit 2 ;;
  esac
  series=()
  for s in "${states[@]}"; do
    series+=("color(alias($host.tcpconns-$inst.tcp_connections-${s%%:*},'${s%%:*}'),'${s#*:}')")
  done
  target="legendValue(group($(IFS=,; echo "${series[*]}")),'last','max')"
  case ${inst##*-} in
  local) what="local port ${inst%-*}" ;;
  *) what="remote port ${inst%-*}" ;;
  esac
  n=${#panels[@]}
  code=$(curl -sS -G -o "$tmp/panel$n.png" -w '%{http_code} %{content_type}' \
    --data-urlencode "target=$target" \
    --data-urlencode "from=$start" --data-urlencode "until=$end" \
    --data-urlencode "width=$width" --data-urlencode "height=$height" \
    --data-urlencode "title=$host: TCP connections on $what, by state" \
    --data-urlencode "vtitle=connections" \
    --data-urlencode "areaMode=stacked" \
    --data-urlencode "yMin=0" --data-urlencode "lineWidth=1" \
    --data-urlencode "hideLegend=false" \
    --data-urlencode "bgcolor=white" --data-urlencode "fgcolor=black" \
    --data-urlencode "majorGridLineColor=#c8c8c8" \
    --data-urlencode "minorGridLineColor=#ececec" \
    --data-urlencode "fontName=DejaVu Sans" --data-urlencode "fontSize=10" \
    --data-urlencode "format=png" \
    "$url/render") || { echo "$0: cannot reach $url" >&2; exit 1; }
  case $code in
  "200 image/png"*) ;;
  *)
    echo "$0: $url/render for $inst answered $code:" >&2
    head -c 600 "$tmp/panel$n.png" >&2
    exit 1
    ;;
  esac
  panels+=("$tmp/panel$n.png")
done

# One PNG, the panels top to bottom.
"$python" - "$out" "${panels[@]}" <<'PY'
import sys
import cairo

out, paths = sys.argv[1], sys.argv[2:]
images = [cairo.ImageSurface.create_from_png(p) for p in paths]
width = max(i.get_width() for i in images)
height = sum(i.get_height() for i in images)
joined = cairo.ImageSurface(cairo.FORMAT_RGB24, width, height)
ctx = cairo.Context(joined)
ctx.set_source_rgb(1, 1, 1)
ctx.paint()
y = 0
for image in images:
    ctx.set_source_surface(image, 0, y)
    ctx.paint()
    y += image.get_height()
joined.write_to_png(out)
PY
echo "$out: ${#panels[@]} panel(s): $*"
