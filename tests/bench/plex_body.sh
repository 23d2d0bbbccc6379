#!/bin/sh
# Write a Plex webhook body (PROVIDERS.md A1): multipart/form-data with a
# "payload" part (a media.play event shaped like example A1-1) and a "thumb"
# part (~20 KB of JPEG-looking bytes: an SOI/APP0 JFIF header, random data,
# EOI), framed with a curl-style boundary as PMS sends it.
#
#   sh tests/bench/plex_body.sh OUT [VIEWOFFSET]
#
# VIEWOFFSET is the literal text put after "viewOffset": in the JSON; the
# default, @@SEQ@@, is what loadgen --seq-token @@SEQ@@ replaces with a
# zero-padded 7-digit sequence number per request (start it at 1000000 so the
# number has no leading zero and stays valid JSON). Every request is then a
# distinct event. The Content-Type to send is printed on stdout.
set -eu

[ $# -ge 1 ] || { echo "usage: plex_body.sh OUT [VIEWOFFSET]" >&2; exit 2; }
out=$1
offset=${2:-@@SEQ@@}
boundary=------------------------d74496d66958873e

# One line, as PMS sends it. The duration (3 h) keeps every sequence number
# (1000000..9999999 ms) a position inside the item.
json='{"event":"media.play","user":true,"owner":true,'\
'"Account":{"id":48213377,"thumb":"https://plex.tv/users/3f1c9a0be27d5a11/avatar?c=1718035000","title":"dana"},'\
'"Server":{"title":"basement-nas","uuid":"9b2e6f3c1d0a47e88c5b7a21f4d39e6c0b8a1f72"},'\
'"Player":{"local":true,"publicAddress":"203.0.113.24","title":"Living Room Shield","uuid":"a1b2c3d4e5f60718-com-plexapp-android"},'\
'"Metadata":{"librarySectionType":"show","ratingKey":"48211","key":"/library/metadata/48211",'\
'"parentRatingKey":"48190","grandparentRatingKey":"48170",'\
'"guid":"plex://episode/5d9c1275e9d5a1001f4f2b0a","parentGuid":"plex://season/602e6a9f2f39e6002c0b2f11",'\
'"grandparentGuid":"plex://show/5d9c086fe9d5a1001f4d0c45",'\
'"type":"episode","title":"Good News About Hell","grandparentTitle":"Severance","parentTitle":"Season 1",'\
'"librarySectionTitle":"TV Shows","librarySectionID":2,"librarySectionKey":"/library/sections/2",'\
'"index":1,"parentIndex":1,"year":2022,"viewOffset":'"$offset"',"duration":10800000,'\
'"addedAt":1700000000,"updatedAt":1710000000,'\
'"Guid":[{"id":"imdb://tt11650492"},{"id":"tmdb://1960512"},{"id":"tvdb://8603573"}]}}'

{
    printf -- '--%s\r\n' "$boundary"
    printf 'Content-Disposition: form-data; name="payload"\r\n'
    printf 'Content-Type: application/json\r\n\r\n'
    printf '%s\r\n' "$json"
    printf -- '--%s\r\n' "$boundary"
    printf 'Content-Disposition: form-data; name="thumb"; filename="thumb.jpg"\r\n'
    printf 'Content-Type: image/jpeg\r\n\r\n'
    # SOI, APP0 "JFIF\0" v1.1, no density units, 1x1, no thumbnail
    printf '\377\330\377\340\000\020JFIF\000\001\001\000\000\001\000\001\000\000'
    head -c 20480 /dev/urandom
    printf '\377\331\r\n'
    printf -- '--%s--\r\n' "$boundary"
} >"$out"

echo "multipart/form-data; boundary=$boundary"
