# Exactly once in effect at the fake Trakt: a write that lands but whose
# reply is lost, SIGKILL of the daemon at random moments during a burst of
# 200 events, and a Redis restart mid-burst: every event arrives once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WRTest;
use Time::HiRes qw(sleep time);

my $t = WRTest->new;
$t->start_redis(aof => 1);
$t->start_fake;
$t->fake('POST', '/_fake/catalog', { generate => { movies => 400, tmdb_start => 10000000 } });
my %daemon_cfg = (
    providers => { trakt => $t->trakt_provider },
    routes => [ { from => [qw(emby)], to => ['trakt'], kinds => [qw(history)] } ],
    limits => { redis_timeout_ms => 500 },
);
$t->start_daemon(%daemon_cfg);
$t->wait_ready or BAIL_OUT('not ready: ' . $t->daemon_log);

sub markplayed {
    my ($i) = @_;
    my $tmdb = 10000000 + $i;
    return sprintf('{"Title":"x","Date":"2025-03-02T21:%02d:%02d.0000000Z","Event":"item.markplayed",'
        . '"User":{"Name":"dana","Id":"e6a9dd89fd954d689870e7e0e3e72947"},'
        . '"Item":{"Name":"Movie %d","Id":"%d","Type":"Movie","ProductionYear":2016,'
        . '"ProviderIds":{"Tmdb":"%d"}},'
        . '"Server":{"Name":"emby-nas","Id":"f40a5bd0c6b64051bdbed00580fa1118","Version":"4.8.10.0"}}',
        int($i / 60) % 60, $i % 60, $i, $tmdb, $tmdb);
}

sub play_counts {
    my %n;
    for my $h (@{ $t->fake('GET', '/_fake/state')->{trakt}{history} }) {
        my $id = $h->{movie}{ids}{tmdb} // next;
        $n{$id}++;
    }
    return \%n;
}

sub check_once {
    my ($what, @idx) = @_;
    my $n = play_counts();
    my @missing = grep { !$n->{ 10000000 + $_ } } @idx;
    my @double = grep { ($n->{ 10000000 + $_ } // 0) > 1 } @idx;
    is(scalar @missing, 0, "$what: none lost") or diag "missing: @missing[0 .. ($#missing > 9 ? 9 : $#missing)]";
    is(scalar @double, 0, "$what: none doubled") or diag "doubled: @double";
}

# A write that lands at Trakt but whose reply never comes back: the retry
# first reads Trakt's history around the play and does not send it again.
{
    $t->fake('POST', '/_fake/faults',
        { provider => 'trakt', method => 'POST', path => '/sync/history', apply_then_drop => JSON::PP::true, count => 1 });
    is($t->post($t->hook_path('emby'), markplayed(0), 'Content-Type' => 'application/json')->{status}, 200, 'accepted');
    ok($t->wait_for(sub { play_counts()->{10000000} }, 30), 'the play landed') or diag $t->daemon_log;
    ok($t->wait_delivered(40), 'settled');
    check_once('reply lost after the write', 0);
    like($t->daemon_full_log, qr/play already on target/, 'the retry found the play instead of sending it again');
}

# A burst of 200 mark-played webhooks from a child; the daemon is SIGKILLed
# twice at random moments (during the burst and during delivery).
my $path = $t->hook_path('emby');
sub burst {
    my ($from, $to) = @_;
    my $pid = fork // die;
    if ($pid == 0) {
        my $h = HTTP::Tiny->new(timeout => 5);
        for my $i ($from .. $to) {
            for (1 .. 50) {    # a real server retries until it is answered
                my $r = $h->request('POST', $t->url($path),
                    { headers => { 'Content-Type' => 'application/json' }, content => markplayed($i) });
                last if $r->{status} == 200;
                sleep 0.1;
            }
        }
        POSIX::_exit(0);
    }
    return $pid;
}

{
    my $pid = burst(1, 200);
    sleep(0.3 + rand(0.7));
    $t->stop_daemon('KILL');
    $t->start_daemon(%daemon_cfg);
    sleep(1 + rand(2));
    $t->stop_daemon('KILL');
    $t->start_daemon(%daemon_cfg);
    waitpid($pid, 0);
    ok($t->wait_delivered(120), 'the burst was delivered') or diag $t->daemon_log;
    check_once('SIGKILL during a burst of 200', 1 .. 200);
}

# Redis stops mid-burst (the daemon spools) and comes back.
{
    my $pid = burst(201, 300);
    sleep(0.3);
    $t->stop_redis;
    sleep(1);
    $t->start_redis(aof => 1);
    waitpid($pid, 0);
    ok($t->wait_for(sub { ($t->metric('watchrelay_spool_depth') // 1) == 0 }, 30), 'spool drained');
    ok($t->wait_delivered(120), 'delivered after the Redis restart') or diag $t->daemon_log;
    check_once('Redis restart mid-burst', 201 .. 300);
}

# Writes stayed at 1/s throughout.
{
    my @w = grep { $_->{write} } @{ $t->fake('GET', '/_fake/requests?provider=trakt&bodies=0') };
    my $min = 1e9;
    for my $i (1 .. $#w) {
        my $d = $w[$i]{t_ms} - $w[ $i - 1 ]{t_ms};
        $min = $d if $d < $min;
    }
    cmp_ok($min, '>=', 1000, 'never two writes within a second, restarts included');
}

done_testing;
