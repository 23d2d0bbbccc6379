package WRPayload;
# Distinct, valid webhook payloads for load and durability tests: a Tautulli
# pause (recommended template, all strings) whose position carries a sequence
# number, so every payload is a different event with a predictable order.
use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(tautulli_pause);

sub tautulli_pause {
    my ($seq) = @_;
    my $ts = time;
    return sprintf('{"source":"tautulli","action":"pause","media_type":"movie",'
        . '"user":"dana","user_id":"48213377","server_id":"9b2e6f3c1d0a47e88c5b7a21f4d39e6c0b8a1f72",'
        . '"rating_key":"10432","grandparent_rating_key":"","title":"Arrival","show_name":"",'
        . '"season":"","episode":"","year":"2016","imdb_id":"tt2543164","tmdb_id":"329865",'
        . '"tvdb_id":"","progress_percent":"10","view_offset_ms":"%d","duration_ms":"6960000",'
        . '"session_key":"412","ts":"%d"}', 1000 + $seq, $ts);
}

1;
