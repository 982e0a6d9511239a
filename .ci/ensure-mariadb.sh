#!/usr/bin/env bash
# The storage tests start a throwaway mariadbd, and the `mariadb` extra (Connector/Python) builds
# against Connector/C with a C compiler: install what is missing from Debian packages, once.
# The server package's own service cannot start in a container and is not needed: a
# policy-rc.d keeps dpkg from trying, so that failure cannot fail the install.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
missing=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v mariadb_config >/dev/null 2>&1 || missing+=(libmariadb-dev)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
python_header="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h"
[ -f "$python_header" ] || missing+=(python3-dev)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "ensure-mariadb: missing ${missing[*]}; install them as root:" >&2
    echo "    apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "ensure-mariadb: installing ${missing[*]}" >&2
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    trap '"${as_root[@]}" rm -f "$policy"' EXIT
fi
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
