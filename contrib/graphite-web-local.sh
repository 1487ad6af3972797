#!/bin/bash
# SPDX-License-Identifier: MIT
#
# graphite-web-local.sh: Debian's graphite-web, without Apache, over a
# carbon's whisper files: for a look at the data, a demo or a test.
#
#   contrib/graphite-web-local.sh WHISPER_DIR [ADDRESS:PORT [STATE_DIR]]
#
# Serves graphite-web's render API (/render?target=...&format=png|json) and
# /metrics/find on ADDRESS:PORT (default 127.0.0.1:8080), reading the whisper
# files under WHISPER_DIR (carbon's LOCAL_DATA_DIR, e.g.
# /var/lib/graphite/whisper). Runs in the foreground until killed.
#
# Nothing of the system's graphite-web configuration is read or changed:
# the settings module, the log directory, the search index and the SQLite
# database (created here with `migrate`) live in STATE_DIR (default: a new
# directory under /tmp, removed at exit). The server is Django's own
# (`django-admin runserver`): single-process and fine for one user; for
# a real deployment serve graphite.wsgi with Apache's mod_wsgi as
# /usr/share/doc/graphite-web/README.Debian describes.
#
# Environment:
#   GW_CARBONLINK  carbon-cache's CACHE_QUERY address, e.g. 127.0.0.1:7002:
#                  points still in carbon's cache are served too (default:
#                  none, the whisper files only)
#   GW_PYTHON      the Python that has Debian's graphite package
#                  (default /usr/bin/python3)
# Needs the Debian packages graphite-web (and python3-whisper, which it
# pulls in).
set -euo pipefail

usage() {
  echo "usage: $0 WHISPER_DIR [ADDRESS:PORT [STATE_DIR]]" >&2
  exit 2
}
[ $# -ge 1 ] && [ $# -le 3 ] || usage
whisper=$(cd "$1" && pwd) || { echo "$0: no directory $1" >&2; exit 1; }
listen=${2:-127.0.0.1:8080}
python=${GW_PYTHON:-/usr/bin/python3}
"$python" -c 'import graphite.settings' 2>/dev/null || {
  echo "$0: $python cannot import graphite: apt-get install graphite-web" >&2
  exit 1
}

if [ -n "${3:-}" ]; then
  state=$3
  mkdir -p "$state"
else
  state=$(mktemp -d /tmp/graphite-web.XXXXXX)
  trap 'rm -rf "$state"' EXIT
fi
state=$(cd "$state" && pwd)
mkdir -p "$state/settings" "$state/log"

carbonlink=
[ -z "${GW_CARBONLINK:-}" ] || carbonlink="'$GW_CARBONLINK'"
# graphite.settings imports the module named by GRAPHITE_SETTINGS_MODULE
# (Debian's default: /etc/graphite/local_settings.py) over its defaults.
cat >"$state/settings/tcd_graphite_local.py" <<EOF
# Written by contrib/graphite-web-local.sh.
SECRET_KEY = '$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')'
ALLOWED_HOSTS = ['*']
TIME_ZONE = 'UTC'
STORAGE_DIR = '$state'
WHISPER_DIR = '$whisper'
STANDARD_DIRS = ['$whisper']
LOG_DIR = '$state/log'
INDEX_FILE = '$state/index'
CONF_DIR = '$state/settings'
CARBONLINK_HOSTS = [$carbonlink]
# graphite-web 1.1.8's models predate Django 3.2's DEFAULT_AUTO_FIELD.
SILENCED_SYSTEM_CHECKS = ['models.W042', 'admin.W411']
DATABASES = {
    'default': {
        'NAME': '$state/graphite.db',
        'ENGINE': 'django.db.backends.sqlite3',
    }
}
EOF

export PYTHONPATH=$state/settings${PYTHONPATH:+:$PYTHONPATH}
export GRAPHITE_SETTINGS_MODULE=tcd_graphite_local
export DJANGO_SETTINGS_MODULE=graphite.settings
"$python" -m django migrate --verbosity 0 >"$state/log/migrate.log" 2>&1 || {
  echo "$0: graphite-web's database setup failed:" >&2
  tail -n 20 "$state/log/migrate.log" >&2
  exit 1
}
echo "graphite-web on http://$listen/ over $whisper (state in $state)"
# Not exec: the EXIT trap removes a temporary STATE_DIR afterwards.
"$python" -m django runserver --noreload "$listen" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null' TERM INT HUP
wait "$server" || true
wait "$server" 2>/dev/null || true
