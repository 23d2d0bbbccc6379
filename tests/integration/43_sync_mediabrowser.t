# Jellyfin and Emby as sources and targets, through the fakes: Jellyfin's
# played items reach Trakt with their LastPlayedDate (matched by any id);
# Trakt's history reaches Emby as mark-played with Trakt's date, only for
# items in Emby's library (the rest are unresolved, not sent); the Trakt
# watchlist becomes Jellyfin favourites; a Jellyfin un-mark is seen by a
# delta poll and, with removes on, reconciled away on Trakt.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;

my $t = WRTest->new;
$t->start_redis;
$t->start_fake('--no-rate-limit');
my $true = JSON::PP::true;
$t->{serve_args} = [ '--roles', 'ingest,dispatch' ];
$t->start_daemon(
    providers => {
        trakt    => { %{ $t->trakt_provider }, write_interval_ms => 0 },
        jellyfin => { %{ $t->jellyfin_provider }, write_interval_ms => 0 },
        emby     => { %{ $t->emby_provider }, write_interval_ms => 0 },
    },
    pairs => [
        { id => 'jt', source => 'jellyfin', target => 'trakt',
          features => { history => { add => $true, remove => $true } } },
        { id => 'te', source => 'trakt', target => 'emby',
          features => { history => { add => $true } } },
        { id => 'tj', source => 'trakt', target => 'jellyfin',
          features => { watchlist => { add => $true } } },
    ],
);
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

my $jf = $t->fake('POST', '/_fake/media/jellyfin/items', { items => [
    { type => 'movie', title => 'The Matrix', year => 1999, ids => { imdb => 'tt0133093' },
      played => $true, last_played_at => '2025-01-05T20:00:00Z' },
    { type => 'episode', title => 'Good News About Hell', show => { title => 'Severance', ids => { tvdb => 371980 } },
      season => 1, episode => 1, ids => { tvdb => 8603573 },
      played => $true, last_played_at => '2025-02-02T21:00:00Z' },
    { type => 'movie', title => 'Arrival', year => 2016, ids => { tmdb => 329865 } },
] });
$t->fake('POST', '/_fake/media/emby/items', { items => [
    { type => 'movie', title => 'The Matrix', year => 1999, ids => { tmdb => 603 } },
] });
my $jf_matrix = $jf->{items}[0]{id};

sub trakt_plays {
    my ($kind, $id, $v) = @_;
    my $h = $t->fake('GET', '/_fake/state')->{trakt}{history};
    return grep { ($_->{$kind}{ids}{$id} // '') eq $v } @$h;
}
sub lib {
    my ($srv) = @_;
    return @{ $t->fake('GET', "/_fake/media/$srv/items")->{items} };
}

# Jellyfin -> Trakt.
my ($st, $out, $err) = $t->cli('sync', '--pair', 'jt');
is($st, 0, 'jellyfin -> trakt') or diag "$out$err";
ok($t->wait_delivered(60), 'delivered') or diag $t->daemon_log;
my @m = trakt_plays('movie', 'imdb', 'tt0133093');
is(scalar @m, 1, 'The Matrix reached Trakt');
like($m[0]{watched_at} // '', qr/^2025-01-05T20:00:00/, 'with Jellyfin\'s LastPlayedDate');
my @e = trakt_plays('episode', 'tvdb', 8603573);
is(scalar @e, 1, 'the episode reached Trakt by its own tvdb id');
is(scalar(trakt_plays('movie', 'tmdb', 329865)), 0, 'the unplayed Arrival did not');

# Trakt -> Emby: The Matrix is in Emby's library, the episode is not.
($st, $out) = $t->cli('sync', '--pair', 'te');
like($out, qr/emby\s+add\s+movie:\S+\s.*go/, 'The Matrix is planned for Emby') or diag $out;
like($out, qr/not_in_library/, 'the episode Emby lacks is unresolved, not sent') or diag $out;
ok($t->wait_delivered(60), 'delivered') or diag $t->daemon_log;
my ($em) = lib('emby');
ok($em->{played}, 'Emby marked The Matrix played') or diag explain $em;
like($em->{last_played_at} // '', qr/^2025-01-05T20:00:00/, 'with the date from Trakt') or diag explain $em;
($st, $out) = $t->cli('unresolved', 'list');
like($out, qr/te\s+history\s+emby\s+\S+\s+not_found/, 'unresolved list shows it') or diag $out;

# Trakt watchlist -> Jellyfin favourites.
my $http = HTTP::Tiny->new(timeout => 10);
my $r = $http->request('POST', $t->fake_url('/trakt/sync/watchlist'), {
    headers => { 'Content-Type' => 'application/json', 'trakt-api-version' => '2',
                 'trakt-api-key' => 'fake-client-id',
                 'Authorization' => 'Bearer fake-trakt-access-token' },
    content => '{"movies":[{"ids":{"tmdb":329865}}]}' });
is($r->{status}, 201, 'Arrival on the Trakt watchlist');
($st, $out) = $t->cli('sync', '--pair', 'tj');
is($st, 0, 'trakt -> jellyfin watchlist') or diag $out;
ok($t->wait_delivered(60), 'delivered') or diag $t->daemon_log;
my ($arr) = grep { ($_->{title} // '') eq 'Arrival' } lib('jellyfin');
ok($arr->{favorite}, 'Arrival is a Jellyfin favourite') or diag explain $arr;

# A Jellyfin un-mark: the delta sees Played=false and, removes on, the
# feature is reconciled: The Matrix leaves Trakt's history.
$t->fake('POST', '/_fake/media/jellyfin/mark', { id => $jf_matrix, played => JSON::PP::false });
($st, $out) = $t->cli('sync', '--pair', 'jt', '--delta');
is($st, 0, 'delta poll') or diag $out;
like($out, qr/trakt\s+remove\s+movie:\S+.*go/, 'the un-mark becomes a remove on Trakt') or diag $out;
ok($t->wait_delivered(60), 'delivered') or diag $t->daemon_log;
is(scalar(trakt_plays('movie', 'imdb', 'tt0133093')), 0, 'The Matrix left Trakt');
is(scalar(trakt_plays('episode', 'tvdb', 8603573)), 1, 'the episode stayed');

done_testing;
