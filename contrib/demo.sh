#!/bin/sh
# make demo: the daemon wired to the fake Trakt and SIMKL (tests/fakes) and
# the local backup tracker, and a Plex session played through webhooks:
# play, pause, resume, scrobble, stop. Prints what reached each target.
# Everything runs on loopback in a temp dir and is stopped at the end.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/watchrelay-demo.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$root/$build/tests/fakes/fakeprov" --port 0 --client-id demo-client \
    --client-secret demo-secret --access-token demo-access \
    --refresh-token demo-refresh --simkl-token demo-simkl >"$tmp/fake.out" 2>"$tmp/fake.err" &
pids="$pids $!"
i=0
until grep -q '^ready port=' "$tmp/fake.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "demo: the fake did not start" >&2; exit 1; }
    sleep 0.05
done
fport=$(sed -n 's/^ready port=//p' "$tmp/fake.out")
port=$(( (fport % 20000) + 30000 ))
cat >"$tmp/watchrelay.json" <<JSON
{"listen":"127.0.0.1:$port","state_dir":"$tmp/state","redis":"embedded",
 "log_level":"info",
 "sources":{"plex":{"token":"demo-plex-token"}},
 "providers":{
   "trakt":{"base_url":"http://127.0.0.1:$fport/trakt","client_id":"demo-client",
            "client_secret":"demo-secret","access_token":"demo-access",
            "refresh_token":"demo-refresh"},
   "simkl":{"base_url":"http://127.0.0.1:$fport/simkl","client_id":"demo-client",
            "access_token":"demo-simkl"},
   "local":{"dir":"$tmp/state/local"}},
 "routes":[{"from":["plex"],"to":["trakt","simkl","local"],
            "kinds":["scrobble","history","rating"]}]}
JSON
"$root/$build/watchrelay" -c "$tmp/watchrelay.json" serve >"$tmp/daemon.out" 2>"$tmp/daemon.err" &
pids="$pids $!"
i=0
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 200 ] && { echo "demo: the daemon did not start" >&2; cat "$tmp/daemon.err" >&2; exit 1; }
    sleep 0.05
done
echo "demo: watchrelay on :$port, fake Trakt/SIMKL on :$fport"
fx="$root/tests/fixtures/plex"
for f in episode_play episode_pause episode_resume episode_scrobble_a1_1 episode_stop_no_viewoffset; do
    ct=$(sed -n 's/.*"content_type": *"\([^"]*\)".*/\1/p' "$fx/$f.meta")
    printf 'plex %-28s -> ' "$f"
    curl -s -H "Content-Type: $ct" --data-binary "@$fx/$f.body" \
        "http://127.0.0.1:$port/hooks/plex/demo-plex-token"
    echo
    sleep 1.2
done
sleep 3
echo "--- what the fake providers received (method path status):"
curl -s "http://127.0.0.1:$fport/_fake/requests" | perl -MJSON::PP -0777 -ne 'print "$_->{method} $_->{path} $_->{status}\n" for @{decode_json($_)}' || true
echo "--- watchrelay status:"
"$root/$build/watchrelay" -c "$tmp/watchrelay.json" status
