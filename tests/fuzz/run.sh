#!/bin/sh
# Run each libFuzzer target for SECONDS on a temporary copy of its seed
# corpus (taken from tests/fixtures and config/, or written below). A crash fails the run and
# leaves the input under tests/fuzz/ as crash-* for a fixture and a test.
set -eu
secs=$1
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
status=0
# Undefined behaviour fails a run like a crash does.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export UBSAN_OPTIONS

# seed DIR NAME PREFIX BODY: the seed DIR/NAME, PREFIX (printf escapes: the
# leading selector bytes of a target) followed by BODY as it is.
seed() {
    # shellcheck disable=SC2059 # the prefix is a format on purpose
    printf "$3" >"$1/$2"
    printf '%s' "$4" >>"$1/$2"
}

# Target operations as the router writes them to the out streams (op.c).
seeds_op() {
    seed "$1" history_add.json '' '{"v":1,"id":"aca859bed109742a0f16a6eba06252d3","op":"history_add","target":"trakt","event":"0123456789abcdef0123456789abcdef","user":"alice","created_at":"2025-03-02T20:47:10Z","item":{"type":"movie","title":"Arrival","year":2016,"ids":{"tmdb":329865,"imdb":"tt2543164"}},"key":"movie:tmdb:329865","watched_at":"2025-03-02T20:47:10Z"}'
    seed "$1" scrobble_stop.json '' '{"v":1,"id":"2e0a146498e4fc05aaf82f829d7d37f1","op":"scrobble_stop","target":"simkl","session":"plex:abc:1","generation":2,"created_at":"2025-03-02T20:47:10Z","item":{"type":"episode","ids":{"tvdb":8603573},"show":{"title":"Severance","ids":{"tvdb":371980}},"season":1,"episode":1},"key":"show:tvdb:371980#s01e01","progress":93.25,"position_ms":2000000,"duration_ms":3300000,"attempts":3}'
    seed "$1" rating_set.json '' '{"v":1,"id":"3fb1bb9dcbe028c2a93fde0cec81b2a7","op":"rating_set","target":"local","item":{"type":"show","title":"Severance","year":2022,"ids":{"tvdb":371980}},"key":"show:tvdb:371980","rating":8,"rated_at":"2025-03-02T20:47:10Z","pair":"plex-trakt"}'
    seed "$1" progress_set.json '' '{"v":1,"id":"4147414298811b2f3e523cf964f2d5db","op":"progress_set","target":"local","item":{"type":"season","ids":{},"show":{"ids":{"tmdb":95396}},"season":2},"key":"show:tmdb:95396#s02","progress":41.5}'
}

# Replies for fuzz_trakt: byte 0 the operation set, byte 1 the status (0
# 200, 1 201, 3 400, 4 401, 7 420, 9 429, 12 transport, 15 423), byte 2
# header flags (the header value is then the first line), then the body
# (PROVIDERS.md B1, as in tests/unit/test_trakt.c).
seeds_trakt() {
    seed "$1" add_not_found '\000\001\000' '{"added":{"movies":1,"episodes":1},"not_found":{"movies":[{"ids":{"imdb":"tt2"}}],"shows":[],"seasons":[],"episodes":[],"ids":[]}}'
    seed "$1" add_show_not_found '\000\001\000' '{"added":{"movies":2,"episodes":0},"not_found":{"movies":[],"shows":[{"ids":{"tvdb":371980},"seasons":[{"number":1,"episodes":[{"number":1}]}]}]}}'
    seed "$1" watchlist_existing '\004\001\000' '{"added":{"movies":1,"shows":0,"seasons":0,"episodes":0},"existing":{"movies":1,"shows":0,"seasons":0,"episodes":1},"not_found":{"movies":[],"shows":[],"seasons":[{"ids":{"tmdb":555}}],"episodes":[{"ids":{"trakt":77}}]},"list":{"updated_at":"2025-03-02T20:47:10.000Z","item_count":42}}'
    seed "$1" remove_deleted '\003\000\000' '{"deleted":{"movies":1,"episodes":0},"not_found":{"movies":[{"ids":{"tmdb":1}}],"shows":[{"ids":{"tvdb":371980}}]}}'
    seed "$1" scrobble_stop '\001\001\000' '{"id":0,"action":"scrobble","progress":90,"movie":{"title":"Arrival","year":2016,"ids":{"trakt":203537,"tmdb":329865}}}'
    seed "$1" bad_request '\000\003\000' '{"error":"bad_request","error_description":"ids are missing"}'
    seed "$1" rate_limited '\000\011\003' '{"name":"AUTHED_API_POST_LIMIT","period":1,"limit":1,"remaining":0,"until":"2030-10-10T00:24:00Z"}
'
    seed "$1" retry_after '\001\011\001' '7
'
    seed "$1" account_limit '\004\007\010' '250
'
    seed "$1" account_locked '\000\017\010' 'true
{"error":"locked"}'
    seed "$1" transport '\000\014\000' 'Failed to connect to 127.0.0.1 port 1: Connection refused'
    seed "$1" history_movie '\000\000\000' '[{"id":1,"watched_at":"2025-03-02T20:47:10.000Z","action":"watch","type":"movie","movie":{"title":"Alpha","ids":{"trakt":1,"tmdb":1}}}]'
    seed "$1" history_episode '\000\000\004' '1
[{"id":2,"watched_at":"2025-03-02T20:48:10.000Z","action":"scrobble","type":"episode","episode":{"season":1,"number":1,"ids":{"trakt":9,"tvdb":8603573}},"show":{"ids":{"trakt":5,"tvdb":371980}}}]'
    seed "$1" token '\000\000\000' '{"access_token":"NEW-A","token_type":"bearer","expires_in":7776000,"refresh_token":"NEW-R","scope":"public","created_at":1741036000}'
    seed "$1" device_code '\000\000\000' '{"device_code":"d9c126a7706328d808914cfd1e40274b","user_code":"5055CC52","verification_url":"https://trakt.tv/activate","expires_in":600,"interval":5}'
    seed "$1" invalid_grant '\000\004\000' '{"error":"invalid_grant","error_description":"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}'
}

# Replies for fuzz_simkl, laid out as for fuzz_trakt (PROVIDERS.md B2, as in
# tests/unit/test_simkl.c).
seeds_simkl() {
    seed "$1" scrobble '\001\001\000' '{"id":124,"action":"scrobble","progress":85,"movie":{"title":"Arrival","year":2016,"ids":{"simkl":53992,"tmdb":"329865"}}}'
    seed "$1" add_statuses '\000\000\000' '{"added":{"movies":1,"shows":0,"episodes":0,"statuses":[{"request":{"ids":{"tmdb":1}},"response":{"status":"completed","simkl_type":"movie","anime_type":null}}]},"not_found":{"movies":[{"ids":{"imdb":"tt2"}}],"shows":[],"episodes":[]}}'
    seed "$1" empty_field '\004\003\000' '{"error":"empty_field","code":400,"message":"Missed \"to\" parameter"}'
    seed "$1" client_id_failed '\000\016\000' '{"error":"client_id_failed","code":412,"message":"Client ID is missing or invalid"}'
    seed "$1" user_token_failed '\000\004\000' '{"error":"user_token_failed","code":401}'
    seed "$1" retry_after '\001\011\001' '2
'
    seed "$1" transport '\000\014\000' 'Operation timed out after 30000 milliseconds'
    seed "$1" all_items_movie '\000\000\000' '{"movies":[{"last_watched_at":"2025-03-02T20:47:10Z","status":"completed","movie":{"title":"Alpha","ids":{"simkl":53992,"tmdb":"1"}}}]}'
    seed "$1" all_items_show '\000\000\000' '{"shows":[{"show":{"title":"Severance","ids":{"simkl":1,"tvdb":"371980"}},"seasons":[{"number":1,"episodes":[{"number":1,"watched_at":"2025-03-02T20:48:10Z"}]}]}],"anime":[]}'
    seed "$1" all_items_null '\000\000\000' 'null'
    seed "$1" pin_start '\000\000\000' '{"result":"OK","device_code":"DEVICE","user_code":"A1B2C","verification_url":"https://simkl.com/pin/","expires_in":900,"interval":5}'
    seed "$1" pin_token '\000\000\000' '{"result":"OK","access_token":"PIN-TOKEN"}'
    seed "$1" pin_pending '\000\000\000' '{"result":"KO","message":"Authorization pending"}'
    seed "$1" pin_slow_down '\000\000\000' '{"result":"KO","message":"Slow down"}'
}

# Stored sessions (the Redis hash, scrobble_to_fields) and events: after the
# NUL, a byte picking watched_percent, then 8 bytes per event (action,
# flags, progress * 600, seconds since the last, occurred_at skew / 4,
# duration in seconds).
seeds_scrobble() {
    seed "$1" new_play '\000\000\000\041\000\000\001\000\015\230\003\041\027\160\074\000\015\230\001\041\056\340\170\000\015\230\002\041\056\340\012\000\015\230\004\041\336\250\377\000\015\230' ''
    seed "$1" rewatch '' 'state=completed
generation=2
last_progress=95.00
high_progress=95.00
high_at=1740948430
last_event_at=1740948430
last_pause_at=0
last_action=stop
last_action_at=1740948431
paused=-1
duration_ms=3300000'
    printf '\000\000\000\041\000\000\074\000\015\230\005\001\336\250\377\000\015\230\000\001\000\000\003\000\000\000' >>"$1/rewatch"
    seed "$1" playing '' 'state=playing
generation=2
last_progress=41.50
high_progress=41.50
high_at=1740948430
last_event_at=1740948430
last_pause_at=0
last_action=start
last_action_at=1740948431
paused=0
duration_ms=3300000'
    printf '\000\001\003\045\141\100\036\000\015\230\003\043\141\100\006\000\015\230\003\041\247\370\036\000\015\230\004\021\000\000\005\000\000\000' >>"$1/playing"
}

# Snapshots of the local backup tracker (adapters/local.h), as it writes them.
seeds_local() {
    printf '%s\n' '{"format":"watchrelay-local-1","feature":"history","version":1,"created_at":"2026-11-25T20:35:07Z","count":2,"sha256":"d93f9d305e207c72bb678987c20c0c5cc06d621baff6f87292cab75331d40f8c","items":[' \
        '{"item":{"type":"movie","title":"Arrival","year":2016,"ids":{"tmdb":329865}},"key":"movie:tmdb:329865","watched_at":"2025-03-02T20:47:10Z"},' \
        '{"item":{"type":"episode","ids":{},"show":{"title":"Severance","ids":{"tvdb":371980}},"season":1,"episode":1},"key":"show:tvdb:371980#s01e01","watched_at":"2025-03-02T20:40:00Z"}' \
        ']}' >"$1/history.json"
    printf '%s\n' '{"format":"watchrelay-local-1","feature":"ratings","version":1,"created_at":"2026-11-25T20:45:23Z","count":2,"sha256":"8c7b65398f2645bb01bdaab87a9872723a82670e7ae852a1f15ce1365b11ef5a","items":[' \
        '{"item":{"type":"movie","title":"Arrival","year":2016,"ids":{"tmdb":329865,"imdb":"tt2543164"}},"key":"movie:tmdb:329865","rating":9,"rated_at":"2025-03-02T20:47:10Z"},' \
        '{"item":{"type":"episode","ids":{"tvdb":8603573},"show":{"title":"Severance","ids":{"tvdb":371980}},"season":1,"episode":1},"key":"show:tvdb:371980#s01e01","rating":9,"rated_at":"2025-03-02T20:47:10Z"}' \
        ']}' >"$1/ratings.json"
    printf '%s\n' '{"format":"watchrelay-local-1","feature":"progress","version":1,"created_at":"2026-11-25T20:45:23Z","count":1,"sha256":"0","items":[' \
        '{"item":{"type":"movie","title":"Arrival","year":2016,"ids":{"tmdb":329865,"imdb":"tt2543164"}},"key":"movie:tmdb:329865","progress":41.5,"position_ms":2000000,"duration_ms":6960000,"progress_at":"2025-03-02T20:47:10Z"}' \
        ']}' >"$1/progress_bad_checksum.json"
    printf '%s\n' '{"format":"watchrelay-local-1","feature":"watchlist","version":1,"count":2,"sha256":"","items":[' \
        '{"item":{"type":"show","title":"Severance","ids":{"tvdb":371980,"imdb":"tt11280740"}},"key":"show:tvdb:371980","listed_at":"2025-03-02T20:47:10Z"},' \
        '{"item":{"type":"show","ids":{"tmdb":95396}},"key":"show:tmdb:95396","listed_at":"2025-03-01T10:00:00Z"}' \
        ']}' >"$1/watchlist_bad_checksum.json"
}

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
    fuzz_op) seeds_op "$corpus" ;;
    fuzz_trakt) seeds_trakt "$corpus" ;;
    fuzz_simkl) seeds_simkl "$corpus" ;;
    fuzz_scrobble) seeds_scrobble "$corpus" ;;
    fuzz_local) seeds_local "$corpus" ;;
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
