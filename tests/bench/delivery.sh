#!/bin/sh
# make bench (delivery part): webhook-to-provider latency through the fake
# Trakt, and the drain of a 10,000-event backlog at Trakt's real write limit.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
WR_BUILD=$build exec perl "$root/tests/bench/delivery.pl"
