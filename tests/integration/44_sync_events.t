# History in event mode, Trakt -> local backup: every Trakt play the backup
# lacks is added with its own date (a play matches at most one within 60 s),
# a new play adds exactly one more, and a run with nothing new writes
# nothing.
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
        trakt => { %{ $t->trakt_provider }, write_interval_ms => 0 },
        local => { dir => "$t->{dir}/state/local" },
    },
    pairs => [ { id => 'tl', source => 'trakt', target => 'local',
                 features => { history => { add => $true, mode => 'event' } } } ],
);
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

my $http = HTTP::Tiny->new(timeout => 10);
sub play {
    my ($tmdb, $at) = @_;
    my $r = $http->request('POST', $t->fake_url('/trakt/sync/history'), {
        headers => { 'Content-Type' => 'application/json', 'trakt-api-version' => '2',
                     'trakt-api-key' => 'fake-client-id',
                     'Authorization' => 'Bearer fake-trakt-access-token' },
        content => qq({"movies":[{"ids":{"tmdb":$tmdb},"watched_at":"$at"}]}) });
    die "trakt: $r->{status}" unless $r->{status} == 201;
}
sub local_plays {
    my ($tmdb) = @_;
    return sort map { $_->{watched_at} }
        grep { ($_->{item}{ids}{tmdb} // 0) == $tmdb } $t->local_items('history');
}

play(603, '2024-01-01T20:00:00.000Z');
play(603, '2025-01-01T20:00:00.000Z');
play(129, '2025-02-01T20:00:00.000Z');
my ($st, $out, $err) = $t->cli('sync', '--pair', 'tl');
is($st, 0, 'first run') or diag "$out$err";
like($out, qr/queued 3 operations/, 'every play is planned') or diag $out;
ok($t->wait_delivered(60), 'delivered') or diag $t->daemon_log;
is_deeply([ local_plays(603) ], [ '2024-01-01T20:00:00Z', '2025-01-01T20:00:00Z' ],
    'both plays of The Matrix, each with its date');

play(603, '2025-06-01T20:00:00.000Z');
($st, $out) = $t->cli('sync', '--pair', 'tl');
like($out, qr/queued 1 operations/, 'only the new play goes') or diag $out;
ok($t->wait_delivered(60), 'delivered');
my @three = local_plays(603);
is(scalar @three, 3, 'the backup has three plays') or diag explain \@three;
($st, $out) = $t->cli('sync', '--pair', 'tl');
like($out, qr/queued 0 operations/, 'nothing new, nothing written') or diag $out;

done_testing;
