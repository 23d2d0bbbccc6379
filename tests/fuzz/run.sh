#!/bin/sh
# Run each libFuzzer target for SECONDS on a temporary copy of its seed
# corpus (taken from tests/fixtures and config/). A crash fails the run and
# leaves the input under tests/fuzz/ as crash-* for a fixture and a test.
set -eu
secs=$1
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
status=0
for name in "$@"; do
    bin="$root/build-fuzz/fuzz/$name"
    corpus=$(mktemp -d)
    case "$name" in
    fuzz_plex | fuzz_emby | fuzz_jellyfin | fuzz_tautulli)
        src=${name#fuzz_}
        cp "$root"/tests/fixtures/"$src"/*.body "$corpus"/ 2>/dev/null || true
        ;;
    fuzz_multipart)
        for f in "$root"/tests/fixtures/plex/*.body "$root"/tests/fixtures/emby/*.body; do
            [ -f "$f" ] && cp "$f" "$corpus/$(basename "$(dirname "$f")")-$(basename "$f")"
        done
        ;;
    fuzz_config)
        cp "$root"/config/*.json "$corpus"/ 2>/dev/null || true
        cp "$root"/config/examples/*.json "$corpus"/ 2>/dev/null || true
        ;;
    fuzz_event | fuzz_spool)
        for f in "$root"/tests/fixtures/*/*.expected; do
            cp "$f" "$corpus/$(basename "$(dirname "$f")")-$(basename "$f")"
        done
        ;;
    esac
    dict=""
    [ -f "$root/tests/fuzz/$name.dict" ] && dict="-dict=$root/tests/fuzz/$name.dict"
    echo "fuzz: $name for ${secs}s ($(ls "$corpus" | wc -l) seeds)"
    if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=0 -artifact_prefix="$root/tests/fuzz/" $dict \
        "$corpus" >"$corpus.log" 2>&1; then
        echo "fuzz: $name FAILED" >&2
        tail -50 "$corpus.log" >&2
        status=1
    else
        grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$corpus.log" | tail -1 || true
    fi
    rm -rf "$corpus" "$corpus.log"
done
exit $status
