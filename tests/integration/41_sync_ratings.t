# Two-way ratings between Trakt and SIMKL: a first run only adds (copies
# each side's ratings to the other, never clears), the newer rated_at wins a
# disagreement and nothing is rewritten afterwards; an item the target never
# accepts ends in the quarantine after 3 runs instead of being retried
# forever, and `quarantine list|show|clear` expose it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;

my $t = WRTest->new;
$t->start_redis;
$t->start_fake('--no-rate-limit');
$t->{serve_args} = [ '--roles', 'ingest,dispatch' ];
my $true = JSON::PP::true;
$t->start_daemon(
    providers => {
        trakt => { %{ $t->trakt_provider }, write_interval_ms => 0 },
        simkl => { %{ $t->simkl_provider }, write_interval_ms => 0 },
    },
    pairs => [
        { id => 'rt', source => 'trakt', target => 'simkl', mode => 'two-way',
          features => { ratings => { add => $true, remove => $true } } },
        { id => 'wq', source => 'trakt', target => 'simkl',
          features => { watchlist => { add => $true } } },
    ],
);
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

my $http = HTTP::Tiny->new(timeout => 10);
my %hdr = (
    trakt => { 'trakt-api-version' => '2', 'trakt-api-key' => 'fake-client-id',
               'Authorization' => 'Bearer fake-trakt-access-token' },
    simkl => { 'simkl-api-key' => 'fake-client-id',
               'Authorization' => 'Bearer fake-simkl-token' },
);
sub api {
    my ($prov, $path, $body) = @_;
    my $r = $http->request('POST', $t->fake_url("/$prov$path"), {
        headers => { 'Content-Type' => 'application/json', %{ $hdr{$prov} } },
        content => JSON::PP->new->encode($body) });
    die "$prov $path: $r->{status} $r->{content}" unless $r->{status} =~ /^2/;
}
sub rate { my ($tmdb, $r, $at) = @_; { movies => [ { ids => { tmdb => $tmdb }, rating => $r, rated_at => $at } ] } }

# Inception (27205): Trakt 6 in January, SIMKL 9 in June: SIMKL is newer.
api('trakt', '/sync/ratings', rate(27205, 6, '2025-01-10T10:00:00.000Z'));
api('simkl', '/sync/ratings', rate(27205, 9, '2025-06-10T10:00:00Z'));
# The Matrix (603) only on Trakt, Spirited Away (129) only on SIMKL.
api('trakt', '/sync/ratings', rate(603, 7, '2025-02-01T10:00:00.000Z'));
api('simkl', '/sync/ratings', rate(129, 8, '2025-03-01T10:00:00Z'));

sub trakt_rating {
    my ($tmdb) = @_;
    my $r = $t->fake('GET', '/_fake/state')->{trakt}{ratings};
    for my $v (ref $r eq 'HASH' ? values %$r : @$r) {
        my $m = $v->{movie} or next;
        return $v->{rating} if ($m->{ids}{tmdb} // 0) == $tmdb;
    }
    return undef;
}
sub simkl_rating {
    my ($tmdb) = @_;
    my $items = $t->fake('GET', '/_fake/state')->{simkl}{items};
    for my $v (ref $items eq 'HASH' ? values %$items : @$items) {
        my $m = $v->{movie} or next;
        return $v->{user_rating} if ($m->{ids}{tmdb} // 0) == $tmdb;
    }
    return undef;
}

my ($st, $out, $err) = $t->cli('sync', '--pair', 'rt');
is($st, 0, 'two-way ratings run') or diag "$out$err";
like($out, qr/queued 3 operations/, 'three writes: one update, two copies') or diag $out;
unlike($out, qr/\bclear\b.*\bgo\b/, 'a first run clears nothing');
ok($t->wait_delivered(60), 'delivered') or diag $t->daemon_log;
is(trakt_rating(27205), 9, 'the newer SIMKL rating won on Trakt');
is(simkl_rating(27205), 9, 'SIMKL kept its rating');
is(simkl_rating(603), 7, 'the Trakt-only rating reached SIMKL');
is(trakt_rating(129), 8, 'the SIMKL-only rating reached Trakt');

($st, $out) = $t->cli('sync', '--pair', 'rt');
like($out, qr/queued 0 operations/, 'a second run rewrites nothing') or diag $out;

# Quarantine: SIMKL refuses every watchlist add of this item.
$t->fake('POST', '/_fake/faults', { provider => 'simkl', method => 'POST',
    path => '/sync/add-to-list', status => 404, count => -1,
    body => { error => 'not_found' } });
api('trakt', '/sync/watchlist', { movies => [ { ids => { tmdb => 603 } } ] });
for my $run (1 .. 3) {
    ($st, $out, $err) = $t->cli('sync', '--pair', 'wq');
    like($out, qr/queued 1 operations/, "run $run plans the add again") or diag "$out$err";
    ok($t->wait_delivered(60), "run $run settled") or diag $t->daemon_log;
}
($st, $out) = $t->cli('quarantine', 'list');
is($st, 0, 'quarantine list');
like($out, qr/wq\s+watchlist\s+simkl\s+movie:tmdb:603\s+not_found/, 'the item is quarantined')
    or diag $out;
($st, $out) = $t->cli('sync', '--pair', 'wq');
like($out, qr/movie:tmdb:603 .*quarantine/, 'a fourth run holds it') or diag $out;
like($out, qr/queued 0 operations/, 'and sends nothing');
($st, $out) = $t->cli('quarantine', 'show', 'movie:tmdb:603');
like($out, qr/"reason":"not_found"/, 'show prints the record') or diag $out;
($st, $out) = $t->cli('quarantine', 'clear', 'movie:tmdb:603');
like($out, qr/cleared 1 quarantined item/, 'clear removes it') or diag $out;
($st, $out) = $t->cli('quarantine', 'list');
like($out, qr/^0 quarantined/m, 'the quarantine is empty') or diag $out;

done_testing;
