#!/bin/sh
# Ingest benchmark (`make bench` runs `sh tests/bench/run.sh build`).
#
# Over loopback, with tests/bench/loadgen, against a throwaway redis-server
# (AOF on, appendfsync everysec) and `watchrelay serve`, sending a real Plex
# multipart body with a thumbnail part; and against tests/bench/null_server,
# an evhttp server that answers 200 without work. Prints each run, then:
#   ingest.rps_null ingest.rps_daemon ingest.ratio         (target >= 0.6)
#   ingest.p50_ms_at_1000 ingest.p99_ms_at_1000            (target p99 < 5)
#   daemon.idle_rss_kb                                     (target < 8192)
#   daemon.events_in_stream                                (sanity)
# Builds nothing. Exit 0 when the bench ran cleanly (targets missed are
# reported as MISS; BENCH_STRICT=1 makes a miss exit 1), 1 when it could not.
#
# Knobs (environment): BENCH_CONNS (8), BENCH_SECS (5), BENCH_WARMUP (1),
# BENCH_REPEAT (3), BENCH_RATE (1000).
set -eu

BUILD=${1:-build}
CONNS=${BENCH_CONNS:-8}
SECS=${BENCH_SECS:-5}
WARMUP=${BENCH_WARMUP:-1}
REPEAT=${BENCH_REPEAT:-3}
RATE=${BENCH_RATE:-1000}
STRICT=${BENCH_STRICT:-0}
HERE=$(cd "$(dirname "$0")" && pwd)
LOADGEN=$BUILD/tests/bench/loadgen
NULLSRV=$BUILD/tests/bench/null_server
WR=$BUILD/watchrelay
TOKEN=benchtoken
UA="PlexMediaServer/1.41.3.9314-a0bfb8370"
SEQ_TOKEN=@@SEQ@@

die() {
    echo "bench: $*" >&2
    exit 1
}

for f in "$LOADGEN" "$NULLSRV" "$WR"; do
    [ -x "$f" ] || die "$f is missing; run make bench (or make all) first"
done
for c in redis-server redis-cli curl; do
    command -v "$c" >/dev/null 2>&1 || die "$c is not installed (make deps)"
done
case $CONNS$SECS$WARMUP$REPEAT$RATE in
*[!0-9.]*) die "BENCH_* values must be plain numbers" ;;
esac
if [ "$REPEAT" -lt 1 ] || [ "$REPEAT" -gt 9 ]; then
    die "BENCH_REPEAT must be 1..9"
fi

umask 077
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wr-bench.XXXXXX")
PIDS=""

# Stop one process: TERM, up to 5 s, then KILL.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    n=0
    while kill -0 "$1" 2>/dev/null && [ $n -lt 50 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    rc=$?
    trap - EXIT INT TERM
    for p in $PIDS; do
        stop_pid "$p"
    done
    if [ "$rc" -ne 0 ] && [ -d "$TMP" ]; then
        for l in "$TMP"/*.log; do
            [ -s "$l" ] || continue
            echo "--- tail of $(basename "$l")" >&2
            tail -n 20 "$l" >&2
        done
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Start null_server on port $1 (0 = any) with its stdout in $2; sets LAST_PID.
start_null() {
    "$NULLSRV" "$1" >"$2" 2>>"$TMP/null.log" &
    LAST_PID=$!
    PIDS="$LAST_PID $PIDS"
}

# Wait (5 s at most) for "ready port=N" in $1 and print N.
null_port() {
    n=0
    while [ $n -lt 50 ]; do
        p=$(sed -n 's/^ready port=\([0-9]*\)$/\1/p' "$1" 2>/dev/null || true)
        if [ -n "$p" ]; then
            echo "$p"
            return 0
        fi
        sleep 0.1
        n=$((n + 1))
    done
    return 1
}

# The value of key $1 in the loadgen line $2.
field() {
    printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# ---- body ----
CTYPE=$(sh "$HERE/plex_body.sh" "$TMP/plex_play.body")
sh "$HERE/plex_body.sh" "$TMP/plex_probe.body" 999999 >/dev/null
BODY_BYTES=$(wc -c <"$TMP/plex_play.body" | tr -d ' ')

# ---- redis ----
redis-server --port 0 --unixsocket "$TMP/redis.sock" --unixsocketperm 700 \
    --dir "$TMP" --appendonly yes --appendfsync everysec --save "" \
    --maxmemory-policy noeviction --daemonize no >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
PIDS="$REDIS_PID $PIDS"
n=0
until [ "$(redis-cli -s "$TMP/redis.sock" ping 2>/dev/null)" = PONG ]; do
    n=$((n + 1))
    [ $n -lt 100 ] || die "redis-server did not answer PING within 10 s"
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited"
    sleep 0.1
done

# ---- null server ----
start_null 0 "$TMP/null.out"
NULL_PORT=$(null_port "$TMP/null.out") || die "null_server did not start"

# A free port for the daemon: let the kernel pick one for a second null
# server, then stop it and hand the port on.
start_null 0 "$TMP/probe.out"
D_PORT=$(null_port "$TMP/probe.out") || die "cannot find a free port"
stop_pid "$LAST_PID"
PIDS=${PIDS#"$LAST_PID "}

# ---- daemon ----
mkdir -p "$TMP/state"
cat >"$TMP/watchrelay.json" <<EOF
{"listen":"127.0.0.1:$D_PORT","state_dir":"$TMP/state",
 "redis":"unix:$TMP/redis.sock",
 "sources":{"plex":{"token":"$TOKEN"},"jellyfin":{"token":"b"},
            "emby":{"token":"b"},"tautulli":{"token":"b"}},
 "log_level":"warn"}
EOF
"$WR" -c "$TMP/watchrelay.json" serve >"$TMP/daemon.log" 2>&1 &
D_PID=$!
PIDS="$D_PID $PIDS"
D_BASE="http://127.0.0.1:$D_PORT"
deadline=$(($(date +%s) + 10))
while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
        "$D_BASE/readyz" 2>/dev/null || true)
    [ "$code" = 200 ] && break
    kill -0 "$D_PID" 2>/dev/null || die "watchrelay exited during startup"
    [ "$(date +%s)" -lt "$deadline" ] ||
        die "watchrelay /readyz not 200 within 10 s (last: $code)"
    sleep 0.1
done

sleep 1
IDLE_RSS=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' \
    "/proc/$D_PID/status")
[ -n "$IDLE_RSS" ] || die "cannot read the daemon's VmRSS"
# For reading the figure: anonymous memory, and the proportional set size
# (shared library pages divided among the processes mapping them).
IDLE_ANON=$(sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB$/\1/p' \
    "/proc/$D_PID/status")
IDLE_PSS=$(sed -n 's/^Pss:[[:space:]]*\([0-9]*\) kB$/\1/p' \
    "/proc/$D_PID/smaps_rollup" 2>/dev/null || true)

# One request by hand first: the hook must answer 200 with one event.
HOOK="$D_BASE/hooks/plex/$TOKEN"
probe=$(curl -s --max-time 5 -w ' http=%{http_code}' -A "$UA" \
    -H "Content-Type: $CTYPE" --data-binary "@$TMP/plex_probe.body" \
    "$HOOK" || true)
case $probe in
*'"events":1'*' http=200') ;;
*) die "the probe webhook was not taken as one event: $probe" ;;
esac

echo "bench: body=${BODY_BYTES}B (Plex multipart, payload + thumb)" \
    "connections=$CONNS duration=${SECS}s warmup=${WARMUP}s"
echo "bench: daemon pid $D_PID on 127.0.0.1:$D_PORT," \
    "null server on 127.0.0.1:$NULL_PORT, redis AOF everysec"

SEQ=1000000
SENT_DAEMON=0
OK_DAEMON=0
BAD=0

# run null|daemon LABEL [extra loadgen options]: one loadgen run; sets LINE.
run() {
    target=$1
    label=$2
    shift 2
    if [ "$target" = daemon ]; then
        url=$HOOK
    else
        url="http://127.0.0.1:$NULL_PORT/hooks/plex/$TOKEN"
    fi
    LINE=$("$LOADGEN" --url "$url" --body "$TMP/plex_play.body" \
        --content-type "$CTYPE" --header "User-Agent: $UA" \
        --connections "$CONNS" --duration "$SECS" --warmup "$WARMUP" \
        --timeout 10 --seq-token "$SEQ_TOKEN" --seq-start "$SEQ" "$@") ||
        die "loadgen failed ($label)"
    next=$(field seq_next "$LINE")
    [ -n "$next" ] || die "loadgen printed no seq_next: $LINE"
    if [ "$target" = daemon ]; then
        SENT_DAEMON=$((SENT_DAEMON + next - SEQ))
        OK_DAEMON=$(($(field requests "$LINE") - $(field non2xx "$LINE") + OK_DAEMON))
    fi
    SEQ=$next
    if [ "$(field errors "$LINE")" != 0 ] || [ "$(field non2xx "$LINE")" != 0 ]; then
        BAD=$((BAD + 1))
    fi
    echo "$label $LINE"
}

median() {
    printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"
}

NULL_RPS=""
D_RPS=""
i=1
while [ $i -le "$REPEAT" ]; do
    run null "closed.null.$i  "
    NULL_RPS="$NULL_RPS $(field rps "$LINE")"
    run daemon "closed.daemon.$i"
    D_RPS="$D_RPS $(field rps "$LINE")"
    i=$((i + 1))
done
# shellcheck disable=SC2086
NULL_MED=$(median $NULL_RPS)
# shellcheck disable=SC2086
D_MED=$(median $D_RPS)

run null "open.null       " --rate "$RATE"
NULL_OPEN=$LINE
run daemon "open.daemon     " --rate "$RATE"
D_OPEN=$LINE

AFTER_RSS=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' \
    "/proc/$D_PID/status" 2>/dev/null || echo "?")
kill -0 "$D_PID" 2>/dev/null || die "watchrelay died during the bench"
XLEN=$(redis-cli -s "$TMP/redis.sock" XLEN wr:events 2>/dev/null || echo "?")

RATIO=$(awk -v d="$D_MED" -v n="$NULL_MED" \
    'BEGIN { if (n > 0) printf "%.3f", d / n; else print "0" }')
P50=$(field p50_ms "$D_OPEN")
P99=$(field p99_ms "$D_OPEN")
verdict() { # verdict AWK-CONDITION
    if awk "BEGIN { exit !($1) }"; then echo PASS; else echo MISS; fi
}
V_RATIO=$(verdict "$RATIO >= 0.6")
V_P99=$(verdict "$P99 < 5")
V_RSS=$(verdict "$IDLE_RSS < 8192")

echo
echo "ingest.rps_null=$NULL_MED ingest.rps_daemon=$D_MED" \
    "ingest.ratio=$RATIO (target >= 0.6) $V_RATIO"
echo "ingest.p50_ms_at_$RATE=$P50 ingest.p99_ms_at_$RATE=$P99" \
    "(target < 5) $V_P99" \
    "[null: p50 $(field p50_ms "$NULL_OPEN") p99 $(field p99_ms "$NULL_OPEN")]"
echo "daemon.idle_rss_kb=$IDLE_RSS (target < 8192) $V_RSS" \
    "[anon ${IDLE_ANON:-?}, pss ${IDLE_PSS:-?}; VmRSS after load: $AFTER_RSS]"
echo "daemon.events_in_stream=$XLEN (requests sent to the daemon:" \
    "$((SENT_DAEMON + 1)), answered 2xx in the measured windows: $OK_DAEMON)"

if [ "$BAD" -ne 0 ]; then
    die "$BAD run(s) had errors or non-2xx replies; the figures are not valid"
fi
case $XLEN in
'' | *[!0-9]*) die "cannot read XLEN wr:events" ;;
esac
if [ "$XLEN" -lt "$OK_DAEMON" ] || [ "$XLEN" -gt $((SENT_DAEMON + 1)) ]; then
    die "wr:events holds $XLEN entries, expected $OK_DAEMON..$((SENT_DAEMON + 1))"
fi
if [ "$STRICT" = 1 ] && [ "$V_RATIO$V_P99$V_RSS" != PASSPASSPASS ]; then
    exit 1
fi
exit 0
