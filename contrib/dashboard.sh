#!/bin/bash
# SPDX-License-Identifier: MIT
# dashboard.sh: the per-port TCP connections dashboard, drawn with
# `rrdtool graph` from the RRD files collectd's rrdtool plugin writes for
# tcpconns (or tcpconns_diag: the files are the same).
#
#   contrib/dashboard.sh RRD_DIR HOST OUT.png [PORTS...]
#
# RRD_DIR is the rrdtool plugin's DataDir, HOST the host's directory in it.
# One panel per port (default: 80 443), stacked one above the other in
# OUT.png: the connections of each state over time, stacked, from the files
# RRD_DIR/HOST/tcpconns-PORT-local/tcp_connections-STATE.rrd. A port may be
# given as PORT-remote (or PORT-local) to draw that block instead.
#
# Environment:
#   DASH_START   start of the time range (rrdtool AT-style; default -1h)
#   DASH_END     end of the time range (default now)
#   DASH_WIDTH   width of the picture in pixels (default 900)
#   DASH_HEIGHT  height of one panel in pixels, legend included (default 340)
#
# Needs rrdtool, and python3 to join the panels into one PNG (standard
# library only). Example, with collectd's rrdtool DataDir and Hostname:
#   contrib/dashboard.sh /var/lib/collectd/rrd "$(hostname)" tcp.png 80 443
set -euo pipefail

usage() {
  echo "usage: $0 RRD_DIR HOST OUT.png [PORT[-local|-remote]...]" >&2
  exit 2
}
[ $# -ge 3 ] || usage
rrd_dir=$1
host=$2
out=$3
shift 3
[ $# -gt 0 ] || set -- 80 443
command -v rrdtool >/dev/null || { echo "$0: rrdtool not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "$0: python3 not found" >&2; exit 1; }
[ -d "$rrd_dir/$host" ] || { echo "$0: no directory $rrd_dir/$host" >&2; exit 1; }

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

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

panels=()
for port in "$@"; do
  case $port in
  *-local | *-remote) inst=$port ;;
  *) inst=$port-local ;;
  esac
  case ${inst%-*} in
  '' | *[!0-9]*) echo "$0: not a port: $port" >&2; exit 2 ;;
  esac
  dir=$rrd_dir/$host/tcpconns-$inst
  [ -d "$dir" ] || { echo "$0: no data for port ${inst%-*} (${inst#*-}): no $dir" >&2; exit 1; }
  args=()
  k=0
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
  [ $k -gt 0 ] || { echo "$0: no RRD files in $dir" >&2; exit 1; }
  [ $((k % 3)) = 0 ] || args+=('COMMENT:\l')
  n=${#panels[@]}
  case ${inst#*-} in
  local) what="local port ${inst%-*}" ;;
  *) what="remote port ${inst%-*}" ;;
  esac
  rrdtool graph "$tmp/panel$n.png" --imgformat PNG \
    --start "$start" --end "$end" --width "$width" --height "$height" \
    --title "$host: TCP connections on $what, by state" \
    --vertical-label connections \
    --full-size-mode --lower-limit 0 --units-exponent 0 \
    "${args[@]}" >/dev/null
  panels+=("$tmp/panel$n.png")
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
