#!/usr/bin/env bash
# Runs scripts/tus_client.py (a tus client on tuspy, from PyPI) with the
# arguments given, installing tuspy into a virtualenv kept in the cache
# (and python3-venv) when missing. The tus tests call it.
#
#   scripts/tus-client.sh SCENARIO ARGS...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv=${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/tuspy
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import tusclient' 2>/dev/null; then
  # shellcheck source=scripts/setup.sh
  source "$here/setup.sh"
  python3 -m venv "$venv" 2>/dev/null || { mixdown_install_packages python3-venv; python3 -m venv "$venv"; }
  "$venv/bin/pip" install -q 'tuspy>=1.1,<2' >&2
fi
exec "$venv/bin/python" "$here/tus_client.py" "$@"
