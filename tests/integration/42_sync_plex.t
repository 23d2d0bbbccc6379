# Plex -> Trakt through the fakes: history adds only the plays Trakt lacks
# (matched by any shared id), keeping Plex's watch dates, and a second run
# writes nothing; Plex ratings reach Trakt as 1-10 and a round trip causes
# no rewrite; a play marked on Plex later reaches Trakt through the
# daemon's poller alone.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;
use POSIX qw(strftime);

my $t = WRTest->new;
$t->start_redis;
$t->start_fake('--no-rate-limit');
my $true = JSON::PP::true;
my %daemon = (
    providers => {
        trakt => { %{ $t->trakt_provider }, write_interval_ms => 0 },
        plex  => { %{ $t->plex_provider }, write_interval_ms => 0 },
    },
    pairs => [ { id => 'pt', source => 'plex', target => 'trakt', interval_s => 5,
                 features => { history => { add => $true }, ratings => { add => $true } } },
               { id => 'tp', source => 'trakt', target => 'plex', interval_s => 3600,
                 reconcile_interval_s => 86400,
                 features => { ratings => { add => $true } } } ],
);
$t->{serve_args} = [ '--roles', 'ingest,dispatch' ];
$t->start_daemon(%daemon);
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

my $lib = $t->fake('POST', '/_fake/media/plex/items', { items => [
    { type => 'movie', title => 'The Matrix', year => 1999, ids => { imdb => 'tt0133093', tmdb => 603 },
      played => $true, play_count => 2, last_played_at => '2025-01-05T20:00:00Z',
      rating => 7.5, rated_at => '2025-01-06T10:00:00Z' },
    { type => 'movie', title => 'Inception', year => 2010, ids => { imdb => 'tt1375666' },
      played => $true, last_played_at => '2025-02-01T21:00:00Z' },
    { type => 'movie', title => 'Spirited Away', year => 2001, ids => { tmdb => 129 },
      played => $true, last_played_at => '2025-03-01T18:30:00Z' },
    { type => 'movie', title => 'Arrival', year => 2016, ids => { tmdb => 329865, imdb => 'tt2543164' } },
] });
my $arrival_id = $lib->{items}[3]{id};
ok($arrival_id, 'the fake Plex library is seeded') or diag explain $lib;

# Trakt already has Inception (by tmdb; Plex knows it only by imdb).
my $http = HTTP::Tiny->new(timeout => 10);
my $r = $http->request('POST', $t->fake_url('/trakt/sync/history'), {
    headers => { 'Content-Type' => 'application/json', 'trakt-api-version' => '2',
                 'trakt-api-key' => 'fake-client-id',
                 'Authorization' => 'Bearer fake-trakt-access-token' },
    content => '{"movies":[{"ids":{"tmdb":27205},"watched_at":"2024-12-01T10:00:00.000Z"}]}' });
is($r->{status}, 201, 'Trakt has a play of Inception');

sub plays {
    my ($tmdb) = @_;
    my $h = $t->fake('GET', '/_fake/state')->{trakt}{history};
    return grep { ($_->{movie}{ids}{tmdb} // 0) == $tmdb } @$h;
}
sub trakt_rating {
    my ($tmdb) = @_;
    my $rr = $t->fake('GET', '/_fake/state')->{trakt}{ratings};
    for my $v (ref $rr eq 'HASH' ? values %$rr : @$rr) {
        return $v->{rating} if ($v->{movie}{ids}{tmdb} // 0) == $tmdb;
    }
    return undef;
}

my ($st, $out, $err) = $t->cli('sync', '--pair', 'pt');
is($st, 0, 'reconcile') or diag "$out$err";
ok($t->wait_delivered(60), 'delivered') or diag $t->daemon_log;
my @m = plays(603);
is(scalar @m, 1, 'one play of The Matrix added (history is collapsed)');
like($m[0]{watched_at} // '', qr/^2025-01-05T20:00:00/, 'at the date Plex watched it');
is(scalar(plays(27205)), 1, 'Inception not added again: matched by imdb');
my @s = plays(129);
like($s[0]{watched_at} // '', qr/^2025-03-01T18:30:00/, 'Spirited Away with its Plex date');
is(scalar(plays(329865)), 0, 'the unwatched Arrival is not sent');
is(trakt_rating(603), 8, 'Plex 7.5 reached Trakt as 8');

($st, $out) = $t->cli('sync', '--pair', 'pt');
like($out, qr/history: .*\n(?:.*\n)*?\s+queued 0 operations/, 'a second history run writes nothing')
    or diag $out;
unlike($out, qr/queued [1-9]/, 'and neither do ratings (8 reads back as 8)') or diag $out;

# The round trip: Trakt -> Plex ratings. The Matrix is 8 on Trakt and 7.5
# on Plex (8 in canonical terms): no rewrite. Arrival, rated 6 on Trakt,
# reaches Plex through its ratingKey.
$r = $http->request('POST', $t->fake_url('/trakt/sync/ratings'), {
    headers => { 'Content-Type' => 'application/json', 'trakt-api-version' => '2',
                 'trakt-api-key' => 'fake-client-id',
                 'Authorization' => 'Bearer fake-trakt-access-token' },
    content => '{"movies":[{"ids":{"tmdb":329865},"rating":6}]}' });
is($r->{status}, 201, 'Trakt rates Arrival 6');
($st, $out) = $t->cli('sync', '--pair', 'tp');
like($out, qr/queued 1 operations/, 'one rating goes to Plex') or diag $out;
unlike($out, qr/movie:tmdb:603/, 'The Matrix is not rewritten (7.5 is 8)') or diag $out;
ok($t->wait_delivered(60), 'delivered') or diag $t->daemon_log;
my ($arr) = grep { $_->{id} eq $arrival_id } @{ $t->fake('GET', '/_fake/media/plex/items')->{items} };
is($arr->{rating} // $arr->{userRating}, 6, 'Plex has Arrival at 6') or diag explain $arr;

# The poller: mark Arrival watched on Plex; the daemon's own polls carry it.
$t->stop_daemon;
$t->{serve_args} = [];
$t->start_daemon(%daemon);
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);
my $now = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime);
$t->fake('POST', '/_fake/media/plex/mark', { id => $arrival_id, played => $true, at => $now });
ok($t->wait_for(sub { scalar(plays(329865)) == 1 }, 60), 'the new Plex play reached Trakt by polling')
    or diag $t->daemon_log;
like($t->daemon_full_log, qr/sync started.*pair=pt kind=delta/, 'through a delta poll');

done_testing;
