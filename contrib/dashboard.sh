#!/bin/bash
# SPDX-License-Identifier: MIT
# dashboard.sh: the per-port TCP connections dashboard, one PNG with a
# panel per port (default: 80 443), stacked one above the other: the
# connections of each state over time, stacked. Drawn from either store
# collectd's writers fill for tcpconns (or tcpconns_diag: the same names):
#
#   contrib/dashboard.sh RRD_DIR HOST OUT.png [PORTS...]   with rrdtool graph
#   contrib/dashboard.sh URL HOST OUT.png [PORTS...]       by graphite-web
#
# RRD_DIR is the rrdtool plugin's DataDir and HOST the host's directory in
# it: the panel of port P is drawn from the files
# RRD_DIR/HOST/tcpconns-P-local/tcp_connections-STATE.rrd.
#
# URL is graphite-web's address (http://... or https://...) and HOST the
# first node of the metric paths (collectd's Hostname, dots escaped by
# write_graphite): the panel of port P is one request,
#
#   URL/render?target=legendValue(group(color(alias(
#       HOST.tcpconns-P-local.tcp_connections-ESTABLISHED,'ESTABLISHED'),
#       '2ca02c'),...),'last','max')&areaMode=stacked&hideLegend=false
#       &from=-1h&until=now&format=png
#
# (legendValue adds the last and the highest value to the legend, and
# hideLegend=false keeps the legend of all eleven states: graphite-web
# hides it past LEGEND_MAX_ITEMS, 10, by default.)
#
# A port may be a range LOW-HIGH, and may be given as PORT-remote (or
# PORT-local) to draw that block instead. A state the store has no series
# for (left out by the plugin's States option) is left out of the panel.
#
# Environment:
#   DASH_START   start of the time range (rrdtool AT-style, or graphite's
#                from=; default -1h; an epoch time works for both)
#   DASH_END     end of the time range (default now)
#   DASH_WIDTH   width of the picture in pixels (default 900)
#   DASH_HEIGHT  height of one panel in pixels, legend included (default 340)
#
# Needs python3 (standard library only) to join the panels, and rrdtool or
# curl. Examples, with collectd's rrdtool DataDir and Hostname, and with a
# graphite-web:
#   contrib/dashboard.sh /var/lib/collectd/rrd "$(hostname)" tcp.png 80 443
#   contrib/dashboard.sh http://graphite.example:8080 web1 tcp.png 80 443
set -euo pipefail

usage() {
  echo "usage: $0 RRD_DIR|URL HOST OUT.png [PORT[-local|-remote]...]" >&2
  exit 2
}
die() {
  echo "$0: $*" >&2
  exit 1
}
[ $# -ge 3 ] || usage
source=${1%/}
host=$2
out=$3
shift 3
[ $# -gt 0 ] || set -- 80 443
case $source in
http://* | https://*)
  command -v curl >/dev/null || die "curl not found"
  draw=graphite_panel
  ;;
*)
  command -v rrdtool >/dev/null || die "rrdtool not found"
  [ -d "$source/$host" ] || die "no directory $source/$host"
  draw=rrd_panel
  ;;
esac
command -v python3 >/dev/null || die "python3 not found"

start=${DASH_START:--1h}
end=${DASH_END:-now}
width=${DASH_WIDTH:-900}
height=${DASH_HEIGHT:-340}

# The eleven states, bottom of the stack first, with their colours.
states=(
  ESTABLISHED:2ca02c SYN_SENT:bcbd22 SYN_RECV:ff7f0e FIN_WAIT1:9467bd
  FIN_WAIT2:8c564b TIME_WAIT:1f77b4 CLOSED:7f7f7f CLOSE_WAIT:d62728
  LAST_ACK:e377c2 LISTEN:17becf CLOSING:000000
)

# rrd_panel INST TITLE PNG: the panel of block INST with rrdtool graph.
rrd_panel() {
  local dir=$source/$host/tcpconns-$1 s name colour file v stack eol k=0
  local args=()
  [ -d "$dir" ] || die "no data for port ${1%-*} (${1##*-}): no $dir"
  for s in "${states[@]}"; do
    name=${s%%:*}
    colour=${s#*:}
    file=$dir/tcp_connections-$name.rrd
    [ -f "$file" ] || continue
    v=${name,,}
    # rrdtool graph takes ':' as a separator: escape it in the path.
    args+=("DEF:$v=${file//:/\\:}:value:AVERAGE")
    stack=:STACK
    [ $k = 0 ] && stack=
    args+=("AREA:$v#$colour:$(printf '%-11s' "$name")$stack")
    eol=
    [ $((k % 3)) = 2 ] && eol='\l'
    args+=("GPRINT:$v:LAST:now %4.0lf" "GPRINT:$v:MAX:max %4.0lf   $eol")
    k=$((k + 1))
  done
  [ $k -gt 0 ] || die "no RRD files in $dir"
  [ $((k % 3)) = 0 ] || args+=('COMMENT:\l')
  rrdtool graph "$3" --imgformat PNG \
    --start "$start" --end "$end" --width "$width" --height "$height" \
    --title "$2" --vertical-label connections \
    --full-size-mode --lower-limit 0 --units-exponent 0 \
    "${args[@]}" >/dev/null
}

# graphite_panel INST TITLE PNG: the panel of block INST, drawn by
# graphite-web's render API (series it has no data for draw nothing).
graphite_panel() {
  local s code target series=()
  for s in "${states[@]}"; do
    series+=("color(alias($host.tcpconns-$1.tcp_connections-${s%%:*},'${s%%:*}'),'${s#*:}')")
  done
  target="legendValue(group($(IFS=,; echo "${series[*]}")),'last','max')"
  code=$(curl -sS -G -o "$3" -w '%{http_code} %{content_type}' \
    --data-urlencode "target=$target" \
    --data-urlencode "from=$start" --data-urlencode "until=$end" \
    --data-urlencode "width=$width" --data-urlencode "height=$height" \
    --data-urlencode "title=$2" --data-urlencode "vtitle=connections" \
    --data-urlencode "areaMode=stacked" \
    --data-urlencode "yMin=0" --data-urlencode "lineWidth=1" \
    --data-urlencode "hideLegend=false" \
    --data-urlencode "bgcolor=white" --data-urlencode "fgcolor=black" \
    --data-urlencode "majorGridLineColor=#c8c8c8" \
    --data-urlencode "minorGridLineColor=#ececec" \
    --data-urlencode "fontName=DejaVu Sans" --data-urlencode "fontSize=10" \
    --data-urlencode "format=png" \
    "$source/render") || die "cannot reach $source"
  case $code in
  "200 image/png"*) ;;
  *) die "$source/render for $1 answered $code: $(head -c 600 "$3")" ;;
  esac
}

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
  png=$tmp/panel${#panels[@]}.png
  "$draw" "$inst" "$host: TCP connections on ${inst##*-} port ${inst%-*}, by state" "$png"
  panels+=("$png")
done

# One PNG, the panels top to bottom. The panels have the same size and
# kind (--full-size-mode), so their scanlines can follow each other: only the
# first scanline of each panel after the first is rewritten without a filter,
# since its filter referred to an all-zero row above it.
python3 - "$out" "${panels[@]}" <<'PY'
import struct, sys, zlib

def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("%s: not a PNG" % path)
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IHDR":
            hdr = data[pos + 8:pos + 8 + n]
        elif kind == b"IDAT":
            idat.append(data[pos + 8:pos + 8 + n])
        elif kind not in (b"IEND", b"PLTE") and not kind[:1].islower():
            # An unknown critical chunk; ancillary ones (lower-case first
            # letter) and a suggested palette can be dropped.
            raise SystemExit("%s: unsupported PNG chunk %r" % (path, kind))
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", hdr)
    if depth != 8 or interlace or ctype not in (2, 6):
        raise SystemExit("%s: unsupported PNG (depth %d, type %d)" % (path, depth, ctype))
    return hdr, w, h, {2: 3, 6: 4}[ctype], zlib.decompress(b"".join(idat))

def unfilter_first_row(row, bpp):
    """The first scanline (filter byte + pixels), unfiltered (the row above
    it is all zero) and returned with filter 0."""
    f, line = row[0], bytearray(row[1:])
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        if f in (1, 4):  # Sub; Paeth with an all-zero row above picks a
            line[i] = (line[i] + a) & 255
        elif f == 3:     # Average of a and 0
            line[i] = (line[i] + a // 2) & 255
    return b"\x00" + bytes(line)  # None and Up: unchanged

def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

out, paths = sys.argv[1], sys.argv[2:]
panels = [read_png(p) for p in paths]
hdr0, w0, _, bpp0, _ = panels[0]
parts, height = [], 0
for k, (hdr, w, h, bpp, raw) in enumerate(panels):
    if (w, bpp) != (w0, bpp0) or hdr[8:] != hdr0[8:]:
        raise SystemExit("panels differ in width or kind")
    stride = 1 + w * bpp
    if k > 0:
        raw = unfilter_first_row(raw[:stride], bpp) + raw[stride:]
    parts.append(raw)
    height += h
ihdr = struct.pack(">II", w0, height) + hdr0[8:]
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
       + chunk(b"IDAT", zlib.compress(b"".join(parts), 9)) + chunk(b"IEND", b""))
with open(out, "wb") as f:
    f.write(png)
PY
echo "$out: ${#panels[@]} panel(s): $*"
