# Delivery to the local backup tracker, end to end: webhooks -> events ->
# router (scrobble state machine) -> out:local -> applier -> snapshots.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;
use JSON::PP;

my $t = WRTest->new;
$t->start_redis;
$t->start_daemon(
    providers => { local => { dir => "$t->{dir}/state/local" } },
    routes => [ { from => [qw(plex jellyfin emby tautulli)], to => ['local'],
                  kinds => [qw(scrobble history rating watchlist)] } ],
);
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

sub plays_of {
    my ($key) = @_;
    return grep { $_->{key} eq $key } $t->local_items('history');
}

# A Plex session: play, pause, resume, scrobble (>= 90 %), stop -> one play.
for my $f (qw(episode_play episode_pause episode_resume episode_scrobble_a1_1 episode_stop_no_viewoffset)) {
    my $r = $t->send_fixture('plex', $f);
    is($r->{status}, 200, "plex $f accepted");
}
ok($t->wait_delivered, 'delivered') or diag explain $t->status;
my @plays = plays_of('episode:tmdb:1960512');
is(scalar @plays, 1, 'the Plex session made exactly one play');

# Jellyfin: a completed stop, then the same stop again a second later (a
# client that repeats itself): one watch.
{
    my ($body, $meta) = $t->fixture('jellyfin', 'a2-1-playback-stop-completed-movie');
    my $now = time;
    for my $i (0, 1) {
        my $b = $body;
        my $ts = POSIX::strftime('%Y-%m-%dT%H:%M:%S.0000000Z', gmtime($now + $i));
        $b =~ s/"UtcTimestamp":"[^"]*"/"UtcTimestamp":"$ts"/;
        my $r = $t->post($t->hook_path('jellyfin'), $b, 'Content-Type' => $meta->{content_type});
        is($r->{status}, 200, "jellyfin stop $i accepted");
        is($t->decode($r->{content})->{events}, 1, "jellyfin stop $i is a new event");
    }
    ok($t->wait_delivered, 'delivered');
    is(scalar plays_of('movie:tmdb:329865'), 1, 'a duplicated Jellyfin stop makes one watch');
}

# Emby mark-played becomes a history add at the payload's date.
{
    my $r = $t->send_fixture('emby', 'episode_markplayed_multipart_a3_2');
    is($r->{status}, 200, 'emby markplayed accepted');
    ok($t->wait_delivered, 'delivered');
    my @p = plays_of('episode:tvdb:8603573');
    is(scalar @p, 1, "Emby mark-played became a play") or diag explain [ $t->local_items("history") ], $t->daemon_log;
    is($p[0]{watched_at}, '2025-03-02T21:06:00Z', 'at the time Emby gave');
}

# A Plex rating becomes a rating (7.5 stars -> 8 on 1-10).
{
    my $r = $t->send_fixture('plex', 'movie_rate_half_star');
    is($r->{status}, 200, 'plex rate accepted');
    ok($t->wait_delivered, 'delivered');
    my @ratings = $t->local_items('ratings');
    is(scalar @ratings, 1, 'one rating stored');
    like($ratings[0]{rating}, qr/^\d+$/, 'an integer rating');
}

# Tautulli and Plex reporting the same play (G7): one watch.
{
    my $ts = time;
    my $tt = sprintf('{"source":"tautulli","action":"watched","media_type":"movie","user":"dana",'
        . '"user_id":"48213377","server_id":"s1","rating_key":"10432","grandparent_rating_key":"",'
        . '"title":"Arrival","show_name":"","season":"","episode":"","year":"2016",'
        . '"imdb_id":"tt2543164","tmdb_id":"329865","tvdb_id":"","progress_percent":"91",'
        . '"view_offset_ms":"6300000","duration_ms":"6960000","session_key":"9","ts":"%d"}', $ts);
    my $before = scalar plays_of('movie:tmdb:329865');
    my $r = $t->post($t->hook_path('tautulli'), $tt, 'Content-Type' => 'application/json');
    is($r->{status}, 200, 'tautulli watched accepted');
    ok($t->wait_delivered, 'delivered');
    is(scalar plays_of('movie:tmdb:329865'), $before,
        'a second report of a play finished moments ago adds no watch');
}

my $s = $t->status;
is($s->{targets}{local}{health}, 'ok', 'status: local target healthy');
is($s->{targets}{local}{dead}, 0, 'status: nothing dead-lettered');
cmp_ok($s->{router}{events}, '>=', 8, 'status: the router counts events');
{
    my $bin = WRTest::bin();
    my $cfg = "$t->{dir}/watchrelay.json";
    my $out = `$bin -c $cfg backup list 2>&1`;
    is($? >> 8, 0, 'backup list exits 0');
    like($out, qr/^history\s+v\d{6}\s+\S+\s+\d+ items\s+\(current\)/m, 'lists the current history snapshot');
    like($out, qr/^ratings\s+v000001/m, 'and the ratings snapshot');
    my @before = $t->local_items('history');
    $out = `$bin -c $cfg backup restore v000001 --feature history --dry-run 2>&1`;
    is($? >> 8, 0, 'restore --dry-run exits 0') or diag $out;
    like($out, qr/would restore v000001 \(1 items\)/, 'and says what it would do');
    is(scalar $t->local_items('history'), scalar @before, 'a dry run changes nothing');
    $out = `$bin -c $cfg backup restore 1 --feature history 2>&1`;
    is($? >> 8, 0, 'restore exits 0') or diag $out;
    my ($nv) = $out =~ /as v(\d+)/;
    ok($nv && $nv > 1, "the old content became a new version (v$nv)");
    is(scalar $t->local_items('history'), 1, 'history is back to version 1 (one play)');
    $out = `$bin -c $cfg backup list 2>&1`;
    like($out, qr/^history\s+v000001\s/m, 'the old versions are still there');
    $out = `$bin -c $cfg backup restore v999 2>&1`;
    is($? >> 8, 1, 'an unknown version fails');
    like($out, qr/no feature has version 999/, 'and says so');
    $out = `$bin -c $cfg backup restore 1 --to trakt 2>&1`;
    is($? >> 8, 2, 'restore --to a provider is refused for now');
}
is($t->stop_daemon('TERM') >> 8, 0, 'stops cleanly');

done_testing;
