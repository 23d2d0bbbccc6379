#!/bin/sh
# Install the Debian 12 packages watchrelay needs to build, test and run,
# only those that are missing. As root it runs apt-get; as another user it
# prints the command to run and fails.
set -eu

PKGS="build-essential pkg-config libevent-dev libcurl4-openssl-dev \
libjson-c-dev libhiredis-dev libcmocka-dev redis-server clang \
libclang-rt-14-dev clang-format valgrind curl perl"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
    echo "watchrelay needs these Debian packages:$missing" >&2
    echo "run as root: apt-get update && $cmd" >&2
    exit 1
fi
echo "install-deps: installing$missing" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive $cmd >/dev/null
