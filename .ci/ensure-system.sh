#!/usr/bin/env bash
# The test suite runs real parts: a throwaway mariadbd (and the `mariadb` extra, Connector/Python,
# built against Connector/C with a C compiler), a throwaway Mosquitto broker, and a headless
# Chromium driven through ChromeDriver. Install whichever is missing from Debian packages, once.
# `ensure-system.sh live` (make test-live) is for the live test instead: debootstrap builds its
# Debian container and systemd-nspawn (systemd-container) boots it; not root and no password-less
# sudo, it says so and goes on, and the live test skips, saying why.
# The server packages' own services cannot start in a container and are not needed (each test
# starts its own on a free loopback port): a policy-rc.d keeps dpkg from trying, so that failure
# cannot fail the install.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
missing=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
if [ "${1:-}" = live ]; then
    have debootstrap || missing+=(debootstrap)
    have systemd-nspawn || missing+=(systemd-container)
    without_root=0
else
    have mariadbd || missing+=(mariadb-server)
    have mariadb_config || missing+=(libmariadb-dev)
    have cc || missing+=(gcc)
    python_header="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h"
    [ -f "$python_header" ] || missing+=(python3-dev)
    have mosquitto || missing+=(mosquitto)
    have chromium || missing+=(chromium)
    have chromedriver || missing+=(chromium-driver)
    without_root=1
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "ensure-system: missing ${missing[*]}; install them as root:" >&2
    echo "    apt-get update && apt-get install -y ${missing[*]}" >&2
    exit "$without_root"
fi

echo "ensure-system: installing ${missing[*]}" >&2
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    trap '"${as_root[@]}" rm -f "$policy"' EXIT
fi
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
