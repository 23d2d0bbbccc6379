#!/bin/sh
# make bench (delta sync part): a dry-run reconcile of a Trakt -> SIMKL pair
# holding 100,000 history plays and 20,000 ratings on each side.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
WR_BUILD=$build exec perl "$root/tests/bench/sync.pl"
