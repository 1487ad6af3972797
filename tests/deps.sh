#!/bin/bash
# SPDX-License-Identifier: MIT
# Installs what building, running and testing tcpconns_diag needs on
# Debian 12 (as root). Safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  build-essential autoconf automake libtool pkg-config clang
  libclang-rt-14-dev util-linux
  libmnl-dev check linux-libc-dev systemtap-sdt-dev
  collectd-core collectd-dev
  iproute2 nftables strace valgrind procps python3 libpython3.11
  rrdtool librrd8 graphite-carbon python3-whisper libgcrypt20
  libmicrohttpd12 libprotobuf-c1 prometheus prometheus-node-exporter
  graphite-web curl jq clang-format shellcheck
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# collectd-core's postinst may start the system daemon; the tests run their
# own instances and do not need it.
if command -v systemctl >/dev/null 2>&1; then
  systemctl stop collectd >/dev/null 2>&1 || true
fi
# So may those of prometheus and prometheus-node-exporter (on ports 9090
# and 9100 of the host): stopped if installed just now.
for p in prometheus prometheus-node-exporter; do
  case " ${missing[*]} " in
  *" $p "*)
    systemctl stop "$p" >/dev/null 2>&1 || service "$p" stop >/dev/null 2>&1 || true
    ;;
  esac
done
