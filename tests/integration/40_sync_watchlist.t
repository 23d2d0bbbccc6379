# Reconcile of a Trakt -> SIMKL watchlist pair with removes on, through the
# fakes and the daemon's appliers: the first run only adds, a second run
# writes nothing, an empty read while Trakt's activity did not move deletes
# nothing (drop guard), a real removal of 2 is mirrored, a removal of most
# of the list is refused and reported (mass-delete guard) until
# --allow-mass-delete, and --dry-run writes nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;
use Time::HiRes qw(sleep time);

my $t = WRTest->new;
$t->start_redis;
$t->start_fake('--no-rate-limit');
$t->{serve_args} = [ '--roles', 'ingest,dispatch' ];
$t->start_daemon(
    providers => {
        trakt => { %{ $t->trakt_provider }, write_interval_ms => 0 },
        simkl => { %{ $t->simkl_provider }, write_interval_ms => 0 },
    },
    pairs => [ { id => 'tw', source => 'trakt', target => 'simkl', mode => 'one-way',
                 features => { watchlist => { add => JSON::PP::true, remove => JSON::PP::true } } } ],
);
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

$t->fake('POST', '/_fake/catalog', { generate => { movies => 30, tmdb_start => 7000000 } });
my @tmdb = map { 7000000 + $_ } 0 .. 24;

my $http = HTTP::Tiny->new(timeout => 10);
sub trakt_api {
    my ($path, $body) = @_;
    my $r = $http->request('POST', $t->fake_url("/trakt$path"), {
        headers => { 'Content-Type' => 'application/json', 'trakt-api-version' => '2',
                     'trakt-api-key' => 'fake-client-id',
                     'Authorization' => 'Bearer fake-trakt-access-token' },
        content => JSON::PP->new->encode($body) });
    die "trakt $path: $r->{status} $r->{content}" unless $r->{status} =~ /^2/;
}
sub movies { return { movies => [ map { { ids => { tmdb => $_ } } } @_ ] } }

sub simkl_watchlist {
    my $items = $t->fake('GET', '/_fake/state')->{simkl}{items};
    my @all = ref $items eq 'HASH' ? values %$items : @$items;
    return scalar grep { ($_->{status} // '') eq 'plantowatch' } @all;
}

sub sync {
    my @args = @_;
    my ($st, $out, $err) = $t->cli('sync', '--pair', 'tw', @args);
    return ($st, $out . $err);
}

trakt_api('/sync/watchlist', movies(@tmdb));

# 1. First run: 25 adds, nothing else.
my ($st, $out) = sync('--dry-run');
is($st, 0, 'dry run exits 0') or diag $out;
like($out, qr/dry run: 25 to write/, 'the dry run plans 25 adds');
like($out, qr/simkl\s+add\s+movie:tmdb:7000000/, 'and prints each one');
is(simkl_watchlist(), 0, 'a dry run writes nothing');
($st, $out) = sync();
is($st, 0, 'first run') or diag $out;
like($out, qr/queued 25 operations/, '25 adds queued');
ok($t->wait_delivered(60), 'delivered') or diag $t->daemon_log;
is(simkl_watchlist(), 25, 'SIMKL has the 25');

# 2. A second run writes nothing.
($st, $out) = sync();
like($out, qr/queued 0 operations/, 'second run writes nothing') or diag $out;

# 3. Trakt reads empty while its watchlist activity did not move.
$t->fake('POST', '/_fake/faults', { provider => 'trakt', method => 'GET',
    path => '/sync/watchlist', status => 200, body => [], count => -1 });
($st, $out) = sync();
like($out, qr/drop guard: .*suspect/, 'the empty read is suspect') or diag $out;
like($out, qr/queued 0 operations/, 'nothing is deleted');
$t->fake('POST', '/_fake/faults/clear', {});
ok($t->wait_delivered(30), 'settled');
is(simkl_watchlist(), 25, 'SIMKL still has 25');

# 4. A real removal of 2 is mirrored.
trakt_api('/sync/watchlist/remove', movies(@tmdb[0, 1]));
($st, $out) = sync();
like($out, qr/queued 2 operations/, 'two removes queued') or diag $out;
like($out, qr/simkl\s+remove\s+movie:tmdb:7000000 .*go/, 'the removed one is planned');
ok($t->wait_delivered(60), 'delivered') or diag $t->daemon_log;
is(simkl_watchlist(), 23, 'SIMKL lost the 2');

# 5. Removing most of the list is refused whole and reported.
trakt_api('/sync/watchlist/remove', movies(@tmdb[2 .. 21]));
($st, $out) = sync();
like($out, qr/mass-delete guard: refused 20 removes on simkl \(limit 2\)/, 'mass delete refused')
    or diag $out;
like($out, qr/queued 0 operations/, 'nothing queued');
ok($t->wait_delivered(30), 'settled');
is(simkl_watchlist(), 23, 'SIMKL keeps 23');
($st, $out) = sync('--json', '--dry-run');
my ($plan) = map { JSON::PP->new->decode($_) } grep { /"pair"/ } split /\n/, $out;
ok($plan && $plan->{sides}[1]{mass_delete_refused}, 'the refusal is in the JSON plan too')
    or diag $out;

# 6. --allow-mass-delete lifts it for one run.
($st, $out) = sync('--allow-mass-delete');
like($out, qr/queued 20 operations/, 'the 20 removes go with --allow-mass-delete') or diag $out;
ok($t->wait_delivered(90), 'delivered') or diag $t->daemon_log;
is(simkl_watchlist(), 3, 'SIMKL mirrors the 3 left');

# 7. A delta poll reads Trakt's watchlist whole (it has no delta read):
#    an add goes as an add, a removal it cannot apply itself makes it
#    reconcile the feature, where the guards decide.
trakt_api('/sync/watchlist', movies(7000025));
($st, $out) = sync('--delta');
is($st, 0, 'delta poll') or diag $out;
like($out, qr/simkl\s+add\s+movie:tmdb:7000025/, 'the new item is added by the poll') or diag $out;
ok($t->wait_delivered(60), 'delivered');
is(simkl_watchlist(), 4, 'SIMKL has it');
trakt_api('/sync/watchlist/remove', movies(7000022));
($st, $out) = sync('--delta');
like($out, qr/simkl\s+remove\s+movie:tmdb:7000022 .*go/, 'the removal triggers a reconcile')
    or diag $out;
ok($t->wait_delivered(60), 'delivered');
is(simkl_watchlist(), 3, 'SIMKL lost it');
like($t->daemon_full_log . $out, qr/delta/, 'ran as a delta');

# 8. Status shows the pair.
{
    my ($s, $o) = $t->cli('status');
    is($s, 0, 'status');
    like($o, qr/"pair"\s*:\s*"tw"/, 'status lists the pair');
    like($o, qr/"last_run"/, 'with its last run');
}

done_testing;
